"""One page result rendered against its page image, and the unified response assembled from pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pybase64
from PIL import Image
from pydantic import BaseModel, Field

from ocrgate.render.agreement import agreement, text_layer_pages
from ocrgate.render.boxes import boxes_svg, crop, page_href, png_base64, preview_jpeg
from ocrgate.render.markdown import NOT_IN_MARKDOWN, block_markdown, document_markdown, page_markdown
from ocrgate.schema import (
    Block,
    CompareResponse,
    ErrorInfo,
    OCRResponse,
    Page,
    PageResult,
    Timings,
)
from ocrgate.structure.orientation import as_read

BoxesMode = Literal["all", "first", "none"]


def source_markdown(image: Image.Image, blocks: Sequence[Block]) -> str:
    """Page markdown whose figures are embedded as cropped PNG data URIs, ready to render as HTML."""
    parts: list[str] = []
    figures = 0
    for block in blocks:
        if block.kind in NOT_IN_MARKDOWN:
            continue
        if block.kind == "figure":
            figures += 1
            data = png_base64(crop(image, block.bbox))
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
    timings: Timings | None = Field(
        default=None, description="seconds this page took in each stage, for this backend (the flow's)"
    )

    @property
    def read(self) -> bool:
        """Whether the page was read: not flagged `failed: <reason>` (`failed`)."""
        return not any(flag.startswith("failed: ") for flag in self.page.flags)

    @classmethod
    def failed(cls, index: int, reason: str) -> RenderedPage:
        """A page that could not be read: empty, flagged `failed: <reason>`."""
        page = Page(index=index, width=0, height=0, markdown="", blocks=[], flags=[f"failed: {reason}"])
        return cls(page=page, source_markdown="")


def page_preview(result: PageResult, image: Image.Image) -> str:
    """The preview the boxes picture of `result` shows (base64 JPEG, `PageResult.page_preview`) of
    `image`, the page as it was sent to the engine: turned upright first where the result says it was
    read turned (`rotated: N`). What a worker asked for it sends with the result; the picture itself
    is made by `render_page`, from typed blocks."""
    return pybase64.b64encode_as_string(preview_jpeg(as_read(image, result.flags)))


def needs_pixels(result: PageResult, boxes: bool, shown: bool = False) -> bool:
    """Whether rendering `result` needs its page's pixels: figures to crop for the source markdown,
    or a boxes picture wanted that neither the result brings along nor the upload makes (`shown`: the
    picture shows the upload itself, `render_page`'s `shown`)."""
    wanted = boxes and not result.page_preview and not shown
    return wanted or any(block.kind == "figure" for block in result.blocks)


# Rendering costs about 5 us per block, line and word (sanitising each box dominates: 2.2 ms for an A4
# page of 26 blocks and 372 words, 0.3 ms for a page of 60 words, measured on the build machine); a
# hand-off to a thread and back costs an event loop about as much as that 0.3 ms, and more under load.
CHEAP_RENDER_PARTS = 64


def cheap_to_render(result: PageResult, boxes: bool, shown: bool = False) -> bool:
    """Whether rendering `result` costs less than handing it to a thread: no pixels needed
    (`needs_pixels`) and at most CHEAP_RENDER_PARTS blocks, lines and words."""
    if needs_pixels(result, boxes, shown):
        return False
    parts = sum(1 + len(b.lines) + sum(len(line.words) for line in b.lines) for b in result.blocks)
    return parts <= CHEAP_RENDER_PARTS


def render_page(
    result: PageResult, image: Image.Image | None, boxes: bool, shown: str | None = None
) -> RenderedPage:
    """Render one page result against the image its boxes refer to (None when not at hand).

    Every block is `Block.sanitised` against that image's size (the result's size when there is no
    image): boxes clamped, non-finite scores dropped, table HTML cleaned, so whatever a worker
    answers renders and serialises. With `boxes`, the page gets its boxes picture (`boxes_svg`) over:
    the preview the result brings (made by the worker that had the pixels), else `shown` (a `data:` URL
    of the upload itself, `boxes.page_href`, where a browser shows it as these pixels: nothing decoded
    or encoded), else a preview of `image`.
    """
    width, height = (image.width, image.height) if image is not None else (result.width, result.height)
    blocks = [block.sanitised(width, height) for block in result.blocks]
    markdown = page_markdown(blocks)
    source = source_markdown(image, blocks) if image is not None else markdown
    picture = None
    if boxes:
        href = shown
        if result.page_preview:
            href = page_href(result.page_preview, "image/jpeg")
        elif href is None and image is not None:
            href = page_href(preview_jpeg(image), "image/jpeg")
        if href is not None:
            picture = boxes_svg(blocks, width, height, href)
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


def wants_boxes(mode: BoxesMode, position: int) -> bool:
    """Whether the page at `position` (0-based) gets a boxes picture under `mode`."""
    return mode == "all" or (mode == "first" and position == 0)


def assemble_response(
    backend: str,
    image_name: str | None,
    rendered: Sequence[RenderedPage],
    request_id: str = "",
    **fields: Any,
) -> OCRResponse:
    """The unified response for one backend from its rendered pages (any order).

    The document's markdown is the pages' joined by `document_markdown` (a `<!-- page N -->` line
    between pages). `raw_result` holds the engine's output keyed by backend: the page's own for a one-page
    document, a list with one entry per page otherwise. `fields`: the response's other fields
    (`success`, `status`, `timings`, ...), set as it is made.
    """
    ordered = sorted(rendered, key=lambda r: r.page.index)
    raws = [r.raw for r in ordered]
    return OCRResponse(
        request_id=request_id,
        backend=backend,
        image_name=image_name,
        markdown=document_markdown((r.page.index, r.page.markdown) for r in ordered),
        source_markdown=document_markdown((r.page.index, r.source_markdown) for r in ordered),
        pages=[r.page for r in ordered],
        raw_result={backend: raws[0] if len(raws) == 1 else raws},
        **fields,
    )


def respond(
    names: Sequence[str],
    pages: Mapping[str, Sequence[RenderedPage]],
    image_name: str | None,
    request_id: str,
    timings: Mapping[str, Timings] | None = None,
    success: bool = True,
    failed: Mapping[str, ErrorInfo] | None = None,
    page_count: int | None = None,
) -> OCRResponse | CompareResponse:
    """The unified response: one backend's `OCRResponse`, or a `CompareResponse` for several.

    Each backend's `status` is `complete` when every page it has is read and, with `page_count` (a
    job's whole document), it has that many; else `partial`.

    `failed`: backends that read no page, with why; in a comparison each of them answers
    `success: false` with that `error` (and its failed pages), beside the others' results, and is
    left out of the agreement. So are the pages every backend took from the PDF's text layer
    (`agreement.text_layer_pages`, listed in `text_layer_pages`): no engine read them."""
    results: dict[str, OCRResponse] = {}
    for name in names:
        own = pages.get(name, ())
        read = [page for page in own if page.read]
        whole = len(read) == len(own) and page_count in (None, len(read))
        fields: dict[str, Any] = {"success": success, "status": "complete" if whole else "partial"}
        if failed and name in failed:
            fields.update(success=False, error=failed[name])
        if timings and name in timings:
            fields.update(timings=timings[name], processing_time=timings[name].total)
        results[name] = assemble_response(name, image_name, own, request_id=request_id, **fields)
    if len(names) == 1:
        return results[names[0]]
    answered = {name: r for name, r in results.items() if r.error is None}
    layer_only = text_layer_pages(answered)
    return CompareResponse(
        success=success,
        request_id=request_id,
        image_name=image_name,
        backends=list(names),
        results=results,
        agreement=agreement(answered, skip=layer_only),
        text_layer_pages=layer_only,
        processing_time=max((r.processing_time for r in results.values()), default=0.0),
    )
