"""Reading order of a page's text lines: recursive XY-cut that cuts only at text-column gutters.

Pure geometry on the engine's line boxes (page pixels); every threshold is relative to the median
line height `h`, so the same rules hold at 72 dpi and at 300 dpi. A page of a few hundred lines
takes milliseconds.

Method: recursive XY-cut (Nagy & Seth, "Hierarchical representation of optically scanned
documents", ICPR 1984; Ha, Haralick & Phillips, "Recursive X-Y cut using bounding boxes of connected
components", ICDAR 1995) on line boxes, cutting vertically only at a *text-column gutter*
(`text_columns.column_cut`: a white strip through the whole region with prose on both sides; a
strip beside short pieces, as in a table, is none). A region with a gutter is read column by column,
lines the engine merged across the gutter split in two (`text_columns.split_at`), captions and pull
quotes in the gutter after the columns; a few lines across the gutter (headings over both columns)
cut the region horizontally above and below them.
Without a gutter through the whole region, the region is cut into horizontal bands at white rows;
runs of bands whose union has a gutter are read column by column, the other bands as rows. At page
level a first or last band set off by `HEADER_GAP` line heights of white (a running header, a page
footer) is its own region, first or last. Rows: lines whose centres lie within half a line height,
left to right; a box taller than `TALL` line heights keeps its place in the engine's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from ocrgate.line_geometry import bands, height, median_height
from ocrgate.schema import TextLine
from ocrgate.text_columns import MIN_COLUMN_ROWS, column_cut, split_at

TALL = 1.5  # lines taller than this many line heights have no clear row (see `rows`)
HEADER_GAP = 1.5  # white space, in line heights, that sets a first/last band apart as header/footer
MAX_SPANNING_SHARE = 0.1  # most lines across a gutter, as a share of the region, read as headings

Row = list[TextLine]
Region = list[Row]


def _y_centre(line: TextLine) -> float:
    return (line.bbox[1] + line.bbox[3]) / 2


def rows(lines: Sequence[TextLine], h: float, rank: dict[int, int] | None = None) -> list[Row]:
    """Top to bottom; lines whose centres lie within half a line height share a row, read left first.

    A line taller than `TALL` line heights (a smudge, a drop cap, boxes the engine drew over several
    lines) has no clear row: it comes right after the row of the line the engine read just before
    it (`rank`: id(line) -> place in the engine's order) where that row is beside it, else by its
    first text line (its top plus half a line height).
    """
    rank = rank or {}
    tall = [ln for ln in lines if height(ln) > TALL * h and id(ln) in rank]
    tall_ids = {id(ln) for ln in tall}
    result: list[Row] = []
    for line in sorted((ln for ln in lines if id(ln) not in tall_ids), key=_y_centre):
        if result and _y_centre(line) - _y_centre(result[-1][0]) < h / 2:
            result[-1].append(line)
        else:
            result.append([line])
    result = [sorted(row, key=lambda ln: ln.bbox[0]) for row in result]
    for line in sorted(tall, key=lambda ln: rank[id(ln)]):
        before = [
            (rank[id(other)], i)
            for i, row in enumerate(result)
            for other in row
            if id(other) in rank and rank[id(other)] < rank[id(line)]
        ]
        top, bottom = line.bbox[1] - h, line.bbox[3] + h
        if before and top <= _y_centre(result[max(before)[1]][0]) <= bottom:
            at = max(before)[1] + 1
        else:  # by its first text line
            at = sum(_y_centre(row[0]) < line.bbox[1] + h / 2 for row in result)
        result.insert(at, [line])
    return result


@dataclass(frozen=True)
class _Page:
    h: float  # the median line height
    rank: dict[int, int]  # id(line) -> its place in the engine's order


def _xy_cut(lines: list[TextLine], page: _Page, top: bool = False) -> list[Region]:
    """Regions in reading order; each a list of rows in reading order."""
    h = page.h
    band_list = bands(lines)
    head: list[Region] = []
    foot: list[Region] = []
    if top and len(band_list) >= 3:  # a running header or a page footer, set off by white space
        if _gap_below(band_list[0], band_list[1]) >= HEADER_GAP * h:
            head = [rows(band_list.pop(0), h, page.rank)]
        if _gap_below(band_list[-2], band_list[-1]) >= HEADER_GAP * h:
            foot = [rows(band_list.pop(), h, page.rank)]
        lines = [ln for band in band_list for ln in band]
    return [*head, *_cut_region(lines, band_list, page), *foot]


def _cut_region(lines: list[TextLine], band_list: list[list[TextLine]], page: _Page) -> list[Region]:
    h = page.h
    cut = column_cut(lines, h)
    if cut is not None and not cut.spanning:
        left, right = split_at(cut)
        floats = [rows(cut.floats, h, page.rank)] if cut.floats else []
        return [*_xy_cut(left, page), *_xy_cut(right, page), *floats]
    if len(band_list) == 1:
        return [rows(lines, h, page.rank)]
    if cut is not None and len(cut.spanning) <= max(2, len(lines) * MAX_SPANNING_SHARE):
        # a few headings across the columns: cut the region above and below each of their bands
        # (many lines across them mean another column layout there: the band groups below find it)
        spanning = {id(ln) for ln in cut.spanning}
        segments = [
            list(run) for _, run in groupby(band_list, key=lambda b: any(id(ln) in spanning for ln in b))
        ]
        if len(segments) > 1:
            return [
                region
                for segment in segments
                for region in _cut_region([ln for band in segment for ln in band], segment, page)
            ]
    groups = _band_groups(band_list, h)
    regions: list[Region] = []
    flowing: list[TextLine] = []  # bands without column gutters: one region of rows
    for group, has_cut in groups:
        if has_cut and len(groups) > 1:
            if flowing:
                regions.append(rows(flowing, h, page.rank))
                flowing = []
            regions.extend(_xy_cut(group, page))
        else:
            flowing.extend(group)
    if flowing:
        regions.append(rows(flowing, h, page.rank))
    return regions


def _gap_below(upper: list[TextLine], lower: list[TextLine]) -> float:
    return min(ln.bbox[1] for ln in lower) - max(ln.bbox[3] for ln in upper)


def _clean_cut(lines: list[TextLine], h: float) -> bool:
    cut = column_cut(lines, h)
    return cut is not None and not cut.spanning


def _band_groups(band_list: list[list[TextLine]], h: float) -> list[tuple[list[TextLine], bool]]:
    """Bands in groups, top to bottom: (lines, True) for a run of bands whose union has a clean
    column gutter (seeded by `MIN_COLUMN_ROWS` bands, then grown band by band), (band, False) else."""
    groups: list[tuple[list[TextLine], bool]] = []
    i = 0
    while i < len(band_list):
        seed = i + MIN_COLUMN_ROWS
        union = [ln for band in band_list[i:seed] for ln in band]
        if seed <= len(band_list) and _clean_cut(union, h):
            while seed < len(band_list) and _clean_cut(union + band_list[seed], h):
                union += band_list[seed]
                seed += 1
            groups.append((union, True))
            i = seed
        else:
            groups.append((band_list[i], False))
            i += 1
    return groups


def reading_order(lines: Sequence[TextLine]) -> list[Region]:
    """Regions (columns, row groups, header, footer) in reading order, each a list of rows, each row
    a list of lines left to right. Lines without text are dropped; merged column lines come back split."""
    lines = [ln for ln in lines if ln.text.strip()]
    if not lines:
        return []
    page = _Page(median_height(lines), {id(ln): i for i, ln in enumerate(lines)})
    return _xy_cut(lines, page, top=True)
