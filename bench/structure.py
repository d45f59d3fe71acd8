"""The structure stages on the evaluation pages: accuracy, orientation and time per page.

1. Tables source (../shared/eval/tables, 12 PubTabNet tables, 49 table tests): RapidOCR's lines (the
   in-process backend's `raw` output) + `table_html` over the whole image: mean TEDS and TEDS-S against
   `gt_html`, share of table tests passed. Targets: mean TEDS >= 0.80, >= 60% of the tests.
2. olmOCR-Bench sample: layout regions, each table region through `table_html`, the page's tables as
   markdown against its table tests. Target: > 0 passed.
3. Time per page, layout then tables (every table region of the page; 0 when it has none), wall and CPU
   seconds of this process, over docling_pdf, olmocr_bench_sample, tesseract_test and tables pages.
   Target: layout + tables <= 1.0 s per page at p50 on a 2-core machine.
4. Orientation: every manifest page turned by 0/90/180/270: the model's top class alone, the text
   lines' votes alone (`--votes`: about 1.5 s of CPU a page), and `detect_orientation` (the model,
   checked by the votes when it says the page is turned): pages turned right, left as they were, turned
   wrong.

    python -m bench.structure [--quick] [--votes] [--out DIR]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from statistics import mean
from typing import Any

from PIL import Image

from bench.common import (
    EVAL_DIR,
    Report,
    base_parser,
    latency_ms,
    machine,
    machine_line,
    main_for,
    table,
    verdict,
)
from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import PageImage
from ocrgate.evaluate.metrics import check_table
from ocrgate.evaluate.teds import teds
from ocrgate.schema import TextLine as Line
from ocrgate.structure import orientation, regions, tables

TIMED_SOURCES = ("docling_pdf", "olmocr_bench_sample", "tesseract_test", "tables")


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def _lines(backend: RapidOCRBackend, image: Image.Image) -> list[Line]:
    raw = backend.ocr_page(PageImage(index=0, image=image), backend.parse_options({})).raw
    lines: list[Line] = []
    for item in raw:
        xs, ys = [p[0] for p in item["box"]], [p[1] for p in item["box"]]
        box = (
            max(0.0, min(xs)),
            max(0.0, min(ys)),
            min(float(image.width), max(xs)),
            min(float(image.height), max(ys)),
        )
        if item["text"].strip() and box[2] > box[0] and box[3] > box[1]:
            lines.append(Line(text=item["text"], bbox=box, score=item["score"]))
    return lines


def _tests(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [t for t in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if t["type"] == "table"]


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def run(args: Any) -> Report:
    info = machine()
    manifest = [json.loads(x) for x in (EVAL_DIR / "manifest.jsonl").read_text().splitlines() if x.strip()]
    if args.quick:
        manifest = [e for e in manifest if e["source"] in ("tables", "docling_pdf")][:8]
    backend = RapidOCRBackend()
    backend.load()
    regions.load(), tables.load(), orientation.load()

    # 1 + 3: tables source, and time per page of layout and tables
    teds_scores, teds_s, tests_passed, tests_total = [], [], 0, 0
    layout_wall, layout_cpu, tables_wall, tables_cpu, both_wall, both_cpu = [], [], [], [], [], []
    olmocr_passed = olmocr_total = 0
    per_page: list[dict[str, Any]] = []
    for entry in (e for e in manifest if e["source"] in TIMED_SOURCES):
        image = _open(EVAL_DIR / entry["image"])
        lines = _lines(backend, image)
        found, lw, lc = _timed(lambda image=image: regions.detect_regions(image))
        tw = tc = 0.0
        page_tables = []
        for region in (r for r in found if r.kind == "table"):
            result, w, c = _timed(lambda r=region, i=image, ls=lines: tables.table_html(i, r.bbox, ls))
            tw, tc = tw + w, tc + c
            if result is not None:
                page_tables.append(result)
        layout_wall.append(lw), layout_cpu.append(lc), tables_wall.append(tw), tables_cpu.append(tc)
        both_wall.append(lw + tw), both_cpu.append(lc + tc)
        row = {
            "id": entry["id"],
            "regions": len(found),
            "tables": len(page_tables),
            "layout_s": lw,
            "tables_s": tw,
        }
        if entry["source"] == "tables":
            whole = tables.table_html(image, (0, 0, image.width, image.height), lines)
            html = whole.html if whole else ""
            score = teds(html, (EVAL_DIR / entry["gt_html"]).read_text(encoding="utf-8"))
            teds_scores.append(score)
            teds_s.append(teds(html, (EVAL_DIR / entry["gt_html"]).read_text(encoding="utf-8"), True))
            page_tests = _tests(EVAL_DIR / entry["gt_tests"])
            ok = sum(check_table(t, whole.markdown if whole else "")[0] for t in page_tests)
            tests_passed, tests_total = tests_passed + ok, tests_total + len(page_tests)
            row.update(teds=score, tests=f"{ok}/{len(page_tests)}")
        elif entry["source"] == "olmocr_bench_sample":
            page_tests = _tests(EVAL_DIR / entry["gt_tests"]) if entry.get("gt_tests") else []
            markdown = "\n\n".join(t.markdown for t in page_tables)
            ok = sum(check_table(t, markdown)[0] for t in page_tests)
            olmocr_passed, olmocr_total = olmocr_passed + ok, olmocr_total + len(page_tests)
            if page_tests:
                row.update(tests=f"{ok}/{len(page_tests)}")
        per_page.append(row)

    # 4: orientation
    outcomes: dict[str, dict[str, int]] = {
        k: {"right": 0, "left_as_is": 0, "wrong": 0} for k in ("model", "votes", "detect_orientation")
    }
    orientation_cpu: list[float] = []
    for entry in manifest:
        page = _open(EVAL_DIR / entry["image"])
        for ccw in (0, 90, 180, 270):
            turned = page.rotate(ccw, expand=True)
            truth = (360 - ccw) % 360
            angle, _ = orientation.model_orientation(turned)
            found, _, cpu = _timed(lambda turned=turned: orientation.detect_orientation(turned))
            orientation_cpu.append(cpu)
            answers = {"model": angle, "detect_orientation": found.angle if found.confident else 0}
            if args.votes:
                votes = orientation.line_votes(turned)
                answers["votes"] = votes[0] if votes else 0
            for name, answer in answers.items():
                kind = "right" if answer == truth else ("left_as_is" if answer == 0 else "wrong")
                outcomes[name][kind] += 1

    data = {
        "machine": info,
        "tables_source": {
            "mean_teds": mean(teds_scores) if teds_scores else None,
            "mean_teds_structure": mean(teds_s) if teds_s else None,
            "tests_passed": tests_passed,
            "tests_total": tests_total,
        },
        "olmocr_table_tests": {"passed": olmocr_passed, "total": olmocr_total},
        "layout_ms": {"wall": latency_ms(layout_wall), "cpu": latency_ms(layout_cpu)},
        "tables_ms": {"wall": latency_ms(tables_wall), "cpu": latency_ms(tables_cpu)},
        "layout_plus_tables_ms": {"wall": latency_ms(both_wall), "cpu": latency_ms(both_cpu)},
        "orientation": outcomes,
        "orientation_ms_cpu": latency_ms(orientation_cpu),
        "pages": per_page,
    }
    ts = data["tables_source"]
    share = tests_passed / tests_total if tests_total else 0.0
    p50_wall = data["layout_plus_tables_ms"]["wall"].get("p50", float("nan"))
    p50_cpu = data["layout_plus_tables_ms"]["cpu"].get("p50", float("nan"))
    lines_out = [
        machine_line(info),
        "",
        *table(
            ["measure", "value", "target", "verdict"],
            [
                ["tables: mean TEDS", ts["mean_teds"], ">= 0.80", verdict((ts["mean_teds"] or 0) >= 0.8)],
                ["tables: mean TEDS-S (structure)", ts["mean_teds_structure"], "", ""],
                [
                    "tables: table tests passed",
                    f"{tests_passed}/{tests_total}",
                    ">= 60%",
                    verdict(share >= 0.6),
                ],
                [
                    "olmOCR sample: table tests passed",
                    f"{olmocr_passed}/{olmocr_total}",
                    "> 0",
                    verdict(olmocr_passed > 0),
                ],
                ["layout + tables per page p50 (wall, ms)", p50_wall, "<= 1000", verdict(p50_wall <= 1000)],
                ["layout + tables per page p50 (CPU, ms)", p50_cpu, "", ""],
            ],
        ),
        *table(
            ["stage", "pages", "wall p50 ms", "wall p90 ms", "CPU p50 ms", "CPU p90 ms"],
            [
                [name, d["wall"]["n"], d["wall"]["p50"], d["wall"]["p90"], d["cpu"]["p50"], d["cpu"]["p90"]]
                for name, d in (
                    ("layout", data["layout_ms"]),
                    ("tables", data["tables_ms"]),
                    ("layout + tables", data["layout_plus_tables_ms"]),
                )
            ],
        ),
        *table(
            ["orientation (pages x 4 turns)", "turned right", "left as they were", "turned wrong"],
            [
                [name, o["right"], o["left_as_is"], o["wrong"]]
                for name, o in outcomes.items()
                if sum(o.values())
            ],
        ),
    ]
    return Report(
        name="structure", title="Structure stages: tables, layout, orientation", data=data, lines=lines_out
    )


def main() -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--votes", action="store_true", help="also score the text lines' votes alone")
    return main_for(run, parser)


if __name__ == "__main__":
    raise SystemExit(main())
