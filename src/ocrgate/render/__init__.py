"""Page results -> what people read: markdown, source markdown with figures, the boxes picture.

`markdown` turns blocks (and plain engine lines) into CommonMark, `boxes` makes the boxes picture (SVG)
and crops figures, `response` renders a page result and assembles the unified response.
"""

from ocrgate.render.agreement import agreement, from_text_layer, text_layer_pages
from ocrgate.render.boxes import (
    KIND_COLOURS,
    PREVIEW_JPEG_QUALITY,
    PREVIEW_SHORT_SIDE,
    boxes_svg,
    crop,
    label_ink,
    page_href,
    png_base64,
    preview_jpeg,
)
from ocrgate.render.markdown import (
    PAGE_SEPARATOR,
    block_markdown,
    document_markdown,
    escape_text,
    join_hyphenated,
    lines_markdown,
    page_markdown,
)
from ocrgate.render.response import (
    BoxesMode,
    RenderedPage,
    assemble_response,
    cheap_to_render,
    needs_pixels,
    page_preview,
    render_page,
    respond,
    source_markdown,
    wants_boxes,
)

__all__ = [
    "KIND_COLOURS",
    "PAGE_SEPARATOR",
    "PREVIEW_JPEG_QUALITY",
    "PREVIEW_SHORT_SIDE",
    "BoxesMode",
    "RenderedPage",
    "agreement",
    "assemble_response",
    "block_markdown",
    "boxes_svg",
    "cheap_to_render",
    "crop",
    "document_markdown",
    "escape_text",
    "from_text_layer",
    "join_hyphenated",
    "label_ink",
    "lines_markdown",
    "needs_pixels",
    "page_href",
    "page_markdown",
    "page_preview",
    "png_base64",
    "preview_jpeg",
    "render_page",
    "respond",
    "source_markdown",
    "text_layer_pages",
    "wants_boxes",
]
