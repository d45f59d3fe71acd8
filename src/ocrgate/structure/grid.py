"""Whether a page's text lines are set as one table: the cue for a table the layout model misses.

The layout model (trained on whole pages) often sees no table in an image that is only a table (a table
cut out of a page, a screenshot of one): it calls it a figure, a title or nothing. Its text lines tell:
short cells (a median of at most `MAX_WORDS` words a line) in rows, and a column gutter (a vertical line
through no text) with text on both sides in at least `MIN_SEPARATED` of the rows. Prose in columns has
long lines; receipts and forms have a header, totals and labels across any gutter (measured on
../shared/eval with RapidOCR's lines: the best gutter separates 0.71 to 1.0 of the rows of the table
crops, at most 0.48 of a receipt's and 0.37 of a form's).

Only for a page on which the layout model found no table (`structure.arrange`).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from ocrgate.reading_order import rows
from ocrgate.schema import TextLine

MIN_ROWS = 3  # rows a table has at least
MAX_WORDS = 3.0  # median words a cell (a line) at most
MIN_SEPARATED = 0.6  # share of rows with text on both sides of the best column gutter


def separated_share(lines: Sequence[TextLine], h: float) -> float:
    """The largest share of rows that one vertical line through no text has text on both sides in.

    Candidates lie a quarter line height right of each line's end, inside the text's width; a row is
    separated there when none of its lines crosses it and it has a line on each side."""
    table_rows = rows(lines, h)
    left, right = min(ln.bbox[0] for ln in lines), max(ln.bbox[2] for ln in lines)
    best = 0.0
    for x in sorted({ln.bbox[2] + h / 4 for ln in lines}):
        if not left + h < x < right - h:
            continue
        separated = sum(
            1
            for row in table_rows
            if not any(ln.bbox[0] < x < ln.bbox[2] for ln in row)
            and any(ln.bbox[2] <= x for ln in row)
            and any(ln.bbox[0] >= x for ln in row)
        )
        best = max(best, separated / len(table_rows))
    return best


def is_table(lines: Sequence[TextLine], h: float) -> bool:
    """Whether the lines (boxes in page pixels; `h` their median height) are set as one table."""
    if len(rows(lines, h)) < MIN_ROWS:
        return False
    if median(len(ln.text.split()) for ln in lines) > MAX_WORDS:
        return False
    return separated_share(lines, h) >= MIN_SEPARATED
