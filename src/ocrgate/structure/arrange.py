"""Layout regions over an engine's text lines: which line belongs to which region, the regions in
reading order, and each region as blocks of its kind. Geometry; the table model is passed in.

1. Regions (`structure.regions`) are cleaned: of two regions covering the same place (IoU >= 0.5, or
   one of a kind half inside another of that kind) the surer one stays (the two are united when of
   one kind), except that a table beats a figure; a `header` (`footer`) counts only in the page's top
   (bottom) `MARGIN` and set off from the text below (above) it by `HEADER_GAP` line heights, the cue
   `reading_order` uses for page furniture: otherwise it is text; a `figure` holding more than
   `FIGURE_MAX_TEXT` characters per square line height is text set as a picture (a receipt, a form,
   a table crop), not a figure; so is one whose lines make at least `TEXT_SET_ROWS` rows holding more
   than `TEXT_SET_DENSITY` characters per square line height of their own box (a receipt photographed
   with a wide margin: SROIE 057's figure region is seven times the receipt's text). A page whose
   lines are set as one table (`grid.is_table`) and on which the model found none gets one table
   region round its lines.
2. The engine's lines, two column lines it merged split at the gutter first (`split_merged`), each
   go to the region holding the largest share of their box, at least `MIN_SHARE` (of regions holding
   the same share, the smallest: a caption inside a figure region). Lines in no region ("free")
   keep the paragraphs they make without layout (`free_paragraphs`).
3. Reading order over regions: `reading_order` over the page, each region's lines standing in for it
   (their boxes) among the free lines, so the same rules hold (columns at gutters, rows kept as rows,
   captions between columns after them); a region, and a paragraph of free lines, stands where the
   middle one of its lines is read, a region without text before the first block below it (`_place`).
   Region boxes standing in as stripes of body-line height read worse: a figure across the column
   gutter (UNLV 8087_054) hides the gutter (CER 0.54 against 0.03). Inside a region, the same rules.
4. Blocks by kind: `text` (and `reference`) regions give paragraphs; a `title` of at most
   `TITLE_MAX_ROWS` rows no further apart than `TITLE_ROW_GAP` gives one heading (level from its
   line height against the page's body text: `HEADING_LEVELS`), a longer one, or one whose rows lie
   further apart, is text (a page set in large type; `_one_heading`); a `caption` gives one
   block of that kind; a `header` or `footer` one `text` block labelled so (page furniture is left out
   of a page's markdown, and the text truth of a page holds it: docling's pages lost words to it); a
   `figure` one figure block with its box (cropped into
   `source_markdown` by render) and the text read in it; an `equation` of at most `EQUATION_MAX_ROWS`
   rows one equation block with its box and the text read in it (no formula recogniser ships in a
   wheel: the text is the engine's); a `table` the table model's HTML and its markdown as text when
   the answer is believable (`_believable`), else paragraphs. A table with a cell spanning rows keeps
   its HTML, but its text is its lines read as without layout: a markdown table has no row spans, and
   the spanning cell's text in its top slot stands away from where the page reads it (docling
   2305.03393 page 9: CER 0.041 against 0.018 without layout).

A page on which the regions give nothing but text blocks reads exactly as without layout
(`layout.paragraph_blocks`): the regions would only move paragraphs (a FUNSD form read by Tesseract:
CER 0.472 against 0.471).

Every line with text ends up in exactly one block (a line the reading order splits at a column
gutter, as without layout, in two).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from statistics import mean, median

from ocrgate.layout import lines_block, paragraph_blocks, paragraphs
from ocrgate.reading_order import HEADER_GAP, median_height, reading_order, rows
from ocrgate.schema import Block, Box, TextLine
from ocrgate.structure.grid import is_table
from ocrgate.structure.regions import Region
from ocrgate.structure.tables import TableResult

#: reads the table in a box from the lines inside it (`structure.tables.table_html` on the page image)
TableReader = Callable[[Box, list[TextLine]], TableResult | None]

MIN_SHARE = 0.5  # a line belongs to a region that holds at least this share of its box
SAME_PLACE = 0.5  # IoU over which two regions are one place
MARGIN = 0.12  # share of the page height a header (top) or footer (bottom) lies in
FIGURE_MAX_TEXT = 0.3  # characters a figure may hold per square body line height (a chart's labels)
# text set as a picture inside a larger figure region: characters per square body line height of the
# lines' own box (measured with RapidOCR on ../shared/eval: receipts 0.70 to 1.24; the labels of the
# charts and drawings of docling_pdf and olmocr_bench_sample 0.19 to 0.44) and rows at least
TEXT_SET_DENSITY = 0.6
TEXT_SET_ROWS = 3
TITLE_MAX_ROWS = 2  # rows a heading has at most
TITLE_ROW_GAP = 0.5  # white between a heading's rows at most, in line heights (see `_one_heading`)
HEADING_LEVELS = ((1.6, 1), (1.25, 2))  # (line height / body line height at least, heading level)
EQUATION_MAX_ROWS = 3  # rows of text an equation has at most (more: text the model took for one)
SUBHEADING_LEVEL = 3  # a heading no taller than that (a bold heading in body size)
_SINGLE = {"caption"}
_FURNITURE = {"header", "footer"}


@dataclass
class Unit:
    """A region and the lines that belong to it, in reading order once `order` ran."""

    region: Region
    lines: list[TextLine] = field(default_factory=list)


def _share(line: TextLine, box: Box) -> float:
    common = line.bbox.intersection(box)
    area = line.bbox.area
    return common.area / area if common is not None and area > 0 else 0.0


def _density(lines: Sequence[TextLine], box: Box, h: float) -> float:
    """Characters of the lines per square body line height of `box` (prose: about 1.5; a chart's
    labels: 0.3 or less)."""
    chars = sum(len(ln.text.strip()) for ln in lines)
    return chars * h * h / box.area if box.area > 0 else 0.0


def _apart(region: Region, lines: Sequence[TextLine], h: float) -> bool:
    """A header's (footer's) text is set off from the text below (above) it by `HEADER_GAP` line heights
    of white: the cue `reading_order` uses for page furniture. Lines level with it do not count."""
    _, y0, _, y1 = region.bbox
    if region.kind == "header":
        gaps = [ln.bbox.y0 - y1 for ln in lines if (ln.bbox.y0 + ln.bbox.y1) / 2 > y1]
    else:
        gaps = [y0 - ln.bbox.y1 for ln in lines if (ln.bbox.y0 + ln.bbox.y1) / 2 < y0]
    return min(gaps, default=float("inf")) >= HEADER_GAP * h


def clean(regions: Sequence[Region], lines: Sequence[TextLine], h: float, height: float) -> list[Region]:
    """Regions without duplicates; headers and footers only in the page's margins and set apart (see
    module doc)."""
    kept: list[Region] = []
    for region in sorted(regions, key=lambda r: -r.score):
        kind = region.kind
        if kind in ("header", "footer"):
            margin = (
                region.bbox.y1 <= MARGIN * height
                if kind == "header"
                else region.bbox.y0 >= (1 - MARGIN) * height
            )
            if not (margin and _apart(region, lines, h)):
                kind = "text"
        if kind != region.kind:
            region = Region(kind=kind, bbox=region.bbox, score=region.score, label=region.label)
        same = next((i for i, k in enumerate(kept) if _same_place(k, region)), None)
        if same is None:
            kept.append(region)
        elif region.kind == kept[same].kind:  # one region the model found twice, in pieces
            union = Box.union([kept[same].bbox, region.bbox])
            kept[same] = Region(kind=region.kind, bbox=union, score=kept[same].score, label=kept[same].label)
        elif region.kind == "table" and kept[same].kind == "figure":
            kept[same] = region
    return kept


def _same_place(a: Region, b: Region) -> bool:
    """IoU of at least `SAME_PLACE`, or, for two regions of one kind, the smaller one at least that
    much inside the other (a title found whole and again as its first lines)."""
    if a.bbox.iou(b.bbox) >= SAME_PLACE:
        return True
    common = a.bbox.intersection(b.bbox)
    smaller = min(a.bbox.area, b.bbox.area)
    return a.kind == b.kind and common is not None and smaller > 0 and common.area / smaller >= SAME_PLACE


def assign(lines: Sequence[TextLine], regions: Sequence[Region]) -> tuple[list[Unit], list[TextLine]]:
    """Each line to the region holding the largest share of it (at least `MIN_SHARE`; on a tie the
    smallest region): the units (regions with their lines, engine order) and the lines in none."""
    units = [Unit(region) for region in regions]
    free: list[TextLine] = []
    for line in lines:
        best: tuple[float, float] | None = None
        chosen: Unit | None = None
        for unit in units:
            share = _share(line, unit.region.bbox)
            if share >= MIN_SHARE and (best is None or (share, -unit.region.bbox.area) > best):
                best, chosen = (share, -unit.region.bbox.area), unit
        (chosen.lines if chosen is not None else free).append(line)
    return units, free


def _stand_ins(unit: Unit) -> list[TextLine]:
    """The region's lines as the reading order sees them: their boxes, no words (never split)."""
    return [TextLine(text="\u25a0", bbox=ln.bbox) for ln in unit.lines]


