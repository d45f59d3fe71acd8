"""Text columns of a region of text lines: the gutter between two columns, and lines merged across it.

A *text-column gutter* is a white strip through the whole region (the whitespace-rectangle column
separator of Breuel, "Two geometric algorithms for layout analysis", DAS 2002) with at least
`MIN_COLUMN_ROWS` rows of prose on both sides, i.e. the lines next to the gutter are at least
`PROSE_WIDTH` line heights wide. A strip beside short pieces (an item and its price, a label and
its value, the cells of a table) is no column gutter: those rows are read as rows, left to right.
This is the cue Tesseract's table finder uses to tell table rows from text (a wide gap between
short pieces; Shafait & Smith, "Table detection in heterogeneous documents", DAS 2010).

A gutter may have a few lines in it, up to a quarter of the region's (the fewest that give a gutter
win):
- a padded box reaching in from its own column belongs to that column;
- a line with column text beside it on both sides (a caption, a pull quote) floats: it is read
  after the columns;
- a body-height line reaching `CROSS_REACH` line heights into both columns and in the flow of both
  is two column lines the engine merged: split at the gutter, between its words where it has them,
  else at the space nearest the gutter's proportional place in its text;
- any other line across the gutter (a heading over both columns) spans it: the reading order cuts
  the region horizontally above and below it.
Every threshold is relative to the median line height `h` (page pixels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from ocrgate.line_geometry import bands, height, width
from ocrgate.schema import Box, TextLine

PROSE_WIDTH = 8.0  # median width, in line heights, of the lines on either side of a text-column gutter
MIN_GUTTER = 0.3  # least width of a column gutter, in line heights
MIN_COLUMN_ROWS = 3  # rows of text a column needs on either side of a gutter
CROSS_REACH = 2.0  # a line crosses a gutter when it reaches this many line heights into both sides


@dataclass(frozen=True)
class Cut:
    """A text-column gutter of a region: the white strip x0..x1 and the lines around it.

    `crossing`: lines across the gutter that are two column lines merged by the engine (to split);
    `spanning`: lines across it that belong to neither column (a heading over both columns);
    `floats`: lines in the gutter with column text beside them on both sides (a caption, a pull
    quote), read after the columns.
    """

    x0: float
    x1: float
    left: list[TextLine]
    right: list[TextLine]
    crossing: list[TextLine]
    spanning: list[TextLine]
    floats: list[TextLine]

    @property
    def at(self) -> float:
        return (self.x0 + self.x1) / 2


def _coverage(lines: Sequence[TextLine]) -> list[tuple[float, float, int]]:
    """The x-axis in stretches (x0, x1, how many lines cover it), left to right."""
    xs = sorted({v for ln in lines for v in (ln.bbox[0], ln.bbox[2])})
    index = {x: i for i, x in enumerate(xs)}
    change = [0] * len(xs)
    for ln in lines:
        change[index[ln.bbox[0]]] += 1
        change[index[ln.bbox[2]]] -= 1
    stretches: list[tuple[float, float, int]] = []
    covered = 0
    for i in range(len(xs) - 1):
        covered += change[i]
        stretches.append((xs[i], xs[i + 1], covered))
    return stretches


def _low_runs(
    stretches: list[tuple[float, float, int]], tolerance: int, min_gap: float
) -> list[tuple[float, float]]:
    """Strips at least `min_gap` wide covered by at most `tolerance` lines, with more on both sides."""
    runs: list[tuple[float, float]] = []
    start: float | None = None
    seen_text = False  # a stretch covered by more than `tolerance` lines lies left of here
    for x0, _, covered in stretches:
        if covered > tolerance:
            if start is not None and seen_text and x0 - start >= min_gap:
                runs.append((start, x0))
            start, seen_text = None, True
        elif start is None:
            start = x0
    return runs


def _prose(lines: Sequence[TextLine], h: float, left: bool) -> bool:
    """Whether the lines along one side of a gutter are text-column lines: taking in each band the
    line nearest the gutter, at least `MIN_COLUMN_ROWS` of them, their median width `PROSE_WIDTH`
    line heights or more (next to a table's gutter stand short cells: a price, a type, a value)."""
    nearest = [
        max(band, key=lambda ln: ln.bbox[2]) if left else min(band, key=lambda ln: ln.bbox[0])
        for band in bands(lines)
    ]
    return len(nearest) >= MIN_COLUMN_ROWS and median(width(ln) for ln in nearest) >= PROSE_WIDTH * h


def _vertical_distance(a: TextLine, b: TextLine) -> float:
    return max(0.0, max(a.bbox[1], b.bbox[1]) - min(a.bbox[3], b.bbox[3]))


def _beside(line: TextLine, others: list[TextLine], left: bool, h: float) -> bool:
    """A text-column line (`PROSE_WIDTH` line heights or wider) stands beside `line`, wholly to its
    left (or right), overlapping it vertically."""
    for other in others:
        if (
            min(line.bbox[3], other.bbox[3]) > max(line.bbox[1], other.bbox[1])
            and (other.bbox[2] <= line.bbox[0] if left else other.bbox[0] >= line.bbox[2])
            and width(other) >= PROSE_WIDTH * h
        ):
            return True
    return False


def _merged(
    line: TextLine, sides: tuple[list[TextLine], list[TextLine]], across: list[TextLine], h: float
) -> bool:
    """Two column lines the engine read as one: body height, in the flow of both columns (at most
    half a line height from a line of each) and with no other line across the gutter next to it
    (the lines of a full-width paragraph are not merged ones)."""
    if height(line) > 1.3 * h:
        return False
    if any(other is not line and _vertical_distance(line, other) <= h / 2 for other in across):
        return False
    return all(any(_vertical_distance(line, other) <= h / 2 for other in side) for side in sides)


def _cut_at(lines: Sequence[TextLine], g0: float, g1: float, h: float) -> Cut | None:
    """The lines around the strip g0..g1; None unless both sides are prose."""
    at = (g0 + g1) / 2
    wide = PROSE_WIDTH * h
    if (
        sum(width(ln) >= wide and ln.bbox[0] + ln.bbox[2] < 2 * at for ln in lines) < 2
        or sum(width(ln) >= wide and ln.bbox[0] + ln.bbox[2] >= 2 * at for ln in lines) < 2
    ):
        return None  # fewer than two wide lines on a side: no prose there (cheap test first)
    left = [ln for ln in lines if ln.bbox[2] <= g0]
    right = [ln for ln in lines if ln.bbox[0] >= g1]
    across: list[TextLine] = []
    floats: list[TextLine] = []
    for line in lines:
        x0, _, x1, _ = line.bbox
        if x1 <= g0 or x0 >= g1:
            continue
        if _beside(line, left, True, h) and _beside(line, right, False, h):
            floats.append(line)
        elif min(g0 - x0, x1 - g1) >= CROSS_REACH * h:
            across.append(line)
        else:  # a padded box that reaches into the gutter from its own column
            (left if (x0 + x1) / 2 < at else right).append(line)
    if not (_prose(left, h, left=True) and _prose(right, h, left=False)):
        return None
    merged = [ln for ln in across if _merged(ln, (left, right), across, h)]
    spanning = [ln for ln in across if not any(ln is m for m in merged)]
    return Cut(g0, g1, left, right, merged, spanning, floats)


def column_cut(lines: Sequence[TextLine], h: float) -> Cut | None:
    """The best text-column gutter through the region, or None.

    Candidates are white strips first, then strips that ever more lines reach into (padded boxes,
    merged lines, captions, a heading over both columns), up to a quarter of the lines. The first
    tolerance that gives a gutter with prose on both sides wins; among its gutters, one without
    spanning lines beats one with them, then the wider.
    """
    stretches = _coverage(lines)
    most = len(lines) // 4
    tolerance = 0
    while tolerance <= most:
        best: Cut | None = None
        for g0, g1 in _low_runs(stretches, tolerance, MIN_GUTTER * h):
            cut = _cut_at(lines, g0, g1, h)
            if cut is not None and (
                best is None or (len(cut.spanning), best.x0 - best.x1) < (len(best.spanning), cut.x0 - cut.x1)
            ):
                best = cut
        if best is not None:
            return best
        tolerance = tolerance + 1 if tolerance < 4 else tolerance * 3 // 2
    return None


def split_line(line: TextLine, cut: Cut) -> list[TextLine]:
    """A merged line in two at the gutter: between words where it has them, else at the space nearest
    the gutter's proportional position in its text. One piece when it cannot be split."""
    x0, y0, x1, y1 = line.bbox
    if line.words:
        left = [w for w in line.words if (w.bbox[0] + w.bbox[2]) / 2 < cut.at]
        right = [w for w in line.words if (w.bbox[0] + w.bbox[2]) / 2 >= cut.at]
        if not left or not right:
            return [line]
        return [_piece(line, left), _piece(line, right)]
    text = line.text
    spaces = [i for i, c in enumerate(text) if c == " " and text[:i].strip() and text[i:].strip()]
    if not spaces or x1 <= x0:
        return [line]
    # the text is laid out on the ink either side of the gutter, not across it
    ink_left, ink_right = max(0.0, cut.x0 - x0), max(0.0, x1 - cut.x1)
    share = ink_left / (ink_left + ink_right) if ink_left + ink_right else 0.5
    index = min(spaces, key=lambda i: abs(i - share * len(text)))
    first, second = text[:index].strip(), text[index:].strip()
    return [
        line.model_copy(update={"text": first, "bbox": Box(x0, y0, min(cut.x0, x1), y1), "words": []}),
        line.model_copy(update={"text": second, "bbox": Box(max(cut.x1, x0), y0, x1, y1), "words": []}),
    ]


def _piece(line: TextLine, words: list) -> TextLine:
    boxes = [w.bbox for w in words]
    bbox = Box(min(b[0] for b in boxes), line.bbox[1], max(b[2] for b in boxes), line.bbox[3])
    return line.model_copy(update={"text": " ".join(w.text for w in words), "bbox": bbox, "words": words})


def split_at(cut: Cut) -> tuple[list[TextLine], list[TextLine]]:
    """The lines of either column: each side's own, and the merged lines across the gutter split
    (`split_line`; one that cannot be split goes to the side of its centre)."""
    left, right = list(cut.left), list(cut.right)
    for line in cut.crossing:
        pieces = split_line(line, cut)
        if len(pieces) == 2:
            left.append(pieces[0])
            right.append(pieces[1])
        elif (line.bbox[0] + line.bbox[2]) / 2 < cut.at:
            left.append(line)
        else:
            right.append(line)
    return left, right
