"""Pictures of a page: every block boxed and labelled in its kind's colour; a region cropped out."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

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
# The boxes picture is a preview: the page scaled down by a whole factor (Pillow's `reduce`, a box
# average, about 2 ms for an A4 page where a resampling `resize` takes 30-60 ms) to at most this many
# pixels a side, then JPEG at BOXES_JPEG_QUALITY (about 1 ms and 80 KB for a 150-dpi A4 page halved;
# PNG took 80 ms at full size). Measured on the build machine; see the README's Performance section.
BOXES_MAX_SIDE = 1000
BOXES_JPEG_QUALITY = 80


_FONTS = threading.local()


def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at `size` pixels, loaded once per size and thread: loading it costs about
    0.5 ms, a quarter of a small page's whole boxes picture (measured on the build machine). One per
    thread because a FreeType face may be used by one thread at a time (FreeType's `FT_Face` docs)."""
    fonts: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = _FONTS.__dict__.setdefault("by_size", {})
    if size not in fonts:
        fonts[size] = ImageFont.load_default(size=size)
    return fonts[size]


def png_base64(image: Image.Image) -> str:
    """`image` as a base64-encoded PNG (ASCII)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def jpeg_base64(image: Image.Image, quality: int = BOXES_JPEG_QUALITY) -> str:
    """`image` (RGB) as a base64-encoded JPEG (ASCII) at `quality` (1-95)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def boxes_image(image: Image.Image, blocks: Sequence[Block]) -> Image.Image:
    """A copy of the page with each block boxed and labelled, scaled down by the smallest whole factor
    that brings it to at most BOXES_MAX_SIDE pixels a side (more than half of that, for a larger page).

    Block boxes are in pixels of `image` and must be finite (`Block.sanitised` first).
    """
    factor = -(-max(image.width, image.height) // BOXES_MAX_SIDE)
    canvas = image if image.mode == "RGB" else image.convert("RGB")
    canvas = canvas.reduce(factor) if factor > 1 else canvas.copy()
    scale = 1 / factor
    draw = ImageDraw.Draw(canvas)
    font = label_font(max(10, round(14 * max(scale, 0.75))))
    width = max(1, round(2 * max(scale, 0.5)))
    for number, block in enumerate(blocks, start=1):
        colour = KIND_COLOURS.get(block.kind, "#000000")
        x0, y0, x1, y1 = block.bbox.scaled(scale, scale)
        draw.rectangle((x0, y0, max(x0, x1), max(y0, y1)), outline=colour, width=width)
        label = f"{number} {block.kind}"
        left, top, right, bottom = draw.textbbox((x0, y0), label, font=font)
        label_top = max(0.0, y0 - (bottom - top) - 2)
        draw.rectangle((x0, label_top, x0 + right - left + 4, label_top + bottom - top + 2), fill=colour)
        draw.text((x0 + 2, label_top), label, fill="white", font=font)
    return canvas


def crop(image: Image.Image, box: Box) -> Image.Image:
    """The pixels of `image` under `box` (clamped to the image first); a 1x1 white image when empty."""
    x0, y0, x1, y1 = box.clamped(image.width, image.height).pixels()
    if x1 <= x0 or y1 <= y0:
        return Image.new("RGB", (1, 1), "white")
    return image.crop((x0, y0, x1, y1))
