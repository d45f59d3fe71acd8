"""Born-digital PDFs through their text layer: pages/s and CER, against OCR of the same pages in the run.

Every `docling_pdf` page of ../shared/eval whose manifest entry names a PDF goes through the in-process
flow (`ocrgate.inprocess.recognize`, the RapidOCR backend, `boxes=none`) twice, interleaved page by page:
`text_layer=auto` (the default: the layer where it is reliable, the engine on pictures it misses) and
`text_layer=never` (the engine on every page). Reported: pages/s of each (one process, pages one after
another, the PDF's opening and rasterising included), the ratio, and each one's mean CER against the
page's truth (case-folded, white space collapsed, as `ocrgate eval` scores).

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


def _pages(quick: bool) -> list[dict[str, Any]]:
    lines = (EVAL_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    pages = [e for e in entries if e["source"] == "docling_pdf" and e.get("pdf") and e.get("gt_text")]
    return pages[:4] if quick else pages


def run(args: Any) -> Report:
    from ocrgate.backends.rapidocr import RapidOCRBackend
    from ocrgate.documents import open_document
    from ocrgate.evaluate import metrics
    from ocrgate.inprocess import recognize

    backend = RapidOCRBackend()
    backend.load()
    pages = _pages(args.quick)
    seconds: dict[str, list[float]] = {"auto": [], "never": []}
    cers: dict[str, list[float]] = {"auto": [], "never": []}
    engine_pages = 0
    for entry in pages:
        data = (EVAL_DIR / entry["pdf"]).read_bytes()
        truth = metrics.normalise((EVAL_DIR / entry["gt_text"]).read_text(encoding="utf-8"), markdown=True)
        for mode in ("auto", "never"):
            started = time.perf_counter()
            document = open_document(data, entry["pdf"])
            try:
                response = recognize(document, backend, {}, boxes="none", text_layer=mode)  # type: ignore[arg-type]
            finally:
                document.close()
            seconds[mode].append(time.perf_counter() - started)
            page = response.pages[min(len(response.pages), entry.get("pdf_page") or 1) - 1]
            cers[mode].append(metrics.cer(metrics.normalise(page.markdown, markdown=True), truth))
            if mode == "auto" and any(b.origin == "engine" for b in page.blocks):
                engine_pages += 1
    rate = {mode: len(pages) / sum(seconds[mode]) for mode in seconds}
    cer = {mode: statistics.mean(values) for mode, values in cers.items()}
    info = machine()
    ok_rate, ok_cer = rate["auto"] >= TARGET_PAGES_PER_S, cer["auto"] <= TARGET_CER
    report = Report("text_layer", "Born-digital PDFs through their text layer (docling_pdf)")
    report.data = {
        "machine": info,
        "pages": len(pages),
        "pages_with_engine_reads": engine_pages,
        "pages_per_s": rate,
        "speedup": rate["auto"] / rate["never"],
        "mean_cer": cer,
        "targets": {
            "pages_per_s": {"value": rate["auto"], "target_at_least": TARGET_PAGES_PER_S, "meets": ok_rate},
            "cer": {"value": cer["auto"], "target_at_most": TARGET_CER, "meets": ok_cer},
        },
    }
    report.lines = [
        f"Machine: {machine_line(info)}. {len(pages)} pages, each read both ways in turn; "
        f"{engine_pages} of them had pictures the layer does not cover, read by the engine.",
        "",
        *table(
            ["text_layer", "pages/s", "mean CER", "target"],
            [
                [
                    "auto (default)",
                    rate["auto"],
                    cer["auto"],
                    f">= {TARGET_PAGES_PER_S:g} pages/s, CER <= 0.02",
                ],
                ["never (OCR every page)", rate["never"], cer["never"], ""],
            ],
        ),
        f"Through the layer: {verdict(ok_rate)} the speed target, {verdict(ok_cer)} the CER target; "
        f"{rate['auto'] / rate['never']:.1f}x the pages/s of OCR.",
    ]
    return report


if __name__ == "__main__":
    raise SystemExit(main_for(run, base_parser(__doc__.splitlines()[0])))
