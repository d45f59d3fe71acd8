"""Page results -> what people read: markdown, source markdown with figures, the boxes picture."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any, Literal

import nh3
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel

from ocrgate.schema import BBox, Block, OCRResponse, Page, PageResult

BoxesMode = Literal["all", "first", "none"]

KIND_COLOURS: dict[str, str] = {
    "text": "#1f77b4",
    "title": "#d62728",
    "table": "#2ca02c",
    "figure": "#9467bd",
    "equation": "#ff7f0e",
    "caption": "#8c564b",
    "list": "#17becf",
    "code": "#7f7f7f",
    "header": "#bcbd22",
    "footer": "#e377c2",
}
# Page furniture stays in the blocks but not in the reading text.
_NOT_IN_MARKDOWN = {"header", "footer"}
BOXES_MAX_SIDE = 1600
# What an engine's table HTML may keep: table structure, spans and light inline markup, nothing else.
TABLE_TAGS = {"table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td"}
TABLE_TAGS |= {"br", "b", "strong", "i", "em", "sub", "sup", "span", "p"}
TABLE_ATTRIBUTES = {cell: {"colspan", "rowspan"} for cell in ("th", "td")}


def safe_table_html(html: str) -> str:
    """An engine's table HTML reduced to table markup (nh3): no scripts, handlers, links or styles."""
    return nh3.clean(html, tags=TABLE_TAGS, attributes=TABLE_ATTRIBUTES, url_schemes=set())


def clamp_bbox(bbox: BBox, width: float, height: float) -> BBox:
    """A box inside the page, corners in order; NaN goes to 0 and infinities to the page's edges."""

    def clamp(value: float, limit: float) -> float:
        return 0.0 if math.isnan(value) else min(max(float(value), 0.0), float(limit))

    x0, y0, x1, y1 = (clamp(v, limit) for v, limit in zip(bbox, (width, height, width, height), strict=True))
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def sane_block(block: Block, width: float, height: float) -> Block:
    """A worker's block made safe to draw, crop, serialise and show (its numbers are not trusted)."""
    update: dict[str, Any] = {"bbox": clamp_bbox(block.bbox, width, height)}
    if block.score is not None and not math.isfinite(block.score):
        update["score"] = None
    if block.html is not None:
        update["html"] = safe_table_html(block.html)
    return block.model_copy(update=update)


def block_markdown(block: Block) -> str:
    """The markdown one block contributes to its page."""
    text = block.text.strip()
    if block.kind == "title" and text and not text.startswith("#"):
        return "#" * (block.level or 1) + " " + " ".join(text.split())
    if block.kind == "table" and not text and block.html:
        return block.html
    if block.kind == "equation" and text and not text.startswith(("$", "\\[")):
        return f"$$\n{text}\n$$"
    if block.kind == "code" and text and not text.startswith("```"):
        return f"```\n{text}\n```"
    return text


def page_markdown(blocks: Sequence[Block]) -> str:
    parts = (block_markdown(b) for b in blocks if b.kind not in _NOT_IN_MARKDOWN)
    return "\n\n".join(p for p in parts if p)


def document_markdown(pages: Sequence[str]) -> str:
    return "\n\n".join(p for p in pages if p)


def png_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def boxes_image(image: Image.Image, blocks: Sequence[Block]) -> Image.Image:
    """A copy of the page (at most BOXES_MAX_SIDE pixels a side) with each block boxed and labelled."""
    scale = min(1.0, BOXES_MAX_SIDE / max(image.width, image.height))
    canvas = image.convert("RGB")
    if scale < 1.0:
        canvas = canvas.resize((round(image.width * scale), round(image.height * scale)))
    else:
        canvas = canvas.copy()
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(10, round(14 * max(scale, 0.75))))
    width = max(1, round(2 * max(scale, 0.5)))
    for number, block in enumerate(blocks, start=1):
        colour = KIND_COLOURS.get(block.kind, "#000000")
        x0, y0, x1, y1 = (v * scale for v in block.bbox)
        draw.rectangle((x0, y0, max(x0, x1), max(y0, y1)), outline=colour, width=width)
        label = f"{number} {block.kind}"
        left, top, right, bottom = draw.textbbox((x0, y0), label, font=font)
        label_top = max(0.0, y0 - (bottom - top) - 2)
        draw.rectangle((x0, label_top, x0 + right - left + 4, label_top + bottom - top + 2), fill=colour)
        draw.text((x0 + 2, label_top), label, fill="white", font=font)
    return canvas


