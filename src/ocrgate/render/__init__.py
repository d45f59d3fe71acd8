"""Page results -> what people read: markdown, source markdown with figures, the boxes picture.

`markdown` turns blocks (and plain engine lines) into CommonMark, `boxes` draws the boxes picture and
crops figures, `response` renders a page result and assembles the unified response.
"""

from ocrgate.render.agreement import agreement, from_text_layer, text_layer_pages
from ocrgate.render.boxes import (
    BOXES_JPEG_QUALITY,
    BOXES_MAX_SIDE,
    KIND_COLOURS,
    boxes_image,
    crop,
    jpeg_base64,
    png_base64,
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
    boxes_picture,
    cheap_to_render,
    needs_pixels,
    render_page,
    respond,
    source_markdown,
    wants_boxes,
)

__all__ = [
    "BOXES_JPEG_QUALITY",
    "BOXES_MAX_SIDE",
    "KIND_COLOURS",
    "PAGE_SEPARATOR",
    "BoxesMode",
    "RenderedPage",
    "agreement",
    "assemble_response",
    "block_markdown",
    "boxes_image",
    "boxes_picture",
    "cheap_to_render",
    "crop",
    "document_markdown",
    "escape_text",
    "from_text_layer",
    "join_hyphenated",
    "jpeg_base64",
    "lines_markdown",
    "needs_pixels",
    "page_markdown",
    "png_base64",
    "render_page",
    "respond",
    "source_markdown",
    "text_layer_pages",
    "wants_boxes",
]
