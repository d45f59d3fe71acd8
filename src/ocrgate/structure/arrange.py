"""Layout regions over an engine's text lines: which line belongs to which region, the regions in
reading order, and each region as blocks of its kind. Pure geometry; the table model is passed in.

1. Regions (`structure.regions`) are cleaned: of two regions covering the same place (IoU >= 0.5) the
   surer one stays, except that a table beats a figure; a `header` must end in the page's top
   `MARGIN`, a `footer` start in its bottom `MARGIN` (else they are text); a `figure` whose text
   lines cover more than `FIGURE_MAX_TEXT` of it is text set as a picture (a receipt, a form, a
   handwritten note, a table crop): no figure, its lines are read as text.
2. Each line goes to the region holding the largest share of its box, at least `MIN_SHARE`; of
   regions holding the same share, the smallest (a caption inside a figure region). Lines in no
   region are read as without layout (`layout.paragraph_blocks`).
3. Reading order over regions: `reading_order` on the region boxes, each region standing for itself
   as a column of stripes one body line high (`_stripes`) among the free lines, so the same rules
   hold (columns at gutters, rows kept as rows, headers and footers set apart); inside a region its
   lines are ordered by the same rules.
4. Blocks by kind: `text` (and `reference`) regions give paragraphs; a `title` of at most
   `TITLE_MAX_ROWS` rows gives one heading (level from its line height against the page's body
   text: `HEADING_LEVELS`), a longer one is text (a page set in large type); `header`, `footer` and
   `caption` give one block of that kind; a `figure` one figure block with its box (cropped into
   `source_markdown` by render) and the text read in it; an `equation` one equation block with its
   box and the text read in it (no formula recogniser ships in a wheel: the text is the engine's); a
   `table` the table model's HTML and its markdown as text, unless the model finds no table or its
   cells lose text (then paragraphs).

Every line with text ends up in exactly one block (a line the reading order splits at a column
gutter, as without layout, in two).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import mean

from ocrgate.layout import paragraph_blocks, paragraph_text
from ocrgate.reading_order import HEADER_GAP, median_height, reading_order
from ocrgate.schema import Block, Box, TextLine
from ocrgate.structure.regions import Region
from ocrgate.structure.tables import TableResult

#: reads the table in a box from the lines inside it (`structure.tables.table_html` on the page image)
TableReader = Callable[[Box, list[TextLine]], TableResult | None]

MIN_SHARE = 0.5  # a line belongs to a region that holds at least this share of its box
SAME_PLACE = 0.5  # IoU over which two regions are one place
MARGIN = 0.12  # share of the page height a header (top) or footer (bottom) lies in
FIGURE_MAX_TEXT = 0.3  # characters a figure may hold per square body line height (a chart's labels)
TITLE_MAX_ROWS = 3  # rows a heading has at most
HEADING_LEVELS = ((1.6, 1), (1.25, 2))  # (line height / body line height at least, heading level)
SUBHEADING_LEVEL = 3  # a heading no taller than that (a bold heading in body size)
MAX_STRIPES = 40  # stripes standing for one region in the reading order
_SINGLE = {"header", "footer", "caption"}


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


def _stripes(unit: Unit, h: float) -> list[TextLine]:
    """The region as lines one body line high, its full width, a fifth of a line apart (at most
    `MAX_STRIPES`, spread over its height): it reads as a column of prose of its width."""
    x0, y0, x1, y1 = unit.region.bbox
    count = max(1, min(MAX_STRIPES, int((y1 - y0) / (1.2 * h))))
    pitch = (y1 - y0 - h) / (count - 1) if count > 1 else 0.0
    stripe_height = min(h, y1 - y0)
    return [
        TextLine(text="\u25a0", bbox=Box(x0, y0 + i * pitch, x1, y0 + i * pitch + stripe_height))
        for i in range(count)
    ]


STAND_INS = "lines"


def _stand_ins(unit: Unit, h: float) -> list[TextLine]:
    if STAND_INS == "stripes":
        return _stripes(unit, h)
    return [TextLine(text="\u25a0", bbox=ln.bbox) for ln in unit.lines]


def order(units: Sequence[Unit], free: Sequence[TextLine], h: float) -> list[Unit | list[TextLine]]:
    """Regions and runs of free lines in reading order (see module doc, 3)."""
    owner: dict[int, Unit] = {}
    stand_ins: list[TextLine] = []
    for unit in units:
        if not unit.lines:
            continue
        for stand_in in _stand_ins(unit, h):
            owner[id(stand_in)] = unit
            stand_ins.append(stand_in)
    result: list[Unit | list[TextLine]] = []
    placed: set[int] = set()
    run: list[TextLine] = []
    for region in reading_order([*stand_ins, *free]):
        for row in region:
            for line in row:
                unit = owner.get(id(line))
                if unit is None:
                    run.append(line)
                elif id(unit) not in placed:
                    if run:
                        result.append(run)
                        run = []
                    placed.add(id(unit))
                    result.append(unit)
    if run:
        result.append(run)
    for unit in units:
        if not unit.lines:
            result.insert(_place(unit.region.bbox, result), unit)
    return result


def _box(item: Unit | list[TextLine]) -> Box:
    return item.region.bbox if isinstance(item, Unit) else Box.union(ln.bbox for ln in item)


def _place(box: Box, items: Sequence[Unit | list[TextLine]]) -> int:
    """Where a region without text goes among ordered items: before the first one below its top
    that it overlaps horizontally, else last."""
    for i, item in enumerate(items):
        other = _box(item)
        if other.y0 >= box.y0 and min(other.x1, box.x1) > max(other.x0, box.x0):
            return i
    return len(items)


def _ordered(lines: Sequence[TextLine]) -> list[TextLine]:
    return [ln for region in reading_order(lines) for row in region for ln in row]


def _single(kind: str, unit: Unit, lines: list[TextLine], **extra: object) -> Block:
    scores = [ln.score for ln in lines if ln.score is not None]
    return Block(
        kind=kind,  # type: ignore[arg-type]
        text=paragraph_text(lines) if lines else "",
        bbox=unit.region.bbox if kind in ("figure", "equation") else Box.union(ln.bbox for ln in lines),
        score=mean(scores) if scores else None,
        label=unit.region.label,
        lines=lines,
        **extra,  # type: ignore[arg-type]
    )


def heading_level(line_height: float, body: float) -> int:
    """A heading's level from its line height against the body text's (`HEADING_LEVELS`)."""
    ratio = line_height / body if body > 0 else 1.0
    return next((level for least, level in HEADING_LEVELS if ratio >= least), SUBHEADING_LEVEL)


def _chars(text: str) -> Counter[str]:
    return Counter(c for c in text if not c.isspace())


def _table(unit: Unit, lines: list[TextLine], read_table: TableReader) -> Block | None:
    """The table block, or None when the model finds no table or its cells do not hold every
    character of the lines (a line matched to no cell)."""
    result = read_table(unit.region.bbox, lines)
    if result is None or not result.cells:
        return None
    if _chars(" ".join(ln.text for ln in lines)) - _chars(" ".join(c.text for c in result.cells)):
        return None
    scores = [ln.score for ln in lines if ln.score is not None]
    return Block(
        kind="table",
        text=result.markdown,
        html=result.html,
        bbox=unit.region.bbox,
        score=mean(scores) if scores else None,
        label=unit.region.label,
        lines=lines,
    )


def unit_blocks(unit: Unit, body: float, para_gap: float, read_table: TableReader) -> list[Block]:
    """One region's blocks (module doc, 4); its lines in reading order."""
    kind = unit.region.kind
    if kind in ("figure", "equation"):
        return [_single(kind, unit, _ordered(unit.lines))]
    if not unit.lines:
        return []
    if kind == "table":
        table = _table(unit, _ordered(unit.lines), read_table)
        if table is not None:
            return [table]
    elif kind in _SINGLE:
        return [_single(kind, unit, _ordered(unit.lines))]
    elif kind == "title":
        rows = [row for region in reading_order(unit.lines) for row in region]
        if len(rows) <= TITLE_MAX_ROWS:
            lines = [ln for row in rows for ln in row]
            tall = max(median_height(row) for row in rows)
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
    # lines with text; two column lines the engine merged come back split (their boxes as plain tuples)
    kept = [ln.model_copy(update={"bbox": Box(*ln.bbox)}) for ln in _ordered(lines)]
    body = median_height(kept) if kept else max(8.0, height / 60)
    units, free = assign(kept, _without_dense_figures(clean(regions, kept, body, height), kept, body))
    units = [u for u in units if u.lines or u.region.kind in ("figure", "equation")]
    blocks: list[Block] = []
    for item in order(units, free, body):
        if isinstance(item, Unit):
            blocks.extend(unit_blocks(item, body, para_gap, read_table))
        else:
            blocks.extend(paragraph_blocks(item, para_gap=para_gap))
    return blocks


def _without_dense_figures(regions: list[Region], lines: Sequence[TextLine], h: float) -> list[Region]:
    """The regions less figures holding more than `FIGURE_MAX_TEXT` characters per square line height."""
    return [
        r
        for r in regions
        if r.kind != "figure"
        or _density([ln for ln in lines if _share(ln, r.bbox) >= MIN_SHARE], r.bbox, h) <= FIGURE_MAX_TEXT
    ]
