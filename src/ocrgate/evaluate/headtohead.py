"""Which backend read each page best: the per-page head-to-head and the tally of wins.

The rule (stated in the report): on a page with text truth the lowest CER wins, CERs equal to
`TIE_DIGITS` decimals (as shown) go to the higher word-bag F1, and equal F1 too is a tie; on a page
scored by olmOCR-Bench tests the highest pass rate wins, equal rates tie. A backend that failed on the
page never wins; a page no backend read, or one without truth, has no winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from ocrgate.evaluate.summary import PageScore, Summary

TIE_DIGITS = 3
TIE = "tie"

Verdict = Literal["won", "tie", "all failed", "no truth", "one backend"]


class HeadToHead(BaseModel):
    """One page: every backend's scores and who won."""

    page_id: str
    source: str
    doc_type: str
    scores: dict[str, PageScore] = Field(description="backend -> its scores on this page")
    metric: Literal["cer", "tests"] | None = Field(default=None, description="what decided")
    verdict: Verdict
    winners: list[str] = Field(default_factory=list, description="the winner, or the tied backends")


def _key(score: PageScore, metric: str) -> tuple[float, float]:
    """Sort key, smaller is better."""
    if metric == "cer":
        return round(score.cer or 0.0, TIE_DIGITS), -round(score.f1 or 0.0, TIE_DIGITS)
    return -round(score.test_pass_rate or 0.0, TIE_DIGITS), 0.0


def judge(scores: dict[str, PageScore], source: str, doc_type: str, page_id: str) -> HeadToHead:
    """The head-to-head of one page's scores (every backend that ran on it)."""
    ok = {name: s for name, s in scores.items() if s.ok}
    verdict: Verdict
    metric: Literal["cer", "tests"] | None = None
    winners: list[str] = []
    if not ok:
        verdict = "all failed"
    elif all(s.cer is not None for s in ok.values()):
        metric = "cer"
    elif all(s.test_pass_rate is not None for s in ok.values()):
        metric = "tests"
    if metric is None and ok:
        verdict = "no truth"
    elif metric is not None:
        best = min(_key(s, metric) for s in ok.values())
        winners = [name for name, s in ok.items() if _key(s, metric) == best]
        verdict = "one backend" if len(scores) < 2 else ("tie" if len(winners) > 1 else "won")
    return HeadToHead(
        page_id=page_id,
        source=source,
        doc_type=doc_type,
        scores=scores,
        metric=metric,
        verdict=verdict,
        winners=winners,
    )


def head_to_head(summary: Summary) -> list[HeadToHead]:
    """Every page of the summary (in its order), judged."""
    pages: dict[str, dict[str, PageScore]] = {}
    for score in summary.pages:
        pages.setdefault(score.page_id, {})[score.backend] = score
    result = []
    for page_id, scores in pages.items():
        first = next(iter(scores.values()))
        result.append(judge(scores, first.source, first.doc_type, page_id))
    return result


def wins(rows: Sequence[HeadToHead], backends: Sequence[str]) -> dict[str, int]:
    """Pages won per backend, plus `tie` (pages tied) for the rows given."""
    tally = dict.fromkeys([*backends, TIE], 0)
    for row in rows:
        if row.verdict == "won":
            tally[row.winners[0]] = tally.get(row.winners[0], 0) + 1
        elif row.verdict == "tie":
            tally[TIE] += 1
    return tally
