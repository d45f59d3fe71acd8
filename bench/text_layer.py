"""Born-digital PDFs through their text layer: pages/s and CER, against OCR of the same pages in the run.

Every `docling_pdf` page of ../shared/eval whose manifest entry names a PDF goes through the in-process
flow (`ocrgate.inprocess.recognize`, the RapidOCR backend, `boxes=none`) twice, interleaved page by page:
`text_layer=auto` (the default: the layer where it is reliable, the engine on pictures it misses) and
`text_layer=never` (the engine on every page). Reported: pages/s of each (one process, pages one after
another, the PDF's opening and rasterising included), the ratio, and each one's mean CER and word-bag
F1 against the page's truth (case-folded, white space collapsed, as `ocrgate eval` scores).

The `auto` figures are given for all pages and, apart, for the pages the layer serves alone (no
picture to OCR: what "through the text layer" costs) and for the pages whose pictures the engine reads
too (what OCR costs there). The layer-alone CER is also given without the pages in
`TRUTH_OUT_OF_ORDER`: pages whose truth, the PDF's own text as poppler extracted it, is not in reading
order (../shared/eval/README.md, "Quirks"); their word-bag F1 shows the words are read all the same.
`tests/test_textlayer.py` asserts the layer-alone figures.

Targets (issue "The default never reads worse than its engine"): CER <= 0.02 and >= 20 pages/s on the
2-core build machine through the text layer.

    python -m bench.text_layer [--quick] [--out bench/results]
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from bench.common import EVAL_DIR, Report, base_parser, machine, machine_line, main_for, table, verdict

TARGET_PAGES_PER_S = 20.0
TARGET_CER = 0.02
#: manifest ids whose truth interleaves columns (read in the truth file: "panel appoint-" and "ments)"
#: of one column have a question of the other column between them)
TRUTH_OUT_OF_ORDER = {
    "docling_table_mislabeled_as_picture_p1": "poppler's text interleaves the page's two columns",
}


def docling_pages(quick: bool = False) -> list[dict[str, Any]]:
    """The manifest entries of docling_pdf pages with a PDF and a page-text truth (the first 4: `quick`)."""
    lines = (EVAL_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    pages = [e for e in entries if e["source"] == "docling_pdf" and e.get("pdf") and e.get("gt_text")]
    return pages[:4] if quick else pages


def read_page(entry: dict[str, Any], mode: str, backend: Any) -> dict[str, Any]:
    """One page read with `text_layer=mode`: seconds (opening included), CER, F1, whether OCR ran."""
    from ocrgate.documents import open_document
    from ocrgate.evaluate import metrics
    from ocrgate.inprocess import recognize

    data = (EVAL_DIR / entry["pdf"]).read_bytes()
    truth = metrics.normalise((EVAL_DIR / entry["gt_text"]).read_text(encoding="utf-8"), markdown=True)
    started = time.perf_counter()
    document = open_document(data, entry["pdf"])
    try:
        response = recognize(document, backend, {}, boxes="none", text_layer=mode)  # type: ignore[arg-type]
    finally:
        document.close()
    seconds = time.perf_counter() - started
    page = response.pages[min(len(response.pages), entry.get("pdf_page") or 1) - 1]
    text = metrics.normalise(page.markdown, markdown=True)
    return {
        "id": entry["id"],
        "seconds": seconds,
        "cer": metrics.cer(text, truth),
        "f1": metrics.word_bag_f1(text, truth),
        # the engine was asked (its pictures read), whether or not what it read was kept
        "engine_read": response.timings.ocr > 0,
    }


def _group(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Pages, pages/s (pages one after another), mean CER and mean F1 of `records`; None when empty."""
    if not records:
        return {"pages": 0, "pages_per_s": None, "mean_cer": None, "mean_f1": None}
    return {
        "pages": len(records),
        "pages_per_s": len(records) / sum(r["seconds"] for r in records),
        "mean_cer": statistics.mean(r["cer"] for r in records),
        "mean_f1": statistics.mean(r["f1"] for r in records),
    }


