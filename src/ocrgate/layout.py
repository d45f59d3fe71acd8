"""Paragraph blocks from an engine's text lines, in reading order.

Backends that give text lines (boxes in page pixels, words where the engine has them) hand them to
`paragraph_blocks` and get `Block`s, each carrying its lines. The reading order is
`ocrgate.reading_order` (recursive XY-cut that cuts only at text-column gutters; rows of a receipt,
form or table are read as rows). `order="engine"` keeps the engine's own line order, one block per
line: the baseline `ocrgate eval` scores every default against (`rapidocr:lines`).

Within a region, a paragraph ends where the white gap to the next row exceeds `para_gap` line
heights, where the next row does not overlap it horizontally, where the line height jumps (a
heading next to body text), or where the next line's first word would have fit in the room left
at the end of the line (the rule of Tesseract's paragraph detection). A line's words never leave
it, so a word is never split between blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import mean
from typing import Literal

from ocrgate.line_geometry import core, height, median_height
from ocrgate.reading_order import Row, reading_order
from ocrgate.render.markdown import lines_markdown
from ocrgate.schema import Block, BlockKind, Box, TextLine

ReadingOrder = Literal["layout", "engine"]
READING_ORDER_HELP = (
    "layout: ocrgate's reading order (columns, rows, paragraphs); engine: the engine's own line order, "
    "one block per line"
)


def _same_row(a: TextLine, b: TextLine) -> bool:
    """b continues a on the same text row (a row the engine read in pieces)."""
    (a0, a1), (b0, b1) = core(a), core(b)
    return min(a1, b1) > max(a0, b0) and b.bbox[0] >= a.bbox[2] - height(a) / 2


def _first_word_width(line: TextLine) -> float:
    if line.words:
        return line.words[0].bbox[2] - line.words[0].bbox[0]
    text = line.text.strip()
    return (line.bbox[2] - line.bbox[0]) * len(text.split(maxsplit=1)[0]) / max(len(text), 1)


def _new_paragraph(prev: Row, row: Row, h: float, para_gap: float, right_edge: float) -> bool:
    p, r = Box.union(ln.bbox for ln in prev), Box.union(ln.bbox for ln in row)
    if r[1] - p[3] > para_gap * h:
        return True
    if r[0] >= p[2] or r[2] <= p[0]:
        return True  # no horizontal overlap: another region
    tall, short = max(height(ln) for ln in (*prev, *row)), min(height(ln) for ln in (*prev, *row))
    if short > 0 and tall / short > 1.6:
        return True  # a heading next to body text
    # the next line's first word would have fit at the end of this one: this one ends a paragraph
    # (Tesseract's paragraph detection, ccmain/paragraphs.cpp, "FirstWordWouldHaveFit")
    return len(prev) == 1 and len(row) == 1 and right_edge - p[2] > _first_word_width(row[0]) + h / 2


def paragraphs(lines: Sequence[TextLine], para_gap: float = 0.8) -> list[list[TextLine]]:
    """Lines grouped into paragraphs, in reading order (rows of a paragraph left to right)."""
    h = median_height([ln for ln in lines if ln.text.strip()])
    result: list[list[TextLine]] = []
    for region in reading_order(lines):
        right_edge = max(ln.bbox[2] for row in region for ln in row)
        current: list[Row] = [region[0]]
        for row in region[1:]:
            if _new_paragraph(current[-1], row, h, para_gap, right_edge):
                result.append([ln for r in current for ln in r])
                current = [row]
            else:
                current.append(row)
        result.append([ln for r in current for ln in r])
    return result


def text_rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines in reading order grouped into text rows: each next line that continues the one before on
    its text row (their boxes' middle halves overlap vertically and it starts right of it: a row the
    engine read in pieces, a table's cells on one baseline) joins that row. Empty for no lines."""
    result: list[list[TextLine]] = []
    for line in lines:
        if result and _same_row(result[-1][-1], line):
            result[-1].append(line)
        else:
            result.append([line])
    return result


def paragraph_text(lines: list[TextLine]) -> str:
    """The lines as block markdown (`lines_markdown`); pieces of one text row joined by a space."""
    return lines_markdown([" ".join(ln.text.strip() for ln in row) for row in text_rows(lines)])


def lines_block(
    lines: list[TextLine],
    kind: BlockKind = "text",
    label: str | None = None,
    bbox: Box | None = None,
    level: int | None = None,
) -> Block:
    """One block of `kind` holding `lines` (boxes in page-image pixels, in reading order).

    Its text is the lines' block markdown (`paragraph_text`; "" without lines), its score their mean
    score (0..1; None where no line has one), `label` the engine's or layout model's own name for the
    region. `bbox` (page-image pixels): the block's box, by default the union of the lines' boxes
    (ValueError without lines); `level`: a title's heading level (1..6).
    """
    scores = [ln.score for ln in lines if ln.score is not None]
    return Block(
        kind=kind,
        text=paragraph_text(lines) if lines else "",
        bbox=Box.union(ln.bbox for ln in lines) if bbox is None else bbox,
        score=mean(scores) if scores else None,
        level=level,
        label=label,
        lines=lines,
    )


def paragraph_blocks(
    lines: Sequence[TextLine], para_gap: float = 0.8, order: ReadingOrder = "layout"
) -> list[Block]:
    """Text blocks in reading order: joined text, union box, mean line score, and the lines.

    `lines`: the engine's text lines, boxes in page-image pixels. `order="layout"` (default): one
    block per paragraph in the order of `ocrgate.reading_order`; `"engine"`: one block per line in
    the order given. Lines without text are dropped.
    """
    kept = [ln for ln in lines if ln.text.strip()]
    if order == "engine":
        return [lines_block([ln]) for ln in kept]
    return [lines_block(para) for para in paragraphs(kept, para_gap)]
