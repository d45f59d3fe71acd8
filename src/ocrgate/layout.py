"""Reading order and paragraphs from text lines: a recursive XY-cut, then gap-based grouping.

Pure geometry, no engine: backends that only give text lines (with boxes in page pixels) hand them
to `paragraph_blocks` and get `Block`s in reading order. Every threshold is relative to the median
line height `h`, so the same rules work at 72 dpi and at 300 dpi.

The cut: a region of more than one text row splits into columns at vertical white gaps at least
`col_gap * h` wide that run through its whole height; failing that, into rows at horizontal gaps
(measured on the middle half of each line box: engines pad boxes, so neighbouring lines overlap).
Consecutive rows whose union keeps the same column gutters stay together, so two columns with
aligned lines are read column by column rather than row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from statistics import mean, median

from ocrgate.render.markdown import lines_markdown
from ocrgate.schema import Block, Box, TextLine, Word


@dataclass(frozen=True)
class Line:
    """One recognised line of text with its box in page pixels."""

    text: str
    bbox: Box
    score: float | None = None
    words: tuple[Word, ...] = ()  # its words, where the engine gives them

    def text_line(self) -> TextLine:
        return TextLine(text=self.text.strip(), bbox=self.bbox, score=self.score, words=list(self.words))

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]

    @property
    def core(self) -> tuple[float, float]:
        """The middle half of the box's vertical extent (robust to padded, overlapping boxes)."""
        quarter = self.height / 4
        return self.bbox[1] + quarter, self.bbox[3] - quarter

    @property
    def y_center(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2


def _cuts(intervals: list[tuple[float, float]], min_gap: float) -> list[float]:
    """Midpoints of the gaps wider than `min_gap` between the merged intervals."""
    cuts: list[float] = []
    end: float | None = None
    for start, stop in sorted(intervals):
        if end is not None and start - end > min_gap:
            cuts.append((start + end) / 2)
        end = stop if end is None else max(end, stop)
    return cuts


def _column_cuts(lines: list[Line], col_gap: float) -> list[float]:
    return _cuts([(ln.bbox[0], ln.bbox[2]) for ln in lines], col_gap)


def _split(lines: list[Line], cuts: list[float], key: str) -> list[list[Line]]:
    """Lines into the pieces between consecutive cut positions, along x or along y (box centres)."""
    pieces: list[list[Line]] = [[] for _ in range(len(cuts) + 1)]
    for ln in lines:
        centre = (ln.bbox[0] + ln.bbox[2]) / 2 if key == "x" else sum(ln.core) / 2
        pieces[sum(centre > c for c in cuts)].append(ln)
    return [p for p in pieces if p]


def _row_sorted(lines: list[Line], h: float) -> list[Line]:
    """Top to bottom; lines whose centres lie within half a line height count as one row, left first."""
    rows: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: ln.y_center):
        if rows and ln.y_center - rows[-1][0].y_center < h / 2:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return [ln for row in rows for ln in sorted(row, key=lambda ln: ln.bbox[0])]


def _xy_cut(lines: list[Line], h: float, col_gap: float) -> list[list[Line]]:
    """Regions in reading order, each a list of lines in reading order."""
    bands = _split(lines, _cuts([ln.core for ln in lines], 0.0), "y")
    if len(bands) == 1:  # one text row, perhaps in pieces: left to right
        return [_row_sorted(lines, h)]
    columns = _column_cuts(lines, col_gap)
    if columns:
        return [r for col in _split(lines, columns, "x") for r in _xy_cut(col, h, col_gap)]
    # Keep consecutive bands together while their union keeps the same number of column gutters
    # (a short last line of one column joins it; a heading across the gutters does not).
    groups: list[tuple[list[Line], int, int]] = []  # lines, gutters, bands
    for band in bands:
        band_cuts = len(_column_cuts(band, col_gap))
        if groups:
            last, last_cuts, n_bands = groups[-1]
            most = max(last_cuts, band_cuts)
            if most and len(_column_cuts(last + band, col_gap)) == most:
                groups[-1] = (last + band, most, n_bands + 1)
                continue
        groups.append((band, band_cuts, 1))
    regions: list[list[Line]] = []
    flowing: list[Line] = []  # single-column rows: one region, split into paragraphs later
    for group, n_cuts, n_bands in groups:
        if n_cuts and n_bands > 1:
            if flowing:
                regions.append(flowing)
                flowing = []
            regions.extend(_xy_cut(group, h, col_gap))
        else:
            flowing.extend(_row_sorted(group, h))
    if flowing:
        regions.append(flowing)
    return regions


def median_height(lines: list[Line]) -> float:
    heights = [ln.height for ln in lines if ln.height > 0]
    return median(heights) if heights else 1.0


def reading_order(lines: list[Line], col_gap: float = 0.5) -> list[list[Line]]:
    """Regions (columns, rows) in reading order; `col_gap` is the least gutter in line heights."""
    lines = [ln for ln in lines if ln.text.strip()]
    if not lines:
        return []
    h = median_height(lines)
    return _xy_cut(lines, h, col_gap * h)


def _same_row(a: Line, b: Line) -> bool:
    """b continues a on the same text line (a line split by the engine at a wide space)."""
    (a0, a1), (b0, b1) = a.core, b.core
    return min(a1, b1) > max(a0, b0) and b.bbox[0] >= a.bbox[2] - a.height / 2


def _new_paragraph(prev: Line, line: Line, h: float, para_gap: float) -> bool:
    if line.bbox[1] - prev.bbox[3] > para_gap * h:
        return True
    if line.bbox[0] >= prev.bbox[2] or line.bbox[2] <= prev.bbox[0]:
        return True  # no horizontal overlap: another region
    tall, short = max(prev.height, line.height), min(prev.height, line.height)
    return short > 0 and tall / short > 1.6  # a heading next to body text


def paragraphs(lines: list[Line], para_gap: float = 0.8, col_gap: float = 0.5) -> list[list[Line]]:
    """Lines grouped into paragraphs, in reading order.

    A paragraph ends at a region boundary, where the white gap to the next line exceeds
    `para_gap` line heights, where the next line does not overlap it horizontally, or where the
    line height jumps (heading / body).
    """
    h = median_height([ln for ln in lines if ln.text.strip()])
    result: list[list[Line]] = []
    for region in reading_order(lines, col_gap):
        current: list[Line] = [region[0]]
        for line in region[1:]:
            prev = current[-1]
            if _same_row(prev, line) or not _new_paragraph(prev, line, h, para_gap):
                current.append(line)
            else:
                result.append(current)
                current = [line]
        result.append(current)
    return result


def paragraph_text(lines: list[Line]) -> str:
    """The lines as block markdown (`lines_markdown`); pieces of one text line joined by a space."""
    text = lines[0].text.strip()
    for prev, line in pairwise(lines):
        text += (" " if _same_row(prev, line) else "\n") + line.text.strip()
    return lines_markdown(text.split("\n"))


def paragraph_blocks(lines: list[Line], para_gap: float = 0.8, col_gap: float = 0.5) -> list[Block]:
    """Text blocks, one per paragraph in reading order: joined text, union box, mean line score."""
    blocks: list[Block] = []
    for para in paragraphs(lines, para_gap, col_gap):
        scores = [ln.score for ln in para if ln.score is not None]
        blocks.append(
            Block(
                kind="text",
                text=paragraph_text(para),
                bbox=Box.union(ln.bbox for ln in para),
                score=mean(scores) if scores else None,
                lines=[ln.text_line() for ln in para],
            )
        )
    return blocks
