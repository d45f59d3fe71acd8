"""Siblings of a page for the intake tests: every EXIF orientation, mode, bit depth and alpha variant.

Each generator takes the upright page and returns the file's bytes (or an in-memory image), built
the way the format's writers store it, so that reading it back upright and in 8-bit RGB must give
the page again (the `reference`, which for a lossy mode is that mode's own content in RGB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tests.helpers import image_bytes

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")
ORIENTATIONS = tuple(range(1, 9))
ORIENTATION_TAG = 0x0112

# the transposition that stores an upright page under each EXIF orientation (EXIF 2.3, tag 274):
# the inverse of the one a reader applies
_STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def save_params(fmt: str) -> dict[str, object]:
    """Lossless where the format allows, JPEG at quality 95 without chroma subsampling (4:4:4)."""
    return {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True}}.get(fmt, {})


def oriented(upright: Image.Image, orientation: int, fmt: str) -> bytes:
    """The page stored sideways/mirrored as a camera or scanner would, with the tag that undoes it:
    the EXIF Orientation (JPEG APP1, PNG eXIf, WebP EXIF) or the TIFF IFD's own Orientation tag."""
    stored = upright.transpose(_STORED[orientation]) if orientation in _STORED else upright
    params = save_params(fmt)
    if fmt == "TIFF":
        params["tiffinfo"] = {ORIENTATION_TAG: orientation}
    else:
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = orientation
        params["exif"] = exif.tobytes()
    return image_bytes(stored, fmt, **params)


def grey(page: Image.Image) -> np.ndarray:
    return np.asarray(page.convert("L"))


def _from_array(values: np.ndarray, mode: str) -> Image.Image:
    return Image.frombytes(mode, (values.shape[1], values.shape[0]), values.tobytes())


@dataclass(frozen=True)
class Variant:
    """A way to store the page: the image in its mode, the formats that can hold it, and the page
    as 8-bit RGB with the same content (what reading the variant back must give)."""

    name: str
    build: Callable[[Image.Image], Image.Image]
    formats: tuple[str, ...]
    reference: Callable[[Image.Image], Image.Image]


def _grey_rgb(page: Image.Image) -> Image.Image:
    return page.convert("L").convert("RGB")


def _bilevel(page: Image.Image) -> Image.Image:
    return Image.fromarray(np.where(grey(page) > 128, 255, 0).astype(np.uint8)).convert("RGB")


def _palette(page: Image.Image) -> Image.Image:
    return page.convert("RGB").quantize(256)


def _rgb(page: Image.Image) -> Image.Image:
    return page.convert("RGB")


MODES: tuple[Variant, ...] = (
    Variant("RGB", _rgb, FORMATS, _rgb),
    Variant("L", lambda p: p.convert("L"), FORMATS, _grey_rgb),
    Variant("1", lambda p: _bilevel(p).convert("1", dither=Image.Dither.NONE), ("PNG", "TIFF"), _bilevel),
    Variant("P", _palette, ("PNG", "TIFF"), lambda p: _palette(p).convert("RGB")),
    Variant("CMYK", lambda p: _rgb(p).convert("CMYK"), ("JPEG", "TIFF"), _rgb),
    Variant("YCbCr", lambda p: _rgb(p).convert("YCbCr"), ("TIFF",), _rgb),
    Variant("LAB", lambda p: _rgb(p).convert("LAB"), ("TIFF",), _rgb),
    # 16 bits a sample, full range, little- and big-endian
    Variant("I;16", lambda p: _from_array(grey(p).astype("<u2") * 257, "I;16"), ("PNG", "TIFF"), _grey_rgb),
    Variant("I;16B", lambda p: _from_array(grey(p).astype(">u2") * 257, "I;16B"), ("TIFF",), _grey_rgb),
    # 12-bit data in 16-bit samples (many scanners and cameras): only its real range has contrast
    Variant(
        "I;16 12-bit", lambda p: _from_array(grey(p).astype("<u2") * 16, "I;16"), ("PNG", "TIFF"), _grey_rgb
    ),
    # 32-bit signed integers with an offset, and 32-bit floats in 0..1
    Variant("I", lambda p: _from_array(grey(p).astype("<i4") * 65536 - 2**23, "I"), ("TIFF",), _grey_rgb),
    Variant("F", lambda p: _from_array(grey(p).astype("<f4") / 255, "F"), ("TIFF",), _grey_rgb),
)


