"""Pictures of a page: the boxes picture (SVG: the page, every block boxed and labelled in its kind's
colour) and a region cropped out.

The boxes picture is vector boxes over a raster page: the upload's own bytes where a browser shows
them as the page (`page_href`: nothing decoded or encoded, about 0.1 ms for a small page), else a
preview of the page's pixels (`preview_jpeg`). Drawn into the pixels and encoded as JPEG, the same
picture took 2.4 ms for a 640x480 page, most of it encoding (measured on 16 cores; README,
Performance), and its boxes blurred with the page when scaled.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from xml.sax.saxutils import escape

import pybase64
from PIL import Image

from ocrgate.schema import Block, Box

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
# A preview is the page scaled down by a whole factor (Pillow's `reduce`, a box average, about 2 ms for
# an A4 page where a resampling `resize` takes 30-60 ms) until its shorter side is at most
# PREVIEW_SHORT_SIDE pixels and it has at most PREVIEW_MAX_PIXELS, then JPEG at PREVIEW_JPEG_QUALITY
# (about 1 ms and 80 KB for a 150-dpi A4 page halved; measured on the build machine). The shorter side
# rules, not the longer: a 576 x 9220 receipt stays legible (capping the longer side at 1000 made it
# 58 pixels wide).
PREVIEW_SHORT_SIDE = 1000
PREVIEW_MAX_PIXELS = 6_000_000
PREVIEW_JPEG_QUALITY = 80
#: lines and labels are this many pixels on a page whose shorter side is LABEL_SCALE_SIDE pixels,
#: larger on a larger page: the same size on screen when the page is shown as wide as a screen
LINE_WIDTH, LABEL_SIZE, LABEL_SCALE_SIDE = 2, 12, 1000
#: a label's background is this opaque, so the text under it shows through
LABEL_OPACITY = 0.8
#: a monospace font's advance, in ems (DejaVu Sans Mono 0.602, Courier 0.6): a label's box fits its text
MONOSPACE_ADVANCE = 0.6
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)
#: the page image's `href` while the SVG is written; the `data:` URL goes in after, in one copy: written
#: through ElementTree, an A4 page's 384 KB of base64 was scanned and copied several more times
_HREF_SLOT = "#page-image"
#: what an attribute value in double quotes must not hold as itself (XML 1.0, sections 2.3 and 3.3.3)
_ATTRIBUTE_ESCAPES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def _attribute(value: str) -> str:
    """`value` escaped for an attribute in double quotes. A `data:` URL in base64 needs nothing, which
    `in` finds out fast (3.5 us for an A4 page's URL, where each `str.replace` took 110 us)."""
    if any(char in value for char in '&<>"\n\r\t'):
        return escape(value, _ATTRIBUTE_ESCAPES)
    return value


def png_base64(image: Image.Image) -> str:
    """`image` as a base64-encoded PNG (ASCII)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return pybase64.b64encode_as_string(buffer.getvalue())


def page_href(data: bytes | str, media_type: str) -> str:
    """An image file as a `data:` URL (RFC 2397), base64 (`data`: the file's bytes, or already base64):
    how the boxes picture carries its page image."""
    encoded = data if isinstance(data, str) else pybase64.b64encode_as_string(data)
    return f"data:{media_type};base64,{encoded}"


def preview_jpeg(image: Image.Image) -> bytes:
    """A preview of the page `image`: scaled down by the smallest whole factor that brings its shorter
    side to at most PREVIEW_SHORT_SIDE pixels and its area to at most PREVIEW_MAX_PIXELS, JPEG at
    PREVIEW_JPEG_QUALITY."""
    factor = max(1, -(-min(image.width, image.height) // PREVIEW_SHORT_SIDE))
    while (image.width // factor) * (image.height // factor) > PREVIEW_MAX_PIXELS:
        factor += 1
    canvas = image if image.mode == "RGB" else image.convert("RGB")
    if factor > 1:
        canvas = canvas.reduce(factor)
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=PREVIEW_JPEG_QUALITY)
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{round(value, 1):g}"


def _luminance(colour: str) -> float:
    """The relative luminance of a `#rrggbb` colour (WCAG 2.1, section 1.4.3's definition)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def label_ink(colour: str) -> str:
    """Black or white, whichever contrasts more with a label's `#rrggbb` background (WCAG 2.1's
    contrast ratio, (L1 + 0.05) / (L2 + 0.05))."""
    background = _luminance(colour)
    return "#000000" if (background + 0.05) / 0.05 >= 1.05 / (background + 0.05) else "#ffffff"


def boxes_svg(blocks: Sequence[Block], width: int, height: int, href: str) -> str:
    """The boxes picture: an SVG document of `width` x `height` (the page's pixels, its user units)
    showing the page image at `href` (a `data:` URL, stretched over the whole page) on white, each
    block's box outlined in its kind's colour (KIND_COLOURS) and labelled `N kind` above its top-left
    corner (inside it, for a box at the top of the page), N its place in reading order from 1, in
    black or white on the kind's colour (`label_ink`). Returned as text, without an XML declaration (UTF-8
    when written to a file, as a `.svg` file is read by default).

    Block boxes are in the page's pixels and must be finite (`Block.sanitised` first).
    """
    scale = max(1.0, min(width, height) / LABEL_SCALE_SIDE)
    size, line = LABEL_SIZE * scale, LINE_WIDTH * scale
    high = size + 2 * scale  # a label's height
    root = ET.Element(
        f"{{{SVG_NS}}}svg",
        {"version": "1.1", "width": str(width), "height": str(height), "viewBox": f"0 0 {width} {height}"},
    )
    ET.SubElement(root, f"{{{SVG_NS}}}rect", {"width": str(width), "height": str(height), "fill": "white"})
    ET.SubElement(
        root,
        f"{{{SVG_NS}}}image",
        {
            "width": str(width),
            "height": str(height),
            "preserveAspectRatio": "none",
            f"{{{XLINK_NS}}}href": _HREF_SLOT,
        },
    )
    outlines = ET.SubElement(root, f"{{{SVG_NS}}}g", {"fill": "none", "stroke-width": _number(line)})
    labels = ET.SubElement(root, f"{{{SVG_NS}}}g", {"font-family": "monospace", "font-size": _number(size)})
    for number, block in enumerate(blocks, start=1):
        colour = KIND_COLOURS.get(block.kind, "#000000")
        x0, y0, x1, y1 = block.bbox
        ET.SubElement(
            outlines,
            f"{{{SVG_NS}}}rect",
            {
                "x": _number(x0),
                "y": _number(y0),
                "width": _number(max(0.0, x1 - x0)),
                "height": _number(max(0.0, y1 - y0)),
                "stroke": colour,
            },
        )
        text = f"{number} {block.kind}"
        top = y0 - high if y0 >= high else y0
        ET.SubElement(
            labels,
            f"{{{SVG_NS}}}rect",
            {
                "x": _number(x0),
                "y": _number(top),
                "width": _number(len(text) * MONOSPACE_ADVANCE * size + 4 * scale),
                "height": _number(high),
                "fill": colour,
                "fill-opacity": str(LABEL_OPACITY),
            },
        )
        label = ET.SubElement(
            labels,
            f"{{{SVG_NS}}}text",
            {"x": _number(x0 + 2 * scale), "y": _number(top + size * 0.85), "fill": label_ink(colour)},
        )
        label.text = text
    before, after = ET.tostring(root, encoding="unicode").split(_HREF_SLOT, 1)
    return "".join((before, _attribute(href), after))


def crop(image: Image.Image, box: Box) -> Image.Image:
    """The pixels of `image` under `box` (clamped to the image first); a 1x1 white image when empty."""
    x0, y0, x1, y1 = box.clamped(image.width, image.height).pixels()
    if x1 <= x0 or y1 <= y0:
        return Image.new("RGB", (1, 1), "white")
    return image.crop((x0, y0, x1, y1))
