"""From run records to `summary.json`, a self-contained `report.html` and an OmniDocBench-style export.

The figures are `summary.summarise`'s, the HTML is `report_html.render_html`'s; the names they had
here (`Summary`, `PageScore`, `Aggregate`, `summarise`, `render_html`, ...) are kept importable.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ocrgate.evaluate.datasets import EvalPage
from ocrgate.evaluate.machine import RunInfo
from ocrgate.evaluate.report_html import render_html
from ocrgate.evaluate.runner import PageRecord, ScoreOptions
from ocrgate.evaluate.summary import Aggregate, BackendSummary, PageScore, Summary, aggregate, summarise

__all__ = [
    "Aggregate",
    "BackendSummary",
    "PageScore",
    "Summary",
    "aggregate",
    "export_omnidocbench",
    "render_html",
    "summarise",
    "write_report",
]


def export_omnidocbench(records: Iterable[PageRecord], pages: dict[str, EvalPage], out: Path) -> Path:
    """`out/omnidocbench/<backend>/<image stem>.md`: the layout OmniDocBench's end-to-end scorer reads."""
    root = out / "omnidocbench"
    for r in records:
        page = pages.get(r.page_id)
        if not r.ok or page is None:
            continue
        folder = root / r.backend
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{page.input_path.stem}.md").write_text(r.markdown, encoding="utf-8")
    return root


def write_report(
    records: Iterable[PageRecord],
    pages: list[EvalPage],
    out: Path,
    dataset: str = "",
    options: ScoreOptions | None = None,
    run: RunInfo | None = None,
    sessions: list[RunInfo] | None = None,
) -> Summary:
    """`summary.json`, `report.html` and the OmniDocBench export, for the records of the given pages.

    `run` (the machine, its load, the page choices: `machine.start_run(...).finish(n)`) and
    `sessions` (every session that read pages into `out`: `machine.read_sessions`) are stated in both;
    without them the report says only what the records hold.
    """
    by_id = {p.id: p for p in pages}
    records = [r for r in records if r.page_id in by_id]
    summary = summarise(records, dataset, options, run, sessions)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    (out / "report.html").write_text(render_html(summary, records, by_id), encoding="utf-8")
    export_omnidocbench(records, by_id, out)
    return summary