def _with_alpha(colour: int | tuple[int, int, int], page: Image.Image, mode: str = "RGBA") -> Image.Image:
    """Text of one colour whose only shape is its alpha (ink = 255 - grey), on a clear background."""
    ink = Image.fromarray(255 - grey(page))
    base = Image.new("RGB" if mode == "RGBA" else "L", page.size, colour)
    base.putalpha(ink)
    return base


def _white_text_palette(page: Image.Image) -> Image.Image:
    """A palette page (P) whose background index is transparent (PNG tRNS) and text white."""
    text = grey(page) <= 128
    indices = np.where(text, 1, 0).astype(np.uint8)
    image = Image.fromarray(indices, "L").convert("P")
    image.putpalette([0, 0, 0, 255, 255, 255])
    image.info["transparency"] = 0
    return image


def _white_text_pa(page: Image.Image) -> Image.Image:
    image = Image.new("P", page.size, 1)
    image.putpalette([0, 0, 0, 255, 255, 255])
    image = image.convert("PA")
    image.putalpha(Image.fromarray(255 - grey(page)))
    return image


def _clear_margin(page: Image.Image) -> Image.Image:
    """The page on a canvas a sixth larger each way, the border fully transparent."""
    canvas = Image.new("RGBA", (page.width * 7 // 6, page.height * 7 // 6), (255, 255, 255, 0))
    canvas.paste(page.convert("RGBA"), (page.width // 12, page.height // 12))
    return canvas


def _rgb_in_margin(page: Image.Image) -> Image.Image:
    """What a composite keeps of `_clear_margin`: the page, its border black (the contrasting
    background for a light page) or white; black here, as the page is mostly white paper."""
    canvas = Image.new("RGB", (page.width * 7 // 6, page.height * 7 // 6), "black")
    canvas.paste(page.convert("RGB"), (page.width // 12, page.height // 12))
    return canvas


def _half_clear(page: Image.Image) -> Image.Image:
    image = page.convert("RGBA")
    image.putalpha(128)
    return image


ALPHA: tuple[Variant, ...] = (
    # text of one colour drawn by its alpha alone: read back as dark ink on white, whatever its colour
    Variant("RGBA black text", lambda p: _with_alpha((0, 0, 0), p), ("PNG", "WEBP", "TIFF"), _grey_rgb),
    Variant("RGBA white text", lambda p: _with_alpha((255, 255, 255), p), ("PNG", "WEBP", "TIFF"), _grey_rgb),
    Variant("RGBA yellow text", lambda p: _with_alpha((255, 230, 0), p), ("PNG", "WEBP", "TIFF"), _grey_rgb),
    Variant("LA black text", lambda p: _with_alpha(0, p, "LA"), ("PNG", "TIFF"), _grey_rgb),
    Variant("LA white text", lambda p: _with_alpha(255, p, "LA"), ("PNG", "TIFF"), _grey_rgb),
    Variant("PA white text", _white_text_pa, ("TIFF",), _grey_rgb),
    Variant("P tRNS white text", _white_text_palette, ("PNG",), _bilevel),
    # a whole page made translucent: the alpha has no shape, the page reads as it is
    Variant("RGBA half-clear page", _half_clear, ("PNG", "WEBP", "TIFF"), _rgb),
    # an opaque page with a clear margin: composited, the page's own contrast untouched
    Variant("RGBA clear margin", _clear_margin, ("PNG", "WEBP", "TIFF"), _rgb_in_margin),
)


def encode(variant: Variant, page: Image.Image, fmt: str) -> bytes:
    image = variant.build(page)
    params = save_params(fmt)
    if "transparency" in image.info:
        params["transparency"] = image.info["transparency"]
    return image_bytes(image, fmt, **params)
