"""Figures over run records: per backend overall, by source and by document type, and per page.

`summarise` turns `PageRecord`s into the `Summary` written as `summary.json` (what `ocrgate eval diff`
reads back). Text metrics are means over the pages that have text truth; TEDS (`structure`) is a mean
over the pages that have a ground-truth table (`gt_html`); layout regions are totals by block kind over
the pages read; speed is seconds per page of the request, sequential.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field

from ocrgate.evaluate.datasets import PageInput
from ocrgate.evaluate.machine import RunInfo
from ocrgate.evaluate.runner import PageRecord, ScoreOptions


class Aggregate(BaseModel):
    """Figures over a set of pages of one backend; text metrics are means over pages with text truth."""

    pages: int = 0
    ok: int = 0
    failed: int = 0
    cer: float | None = None
    cer_micro: float | None = Field(default=None, description="all edits / all truth characters")
    wer: float | None = None
    f1: float | None = None
    ned: float | None = None
    tests_total: int = 0
    tests_passed: int = 0
    test_pass_rate: float | None = None
    test_pass_rate_by_type: dict[str, float] = Field(default_factory=dict)
    tests_by_type: dict[str, list[int]] = Field(
        default_factory=dict, description="test type -> [passed, total] (the `table` type: table tests)"
    )
    teds: float | None = Field(default=None, description="mean TEDS over the pages with a truth table")
    teds_structure: float | None = Field(default=None, description="mean TEDS-S (structure only), same pages")
    teds_pages: int = Field(default=0, description="pages read that have a truth table")
    block_kinds: dict[str, int] = Field(default_factory=dict, description="layout regions by kind, totals")
    seconds_mean: float | None = Field(default=None, description="mean seconds per page read")
    latency_p50: float | None = None
    latency_p95: float | None = None
    pages_per_second: float | None = None
    failures: dict[str, int] = Field(default_factory=dict, description="cause -> pages")


class BackendSummary(BaseModel):
    overall: Aggregate
    by_source: dict[str, Aggregate] = Field(default_factory=dict)
    by_doc_type: dict[str, Aggregate] = Field(default_factory=dict)


class PageScore(BaseModel):
    """One backend on one page, as the summary keeps it: the fields of its `PageRecord` of the same
    names (`summarise` reads them by name)."""

    backend: str
    page_id: str
    source: str
    doc_type: str = ""
    input: PageInput | None = Field(default=None, description="the file read: page image or PDF")
    text_origin: str | None = Field(default=None, description="engine, text_layer or mixed")
    ok: bool
    cer: float | None = None
    wer: float | None = None
    f1: float | None = None
    ned: float | None = None
    tests_passed: int = 0
    tests_total: int = 0
    test_pass_rate: float | None = None
    teds: float | None = None
    teds_structure: float | None = None
    seconds: float = 0.0


class Summary(BaseModel):
    created_at: float = Field(default_factory=time.time)
    dataset: str = ""
    options: ScoreOptions = Field(default_factory=ScoreOptions)
    run: RunInfo | None = Field(default=None, description="the machine, its load, the page choices")
    sessions: list[RunInfo] = Field(
        default_factory=list, description="every session that read pages of this run folder, oldest first"
    )
    backends: dict[str, BackendSummary] = Field(default_factory=dict)
    pages: list[PageScore] = Field(default_factory=list)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank-with-interpolation percentile (numpy's default 'linear')."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aggregate(records: list[PageRecord]) -> Aggregate:
    ok = [r for r in records if r.ok]
    text = [r for r in ok if r.cer is not None]
    truth_chars = sum(r.truth_chars for r in text)
    by_type: dict[str, list[int]] = {}
    for r in ok:
        for kind, (passed, total) in r.tests_by_type.items():
            counts = by_type.setdefault(kind, [0, 0])
            counts[0] += passed
            counts[1] += total
    tests_total = sum(r.tests_total for r in ok)
    tests_passed = sum(r.tests_passed for r in ok)
    seconds = [r.seconds for r in ok]
    tables = [r for r in ok if r.teds is not None]
    kinds: Counter[str] = Counter()
    for r in ok:
        kinds.update(r.block_kinds)
    return Aggregate(
        pages=len(records),
        ok=len(ok),
        failed=len(records) - len(ok),
        cer=_mean(r.cer for r in text),
        cer_micro=(sum((r.cer or 0) * r.truth_chars for r in text) / truth_chars) if truth_chars else None,
        wer=_mean(r.wer for r in text),
        f1=_mean(r.f1 for r in text),
        ned=_mean(r.ned for r in text),
        tests_total=tests_total,
        tests_passed=tests_passed,
        test_pass_rate=tests_passed / tests_total if tests_total else None,
        test_pass_rate_by_type={k: p / t for k, (p, t) in sorted(by_type.items()) if t},
        tests_by_type=dict(sorted(by_type.items())),
        teds=_mean(r.teds for r in tables),
        teds_structure=_mean(r.teds_structure for r in tables),
        teds_pages=len(tables),
        block_kinds=dict(sorted(kinds.items())),
        seconds_mean=_mean(seconds),
        latency_p50=_percentile(seconds, 0.5),
        latency_p95=_percentile(seconds, 0.95),
        pages_per_second=len(ok) / sum(seconds) if sum(seconds) > 0 else None,
        failures=dict(Counter(r.cause or "unknown" for r in records if not r.ok)),
    )


def _grouped(records: list[PageRecord], attr: str) -> dict[str, Aggregate]:
    groups: dict[str, list[PageRecord]] = {}
    for r in records:
        groups.setdefault(getattr(r, attr), []).append(r)
    return {name: aggregate(group) for name, group in sorted(groups.items())}


def summarise(
    records: Iterable[PageRecord],
    dataset: str = "",
    options: ScoreOptions | None = None,
    run: RunInfo | None = None,
    sessions: list[RunInfo] | None = None,
) -> Summary:
    """Per backend (in first-seen order): overall, by source, by document type; and every page's scores."""
    records = list(records)
    summary = Summary(dataset=dataset, options=options or ScoreOptions(), run=run, sessions=sessions or [])
    for backend in dict.fromkeys(r.backend for r in records):
        mine = [r for r in records if r.backend == backend]
        summary.backends[backend] = BackendSummary(
            overall=aggregate(mine),
            by_source=_grouped(mine, "source"),
            by_doc_type=_grouped(mine, "doc_type"),
        )
    # each page's record, read by this model's field names (`test_pass_rate`: the record's property)
    summary.pages = [PageScore.model_validate(r, from_attributes=True) for r in records]
    return summary