def order(units: Sequence[Unit], free: Sequence[TextLine], para_gap: float = 0.8) -> list[Unit | Block]:
    """Regions and the paragraphs of the free lines in reading order (see module doc, 3).

    The free lines keep the paragraphs they have without layout (`free_paragraphs`); a region or a
    paragraph stands where the middle one of its lines (a region's: its stand-ins) is read; a region
    without text where `_place` puts it."""
    owner: dict[int, Unit] = {}
    stand_ins: list[TextLine] = []
    for unit in units:
        for stand_in in _stand_ins(unit):
            owner[id(stand_in)] = unit
            stand_ins.append(stand_in)
    read = [ln for region in reading_order([*stand_ins, *free]) for row in region for ln in row]
    at: dict[int, list[int]] = {}
    for i, line in enumerate(read):
        at.setdefault(id(owner.get(id(line), line)), []).append(i)
    placed: list[tuple[float, Unit | Block]] = []
    for unit in units:
        if id(unit) in at:
            placed.append((median(at[id(unit)]), unit))
    lines = [*free, *(ln for unit in units for ln in unit.lines)]
    for block in free_paragraphs(lines, free, para_gap):
        seen = [i for ln in block.lines for i in at.get(id(ln), ())]
        placed.append((median(seen) if seen else float("inf"), block))
    result = [item for _, item in sorted(placed, key=lambda p: p[0])]
    for unit in units:
        if id(unit) not in at:
            result.insert(_place(unit.region.bbox, result), unit)
    return result