def run(args: Any) -> Report:
    from ocrgate.backends.rapidocr import RapidOCRBackend

    backend = RapidOCRBackend()
    backend.load()
    records: dict[str, list[dict[str, Any]]] = {"auto": [], "never": []}
    for entry in docling_pages(args.quick):
        for mode in ("auto", "never"):
            records[mode].append(read_page(entry, mode, backend))
    auto = records["auto"]
    alone = [r for r in auto if not r["engine_read"]]
    groups = {
        "auto": _group(auto),
        "never": _group(records["never"]),
        "auto_layer_alone": _group(alone),
        "auto_layer_alone_truth_in_order": _group([r for r in alone if r["id"] not in TRUTH_OUT_OF_ORDER]),
        "auto_with_pictures_ocred": _group([r for r in auto if r["engine_read"]]),
    }
    rate, cer = groups["auto"]["pages_per_s"], groups["auto"]["mean_cer"]
    layer = groups["auto_layer_alone"]
    fair = groups["auto_layer_alone_truth_in_order"]
    ok = {
        "all_pages": (rate >= TARGET_PAGES_PER_S, cer <= TARGET_CER),
        "layer_alone": (
            (layer["pages_per_s"] or 0) >= TARGET_PAGES_PER_S,
            fair["mean_cer"] is not None and fair["mean_cer"] <= TARGET_CER,
        ),
    }
    report = Report("text_layer", "Born-digital PDFs through their text layer (docling_pdf)")
    report.data = {
        "machine": machine(),
        "groups": groups,
        "speedup": rate / groups["never"]["pages_per_s"],
        "truth_out_of_order": {
            key: {"why": why, "records": [r for r in auto if r["id"] == key]}
            for key, why in TRUTH_OUT_OF_ORDER.items()
        },
        "pages": records,
        "targets": {
            scope: {
                "pages_per_s": {"target_at_least": TARGET_PAGES_PER_S, "meets": fast},
                "cer": {"target_at_most": TARGET_CER, "meets": exact},
            }
            for scope, (fast, exact) in ok.items()
        },
    }
    names = {
        "auto": "auto (default), all pages",
        "auto_layer_alone": "auto, pages the layer serves alone",
        "auto_layer_alone_truth_in_order": "the same, without truths out of reading order",
        "auto_with_pictures_ocred": "auto, pages with pictures read by the engine",
        "never": "never (OCR every page)",
    }
    report.lines = [
        f"Machine: {machine_line(report.data['machine'])}. {len(auto)} pages, each read both ways in turn.",
        "",
        *table(
            ["text_layer", "pages", "pages/s", "mean CER", "mean F1"],
            [
                [names[key], g["pages"], g["pages_per_s"], g["mean_cer"], g["mean_f1"]]
                for key in names
                if (g := groups[key])["pages"]
            ],
        ),
        f"Targets >= {TARGET_PAGES_PER_S:g} pages/s and CER <= {TARGET_CER:g}. All pages: "
        f"{verdict(ok['all_pages'][0])} the speed target, {verdict(ok['all_pages'][1])} the CER target. "
        f"Pages the layer serves alone: {verdict(ok['layer_alone'][0])} the speed target, "
        f"{verdict(ok['layer_alone'][1])} the CER target (truths in reading order). "
        f"All pages: {report.data['speedup']:.1f}x the pages/s of OCR.",
        "",
        *(
            f"Truth out of reading order: {r['id']} ({TRUTH_OUT_OF_ORDER[r['id']]}): "
            f"CER {r['cer']:.3f}, F1 {r['f1']:.3f}."
            for r in auto
            if r["id"] in TRUTH_OUT_OF_ORDER
        ),
    ]
    return report


if __name__ == "__main__":
    raise SystemExit(main_for(run, base_parser(__doc__.splitlines()[0])))
