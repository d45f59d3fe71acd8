"""Compare two evaluation runs (their `summary.json`): metric deltas per backend and pages that moved."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from ocrgate.evaluate.summary import PageScore, Summary

#: metrics where lower is better; for the others higher is better
LOWER_IS_BETTER = {"cer", "cer_micro", "wer", "ned", "latency_p50", "latency_p95", "failed"}
METRICS = (
    "cer",
    "cer_micro",
    "wer",
    "f1",
    "ned",
    "test_pass_rate",
    "latency_p50",
    "latency_p95",
    "pages_per_second",
    "failed",
)
PAGE_THRESHOLD = 0.01


class MetricDelta(BaseModel):
    backend: str
    group: str
    metric: str
    a: float | None
    b: float | None
    delta: float | None
    better: bool | None = Field(default=None, description="None when unchanged or not comparable")


class PageChange(BaseModel):
    backend: str
    page_id: str
    metric: str
    a: float | None
    b: float | None
    better: bool


class RunDiff(BaseModel):
    metrics: list[MetricDelta] = Field(default_factory=list)
    better_pages: list[PageChange] = Field(default_factory=list)
    worse_pages: list[PageChange] = Field(default_factory=list)
    only_in_a: list[str] = Field(default_factory=list, description="backends")
    only_in_b: list[str] = Field(default_factory=list)


def load_summary(run: Path) -> Summary:
    path = run / "summary.json" if run.is_dir() else run
    return Summary.model_validate_json(path.read_text(encoding="utf-8"))


def _better(metric: str, a: float, b: float) -> bool:
    return b < a if metric in LOWER_IS_BETTER else b > a


def _page_metric(score: PageScore) -> tuple[str, float | None]:
    if not score.ok:
        return "cer", None
    if score.cer is not None:
        return "cer", score.cer
    return "test_pass_rate", score.test_pass_rate


def diff_summaries(a: Summary, b: Summary, threshold: float = PAGE_THRESHOLD) -> RunDiff:
    result = RunDiff(
        only_in_a=[n for n in a.backends if n not in b.backends],
        only_in_b=[n for n in b.backends if n not in a.backends],
    )
    for name in (n for n in a.backends if n in b.backends):
        old, new = a.backends[name], b.backends[name]
        groups = [("all", old.overall, new.overall)]
        groups += [(g, old.by_source[g], new.by_source[g]) for g in old.by_source if g in new.by_source]
        for group, x, y in groups:
            for metric in METRICS:
                va, vb = getattr(x, metric), getattr(y, metric)
                delta = vb - va if va is not None and vb is not None else None
                better = None if not delta else _better(metric, va, vb)
                result.metrics.append(
                    MetricDelta(
                        backend=name, group=group, metric=metric, a=va, b=vb, delta=delta, better=better
                    )
                )
    old_pages = {(p.backend, p.page_id): p for p in a.pages}
    for page in b.pages:
        before = old_pages.get((page.backend, page.page_id))
        if before is None:
            continue
        (metric, va), (_, vb) = _page_metric(before), _page_metric(page)
        if va is None and vb is None:
            continue
        if va is None or vb is None:
            change = PageChange(
                backend=page.backend, page_id=page.page_id, metric=metric, a=va, b=vb, better=va is None
            )
        elif abs(vb - va) >= threshold:
            change = PageChange(
                backend=page.backend,
                page_id=page.page_id,
                metric=metric,
                a=va,
                b=vb,
                better=_better(metric, va, vb),
            )
        else:
            continue
        (result.better_pages if change.better else result.worse_pages).append(change)
    return result