def free_paragraphs(lines: Sequence[TextLine], free: Sequence[TextLine], para_gap: float) -> list[Block]:
    """The paragraphs the page's `lines` make without layout (`layout.paragraphs`), each less the lines
    that are not `free`: free lines stay in the paragraphs they had."""
    wanted = {id(ln) for ln in free}
    blocks = [
        lines_block(mine)
        for paragraph in paragraphs(lines, para_gap)
        if (mine := [ln for ln in paragraph if id(ln) in wanted])
    ]
    placed = {id(ln) for block in blocks for ln in block.lines}
    rest = [ln for ln in free if id(ln) not in placed]  # none, unless the reading order split a line
    return blocks + (paragraph_blocks(rest, para_gap=para_gap) if rest else [])


def _box(item: Unit | Block) -> Box:
    return item.region.bbox if isinstance(item, Unit) else item.bbox


def _place(box: Box, items: Sequence[Unit | Block]) -> int:
    """Where a region without text goes among ordered items: before the first one below its top
    that it overlaps horizontally, else last."""
    for i, item in enumerate(items):
        other = _box(item)
        if other.y0 >= box.y0 and min(other.x1, box.x1) > max(other.x0, box.x0):
            return i
    return len(items)


def split_merged(lines: Sequence[TextLine]) -> list[TextLine]:
    """The lines with text in the engine's order, two column lines the engine merged into one split
    at the column gutter as the reading order splits them (the pieces in their line's place)."""
    kept = [ln for ln in lines if ln.text.strip()]
    read = _ordered(kept)
    read_ids = {id(ln) for ln in read}
    split = [ln for ln in kept if id(ln) not in read_ids]
    if not split:
        return kept
    kept_ids = {id(ln) for ln in kept}
    own: dict[int, list[TextLine]] = {}
    for piece in (ln for ln in read if id(ln) not in kept_ids):
        box = Box(*piece.bbox)
        parent = max(split, key=lambda ln: c.area if (c := box.intersection(ln.bbox)) else 0.0)
        own.setdefault(id(parent), []).append(piece.model_copy(update={"bbox": box}))
    result: list[TextLine] = []
    for line in kept:
        result.extend(sorted(own[id(line)], key=lambda p: p.bbox[0]) if id(line) in own else [line])
    return result


