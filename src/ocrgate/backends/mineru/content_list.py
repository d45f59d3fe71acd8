"""MinerU's content list (V1) -> our page results. Pure: no MinerU import, never raises on bad entries.

A content list is a flat list of entries in reading order, each with `type`, `page_idx` (0-based page of
the document) and `bbox` = [x0, y0, x1, y1] on a 0..1000 grid of that page, origin top left. MinerU
4.0.12 writes it from its middle JSON, whose boxes are 0..1 fractions of the page as displayed (PDF
CropBox with /Rotate applied; an image input is first wrapped into a one-page PDF of the same aspect),
with `int(v * 1000)` (`mineru/render/_internal/content_list/common.py: normalize_bbox`). So a box
maps to the pixels of the page image we rasterise (same CropBox, same rotation, any dpi) as
`x * width / 1000`, `y * height / 1000`: the page size in points never enters.

Types (MinerU 4.0.12, `render/_internal/content_list/v1.py`): `text` (with `text_level` 1..6 for
titles), `equation` (`text` LaTeX, `text_format`), `list` (`list_items`, `sub_type` text|ref_text),
`index` (`list_items`), `table` (`table_body` HTML, `table_caption`, `table_footnote`), `image`
(`image_caption`, `image_footnote`, `content`), `chart` (`content`, `chart_caption`,
`chart_footnote`), `code` (`code_body`, `sub_type` code|algorithm, `code_caption`, `code_footnote`),
`header`, `footer`, `page_number`, `aside_text`, `page_footnote`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ocrgate.schema import Block, Box, PageResult

GRID = 1000.0
NO_BOX = Box(0.0, 0.0, 0.0, 0.0)
# page furniture: kept as blocks, left out of the reading text (as MinerU's own markdown does)
FURNITURE: dict[str, str] = {
    "header": "header",
    "footer": "footer",
    "page_number": "footer",
    "aside_text": "header",
}
_DATA_URI_KEEP = 64


def four_numbers(value: Any, scale: float = 1.0) -> list[float] | None:
    """`value` as four finite numbers, each multiplied by `scale`; None for anything else (a box
    from an engine's JSON is not trusted: wrong length, strings, booleans, NaN, overflow)."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    numbers: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float):
            return None
        try:
            number = float(item) * scale
        except OverflowError:
            return None
        if not math.isfinite(number):
            return None
        numbers.append(number)
    return numbers


def grid_bbox_to_pixels(value: Any, width: int, height: int, grid: float = GRID) -> Box | None:
    """A content-list box in pixels of a `width` x `height` page image, clipped to it; None if unusable."""
    numbers = four_numbers(value)
    if numbers is None:
        return None
    x0, x1 = sorted((numbers[0], numbers[2]))
    y0, y1 = sorted((numbers[1], numbers[3]))
    box = Box(
        min(max(x0 / grid * width, 0.0), float(width)),
        min(max(y0 / grid * height, 0.0), float(height)),
        min(max(x1 / grid * width, 0.0), float(width)),
        min(max(y1 / grid * height, 0.0), float(height)),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    return box


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return [text for text in (_text(item) for item in value) if text]


def _join(*parts: str | list[str]) -> str:
    flat: list[str] = []
    for part in parts:
        flat.extend(part if isinstance(part, list) else [part])
    return "\n\n".join(p for p in flat if p)


def _level(value: Any) -> int | None:
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return min(value, 6) if value >= 1 else None


def _is_html(text: str) -> bool:
    return text.lstrip().lower().startswith("<")


def entry_blocks(entry: Mapping[str, Any], bbox: Box) -> list[Block]:
    """Our blocks for one content-list entry (usually one; none for an empty entry)."""
    kind = entry.get("type")
    label = kind if isinstance(kind, str) else None
    if kind in ("text", "title"):
        text = _text(entry.get("text"))
        level = _level(entry.get("text_level"))
        if kind == "title" or level is not None:
            return [Block(kind="title", text=text, bbox=bbox, level=level or 1, label=label)] if text else []
        return [Block(kind="text", text=text, bbox=bbox, label=label)] if text else []
    if kind in FURNITURE or kind == "page_footnote":
        text = _text(entry.get("text"))
        block_kind = FURNITURE.get(kind, "text")
        return [Block(kind=block_kind, text=text, bbox=bbox, label=label)] if text else []  # type: ignore[arg-type]
    if kind == "equation":
        # an equation MinerU could not transcribe still has its place (and its picture)
        return [Block(kind="equation", text=_text(entry.get("text")), bbox=bbox, label=label)]
    if kind in ("list", "index"):
        items = _texts(entry.get("list_items"))
        sub_type = entry.get("sub_type")
        list_label = sub_type if kind == "list" and isinstance(sub_type, str) else label
        return [Block(kind="list", text="\n".join(items), bbox=bbox, label=list_label)] if items else []
    if kind == "table":
        body = _text(entry.get("table_body"))
        text = _join(_texts(entry.get("table_caption")), body, _texts(entry.get("table_footnote")))
        html = body if body and _is_html(body) else None
        return [Block(kind="table", text=text, bbox=bbox, html=html, label=label)]
    if kind in ("image", "chart"):
        captions = _texts(entry.get(f"{kind}_caption"))
        footnotes = _texts(entry.get(f"{kind}_footnote"))
        # a chart's content is its data (a table); an image's content is text seen inside the picture
        body = _text(entry.get("content")) if kind == "chart" else ""
        return [Block(kind="figure", text=_join(captions, body, footnotes), bbox=bbox, label=label)]
    if kind == "code":
        body = entry.get("code_body")
        body = body.strip("\n") if isinstance(body, str) else ""
        sub_type = entry.get("sub_type")
        blocks = [
            Block(kind="caption", text=caption, bbox=bbox, label="code_caption")
            for caption in _texts(entry.get("code_caption"))
        ]
        if body.strip():
            code_label = sub_type if isinstance(sub_type, str) else label
            blocks.append(Block(kind="code", text=body, bbox=bbox, label=code_label))
        blocks += [
            Block(kind="caption", text=note, bbox=bbox, label="code_footnote")
            for note in _texts(entry.get("code_footnote"))
        ]
        return blocks
    text = _text(entry.get("text")) or _text(entry.get("content"))
    return [Block(kind="text", text=text, bbox=bbox, label=label)] if text else []


def _plain(value: Any) -> Any:
    """JSON-safe: inline images (data URIs, often megabytes) cut to their header, NaN/inf -> None."""
    if isinstance(value, str) and value.startswith("data:") and len(value) > _DATA_URI_KEEP:
        return f"{value.split(',', 1)[0]},...({len(value)} characters elided)"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def raw_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as kept in `raw` (JSON-safe, inline images elided)."""
    return {str(key): _plain(value) for key, value in entry.items()}


def parse_content_list(
    entries: Iterable[Any], sizes: Sequence[tuple[int, int]], grid: float = GRID
) -> list[PageResult]:
    """One PageResult per page of `sizes` ((width, height) in pixels), blocks in MinerU's reading order.

    Entries that are not objects, name no page of the document or have an unusable box are counted
    in the pages' `flags`; an entry with content but no usable box keeps its text with an empty box.
    """
    pages = [
        PageResult(index=i, width=max(1, int(w)), height=max(1, int(h)), raw=[])
        for i, (w, h) in enumerate(sizes)
    ]
    stray = 0
    malformed = [0] * len(pages)
    boxless = [0] * len(pages)
    for entry in entries:
        if not isinstance(entry, Mapping):
            stray += 1
            continue
        page_idx = entry.get("page_idx")
        if isinstance(page_idx, bool) or not isinstance(page_idx, int) or not 0 <= page_idx < len(pages):
            stray += 1
            continue
        page = pages[page_idx]
        page.raw.append(raw_entry(entry))
        if not isinstance(entry.get("type"), str):
            malformed[page_idx] += 1
            continue
        bbox = grid_bbox_to_pixels(entry.get("bbox"), page.width, page.height, grid)
        try:
            blocks = entry_blocks(entry, bbox or NO_BOX)
        except (ValueError, TypeError):  # a value our schema refuses: keep going, say so
            malformed[page_idx] += 1
            continue
        if blocks and bbox is None:
            boxless[page_idx] += 1
        page.blocks.extend(blocks)
    for index, page in enumerate(pages):
        if malformed[index]:
            page.flags.append(f"mineru: {malformed[index]} malformed content-list entries skipped")
        if boxless[index]:
            page.flags.append(f"mineru: {boxless[index]} blocks without a usable bbox")
    if stray and pages:
        pages[0].flags.append(f"mineru: {stray} content-list entries without a page of this document")
    return pages
