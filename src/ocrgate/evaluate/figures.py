"""The figures the report and the terminal table show per group, their direction, and the best marks.

Direction: CER, CER micro, WER, NED, failures and seconds per page are better lower; word-bag F1,
the olmOCR-Bench pass rate and TEDS (tables) are better higher. The best value of a column among the
backends is the one that is best as shown (rounded to the column's digits); every backend that has it is
marked, and a column where all backends show the same value, or only one has a value, marks none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ocrgate.evaluate.summary import Aggregate


@dataclass(frozen=True)
class Figure:
    """One column: its label, the `Aggregate` field it shows, and which way is better."""

    label: str
    field: str
    lower_is_better: bool | None  # None: not a score (page counts)
    digits: int = 3

    def value(self, a: Aggregate) -> float | None:
        value = getattr(a, self.field)
        return None if value is None else float(value)

    def text(self, a: Aggregate, counts: bool = True) -> str:
        """The value as shown; the test pass rate with passed/total when `counts`."""
        value = self.value(a)
        if value is None:
            return "–"
        if self.field == "test_pass_rate":
            rate = f"{value:.{self.digits}f}"
            return f"{rate} ({a.tests_passed}/{a.tests_total})" if counts else rate
        return f"{value:.{self.digits}f}" if self.digits else str(int(value))

    @property
    def arrow(self) -> str:
        return "" if self.lower_is_better is None else ("↓" if self.lower_is_better else "↑")


FIGURES = {
    "pages": Figure("pages", "pages", None, 0),
    "failed": Figure("failed", "failed", True, 0),
    "cer": Figure("CER", "cer", True),
    "cer_micro": Figure("CER micro", "cer_micro", True),
    "wer": Figure("WER", "wer", True),
    "f1": Figure("F1", "f1", False),
    "ned": Figure("NED", "ned", True),
    "tests": Figure("tests", "test_pass_rate", False),
    "teds": Figure("TEDS", "teds", False),
    "seconds": Figure("s/page", "seconds_mean", True, 2),
    "p95": Figure("p95 s", "latency_p95", True, 2),
}

#: a group with fewer pages than this is flagged: one page there is a large share of every mean
SMALL_GROUP = 5

DIRECTIONS = (
    "CER, WER, NED, failed and seconds per page: lower is better (↓); "
    "F1, olmOCR-Bench tests passed and TEDS: higher is better (↑)"
)


def best(figure: Figure, aggregates: Sequence[Aggregate]) -> set[int]:
    """Positions in `aggregates` holding the column's best value as shown (see module docstring)."""
    if figure.lower_is_better is None:
        return set()
    shown = [None if (v := figure.value(a)) is None else round(v, figure.digits) for a in aggregates]
    present = [v for v in shown if v is not None]
    if len(present) < 2 or len(set(present)) == 1:
        return set()
    target = min(present) if figure.lower_is_better else max(present)
    return {i for i, v in enumerate(shown) if v == target}