def crop_block(image: Image.Image, block: Block) -> Image.Image:
    x0, y0, x1, y1 = block.bbox
    box = (
        max(0, int(x0)),
        max(0, int(y0)),
        min(image.width, round(x1)),
        min(image.height, round(y1)),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        return Image.new("RGB", (1, 1), "white")
    return image.crop(box)


def source_markdown(image: Image.Image, blocks: Sequence[Block]) -> str:
    """Page markdown whose figures are embedded as cropped PNG data URIs, ready to render as HTML."""
    parts: list[str] = []
    figures = 0
    for block in blocks:
        if block.kind in _NOT_IN_MARKDOWN:
            continue
        if block.kind == "figure":
            figures += 1
            data = png_base64(crop_block(image, block))
            parts.append(f"![figure {figures}](data:image/png;base64,{data})")
            if block.text.strip():
                parts.append(block.text.strip())
            continue
        text = block_markdown(block)
        if text:
            parts.append(text)
    return "\n\n".join(parts)


class RenderedPage(BaseModel):
    """One page made ready for the response, while its image was still at hand (jobs store these)."""

    page: Page
    source_markdown: str
    raw: Any = None

    @classmethod
    def failed(cls, index: int, reason: str) -> RenderedPage:
        """A page that could not be read: empty, flagged `failed: <reason>`."""
        page = Page(index=index, width=0, height=0, markdown="", blocks=[], flags=[f"failed: {reason}"])
        return cls(page=page, source_markdown="")


def render_page(result: PageResult, image: Image.Image | None, boxes: bool) -> RenderedPage:
    """Render one page result against the image its boxes refer to (None when not at hand).

    Boxes are clamped to that image (the result's size when there is none), non-finite scores
    dropped and table HTML sanitised, so whatever a worker answers renders and serialises.
    """
    width, height = (image.width, image.height) if image is not None else (result.width, result.height)
    blocks = [sane_block(block, width, height) for block in result.blocks]
    markdown = page_markdown(blocks)
    source = source_markdown(image, blocks) if image is not None else markdown
    picture = png_base64(boxes_image(image, blocks)) if boxes and image is not None else None
    page = Page(
        index=result.index,
        width=width,
        height=height,
        markdown=markdown,
        blocks=blocks,
        flags=result.flags,
        boxes_image=picture,
    )
    return RenderedPage(page=page, source_markdown=source, raw=result.raw)


def fit_to_page(result: PageResult, width: int, height: int) -> PageResult:
    """`result` with its boxes scaled to a page image of `width` x `height` (a no-op when it fits)."""
    if (result.width, result.height) == (width, height):
        return result
    sx, sy = width / result.width, height / result.height
    blocks = [
        b.model_copy(update={"bbox": (b.bbox[0] * sx, b.bbox[1] * sy, b.bbox[2] * sx, b.bbox[3] * sy)})
        for b in result.blocks
    ]
    return result.model_copy(update={"width": width, "height": height, "blocks": blocks})


def wants_boxes(mode: BoxesMode, position: int) -> bool:
    return mode == "all" or (mode == "first" and position == 0)


def assemble_response(
    backend: str, image_name: str | None, rendered: Sequence[RenderedPage], request_id: str = ""
) -> OCRResponse:
    """The unified response for one backend from its rendered pages (any order).

    `raw_result` holds the engine's output keyed by backend: the page's own for a one-page
    document, a list with one entry per page otherwise.
    """
    ordered = sorted(rendered, key=lambda r: r.page.index)
    raws = [r.raw for r in ordered]
    return OCRResponse(
        request_id=request_id,
        backend=backend,
        image_name=image_name,
        markdown=document_markdown([r.page.markdown for r in ordered]),
        source_markdown=document_markdown([r.source_markdown for r in ordered]),
        boxes_image=ordered[0].page.boxes_image if ordered else None,
        pages=[r.page for r in ordered],
        raw_result={backend: raws[0] if len(raws) == 1 else raws},
    )
