"""What ocrgate's reading order costs next to the engine, per scanned page. Target: the default within
1.1x of the raw engine's time per page.

Every scanned page of ../shared/eval (receipts, forms, tables, tesseract_test: page images) through
RapidOCR and Tesseract (where installed), measured side by side in one run:
- whole call: `ocr_page` with `reading_order=layout` (the default) and with `reading_order=engine`
  (the engine's own line order, no reading-order step), alternating, `--rounds` times each; the
  ratio of their medians per page;
- the step alone: the engine's own seconds (`ocr_seconds`) and the seconds `paragraph_blocks` takes
  on the same lines in either order; ratio (engine + layout) / (engine + engine order). The whole
  call's ratio carries the engine's run-to-run noise; this one does not.

    python -m bench.reading_order [--quick] [--rounds 3] [--out bench/results]
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from PIL import Image

from bench.common import EVAL_DIR, Report, base_parser, machine, machine_line, main_for, table, verdict
from ocrgate.backends import registry
from ocrgate.documents import PageImage
from ocrgate.layout import paragraph_blocks

SOURCES = ("receipts", "forms", "tables", "tesseract_test")
TARGET = 1.1


def pages(quick: bool) -> list[tuple[str, PageImage]]:
    entries = [json.loads(line) for line in (EVAL_DIR / "manifest.jsonl").read_text().splitlines() if line]
    chosen = [e for e in entries if e["source"] in SOURCES and e.get("image")]
    if quick:
        chosen = [next(e for e in chosen if e["source"] == s) for s in SOURCES]
    result = []
    for entry in chosen:
        with Image.open(EVAL_DIR / entry["image"]) as image:
            result.append((entry["id"], PageImage(index=0, image=image.convert("RGB"))))
    return result


def measure_page(engine: Any, page: PageImage, rounds: int) -> dict[str, float]:
    layout, own = engine.parse_options({}), engine.parse_options({"reading_order": "engine"})
    calls: dict[str, list[float]] = {"layout": [], "engine": []}
    engine_s: list[float] = []
    for _ in range(rounds):
        for name, options in (("layout", layout), ("engine", own)):
            t0 = time.perf_counter()
            result = engine.ocr_page(page, options)
            calls[name].append(time.perf_counter() - t0)
            engine_s.append(result.ocr_seconds)
            if name == "engine":
                lines = [ln for block in result.blocks for ln in block.lines]
    step: dict[str, float] = {}
    for order in ("layout", "engine"):
        t0 = time.perf_counter()
        for _ in range(10):
            paragraph_blocks(lines, order=order)
        step[order] = (time.perf_counter() - t0) / 10
    ocr = statistics.median(engine_s)
    return {
        "lines": len(lines),
        "engine_s": ocr,
        "layout_ms": step["layout"] * 1000,
        "engine_order_ms": step["engine"] * 1000,
        "step_ratio": (ocr + step["layout"]) / (ocr + step["engine"]),
        "call_layout_s": statistics.median(calls["layout"]),
        "call_engine_s": statistics.median(calls["engine"]),
        "call_ratio": statistics.median(calls["layout"]) / statistics.median(calls["engine"]),
    }


def run(args: Any) -> Report:
    rounds = 1 if args.quick else args.rounds
    chosen = pages(args.quick)
    data: dict[str, Any] = {"machine": machine(), "rounds": rounds, "target_ratio": TARGET, "engines": {}}
    lines = [machine_line(data["machine"]), ""]
    for name in ("rapidocr", "tesseract"):
        cls = registry.get(name)
        if cls.availability():
            lines.append(f"{name}: not available here ({cls.availability()})")
            continue
        engine = registry.create(name)
        engine.load()
        per_page = {page_id: measure_page(engine, page, rounds) for page_id, page in chosen}
        engine.close()
        worst = max(p["step_ratio"] for p in per_page.values())
        summary = {
            "pages": len(per_page),
            "step_ratio_median": statistics.median(p["step_ratio"] for p in per_page.values()),
            "step_ratio_max": worst,
            "layout_ms_max": max(p["layout_ms"] for p in per_page.values()),
            "call_ratio_median": statistics.median(p["call_ratio"] for p in per_page.values()),
            "meets": worst <= TARGET,
        }
        data["engines"][name] = {"summary": summary, "pages": per_page}
        lines += [f"### {name}", ""]
        lines += table(
            ["page", "lines", "engine s", "layout ms", "engine order ms", "step ratio", "call ratio"],
            [
                [
                    pid,
                    p["lines"],
                    p["engine_s"],
                    p["layout_ms"],
                    p["engine_order_ms"],
                    p["step_ratio"],
                    p["call_ratio"],
                ]
                for pid, p in per_page.items()
            ],
        )
        lines.append(
            f"step ratio median {summary['step_ratio_median']:.3f}, worst {worst:.3f} "
            f"(target <= {TARGET}: {verdict(summary['meets'])}); whole-call ratio median "
            f"{summary['call_ratio_median']:.3f}; "
            f"reading order at most {summary['layout_ms_max']:.1f} ms a page"
        )
        lines.append("")
    return Report("reading_order", "Reading order next to the engine, per scanned page", data, lines)


def parser() -> Any:
    p = base_parser(__doc__ or "")
    p.add_argument("--rounds", type=int, default=3, help="whole calls per page and order")
    return p


if __name__ == "__main__":
    raise SystemExit(main_for(run, parser()))