def _ordered(lines: Sequence[TextLine]) -> list[TextLine]:
    return [ln for region in reading_order(lines) for row in region for ln in row]


def _single(kind: str, unit: Unit, lines: list[TextLine], level: int | None = None) -> Block:
    """The region as one block of `kind` (a region's kind is a block kind); a figure's or an equation's
    box is the region's, with or without text in it."""
    bbox = unit.region.bbox if kind in ("figure", "equation") else None
    return lines_block(lines, kind, unit.region.label, bbox, level)  # type: ignore[arg-type]


def heading_level(line_height: float, body: float) -> int:
    """A heading's level from its line height against the body text's (`HEADING_LEVELS`)."""
    ratio = line_height / body if body > 0 else 1.0
    return next((level for least, level in HEADING_LEVELS if ratio >= least), SUBHEADING_LEVEL)


def _chars(text: str) -> Counter[str]:
    return Counter(c for c in text if not c.isspace())


def _believable(result: TableResult | None, lines: Sequence[TextLine]) -> bool:
    """A table the structure model read: at least two columns, text in every row (a row without any
    means the cells missed the text lines: the structure is off), every character of the lines in
    its cells (none matched to no cell)."""
    if result is None or result.cols < 2:
        return False
    filled = {c.row for c in result.cells if c.text.strip()}
    if any(row not in filled for row in {c.row for c in result.cells}):
        return False
    return not _chars(" ".join(ln.text for ln in lines)) - _chars(" ".join(c.text for c in result.cells))


def _table(unit: Unit, lines: list[TextLine], read_table: TableReader, para_gap: float) -> Block | None:
    """The table block, or None when the model finds no table there or none to believe. Its text is
    the markdown table, or its lines as paragraphs where a cell spans rows (module doc, 4)."""
    result = read_table(unit.region.bbox, lines)
    if result is None or not _believable(result, lines):
        return None
    scores = [ln.score for ln in lines if ln.score is not None]
    spans_rows = any(c.rowspan > 1 for c in result.cells)
    return Block(
        kind="table",
        text="\n\n".join(b.text for b in paragraph_blocks(lines, para_gap=para_gap))
        if spans_rows
        else result.markdown,
        html=result.html,
        bbox=unit.region.bbox,
        score=mean(scores) if scores else None,
        label=unit.region.label,
        lines=lines,
    )


def _one_heading(title_rows: Sequence[Sequence[TextLine]]) -> bool:
    """The rows read as one heading: no white gap between two of them wider than `TITLE_ROW_GAP` of
    their line height. Engines pad line boxes, so rows next to each other leave about none; a gap of
    a row or more means rows between them are missing (phototest's body, set large, is one title
    region, and `text_score` 0.99 leaves two of its eight rows, 0.73 line heights apart)."""
    h = median_height([ln for row in title_rows for ln in row])
    boxes = [Box.union(ln.bbox for ln in row) for row in title_rows]
    return all(lower.y0 - upper.y1 <= TITLE_ROW_GAP * h for upper, lower in pairwise(boxes))


def unit_blocks(unit: Unit, body: float, para_gap: float, read_table: TableReader) -> list[Block]:
    """One region's blocks (module doc, 4); its lines in reading order."""
    kind = unit.region.kind
    if kind == "figure" or (kind == "equation" and len(rows(unit.lines, body)) <= EQUATION_MAX_ROWS):
        return [_single(kind, unit, _ordered(unit.lines))]
    if not unit.lines:
        return []
    if kind == "table":
        table = _table(unit, _ordered(unit.lines), read_table, para_gap)
        if table is not None:
            return [table]
    elif kind in _SINGLE:
        return [_single(kind, unit, _ordered(unit.lines))]
    elif kind in _FURNITURE:
        return [_single("text", unit, _ordered(unit.lines))]
    elif kind == "title":
        title_rows = [row for region in reading_order(unit.lines) for row in region]
        if len(title_rows) <= TITLE_MAX_ROWS and _one_heading(title_rows):
            lines = [ln for row in title_rows for ln in row]
            tall = max(median_height(row) for row in title_rows)
            return [_single("title", unit, lines, level=heading_level(tall, body))]
    return [
        block.model_copy(update={"label": unit.region.label})
        for block in paragraph_blocks(unit.lines, para_gap=para_gap)
    ]


def arrange(
    lines: Sequence[TextLine],
    regions: Sequence[Region],
    width: float,
    height: float,
    read_table: TableReader,
    para_gap: float = 0.8,
) -> list[Block]:
    """The page's blocks in reading order from its text lines (page pixels) and layout regions.

    `width` x `height`: the page in pixels; `read_table(box, lines)`: the table in a table region.
    """
    kept = split_merged(lines)
    body = median_height(kept) if kept else max(8.0, height / 60)
    found = _without_dense_figures(clean(regions, kept, body, height), kept, body)
    if kept and not any(r.kind == "table" for r in found) and is_table(kept, body):
        found = _one_table(found, kept)
    units, free = assign(kept, found)
    units = [u for u in units if u.lines or u.region.kind in ("figure", "equation")]
    blocks: list[Block] = []
    for item in order(units, free, para_gap):
        if isinstance(item, Unit):
            blocks.extend(unit_blocks(item, body, para_gap, read_table))
        else:
            blocks.append(item)
    if all(b.kind == "text" for b in blocks):  # nothing but text: read as without layout (module doc)
        return paragraph_blocks(lines, para_gap=para_gap)
    return blocks


def _one_table(regions: list[Region], lines: Sequence[TextLine]) -> list[Region]:
    """A page whose lines are set as one table (`grid.is_table`): one table region round them, the
    regions inside it gone."""
    box = Box.union(ln.bbox for ln in lines)
    outside = [
        r for r in regions if (c := r.bbox.intersection(box)) is None or c.area < SAME_PLACE * r.bbox.area
    ]
    return [Region(kind="table", bbox=box, score=1.0, label="grid"), *outside]


def _text_set_as_picture(region: Region, lines: Sequence[TextLine], h: float) -> bool:
    """A figure region that is text: more than `FIGURE_MAX_TEXT` characters per square line height of
    the region, or `TEXT_SET_ROWS` rows and more than `TEXT_SET_DENSITY` of the lines' own box."""
    inside = [ln for ln in lines if _share(ln, region.bbox) >= MIN_SHARE]
    if not inside:
        return False
    if _density(inside, region.bbox, h) > FIGURE_MAX_TEXT:
        return True
    own = Box.union(ln.bbox for ln in inside)
    return len(rows(inside, h)) >= TEXT_SET_ROWS and _density(inside, own, h) > TEXT_SET_DENSITY


def _without_dense_figures(regions: list[Region], lines: Sequence[TextLine], h: float) -> list[Region]:
    """The regions less the figures that are text set as a picture (`_text_set_as_picture`)."""
    return [r for r in regions if r.kind != "figure" or not _text_set_as_picture(r, lines, h)]
