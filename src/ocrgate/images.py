"""Decoded image frames -> upright 8-bit RGB pages, whatever the format, mode and bit depth.

Every image page goes through `normalise` once, at intake, so backends only ever see upright RGB:

- **Which frames are pages** (`page_frames`): every image of a TIFF, except the reduced-resolution
  copies and transparency masks its NewSubfileType tag (254) marks; only the primary image of
  anything else (an MPO's preview and gain-map images, an animation's later frames).
- **Orientation** (`upright`): the EXIF Orientation tag (274) wherever Pillow finds it (JPEG and MPO
  APP1, PNG eXIf, WebP EXIF, the TIFF IFD's own tag) or XMP's `tiff:Orientation`, applied with
  `PIL.ImageOps.exif_transpose`. Values 2-8 are the EXIF 2.3 spec's mirrorings and rotations.
- **Modes** (`to_rgb`): 16- and 32-bit integer and 32-bit float data (`I;16`, `I;16B`, `I`, `F`, ...)
  are scaled from their real range (the smallest to the largest finite value) to 0-255, so 12-bit
  data in 16-bit words and floats in 0..1 keep their contrast; alpha (RGBA, LA, PA, premultiplied
  RGBa/La, a palette or colour key with transparency) is flattened so the text keeps its contrast:
  text of one colour drawn by its alpha alone (white text on a clear background) becomes dark ink
  on white, a uniform alpha (a translucent page) is ignored, anything else is composited over white
  or black, whichever keeps more contrast; every other mode
  (1, L, P, CMYK, YCbCr, LAB, HSV, ...) goes through Pillow's own conversion.

Big-endian BigTIFF (`MM\\x00+`), which Pillow cannot open, is decoded by tifffile
(`tifffile_pages`, `tifffile_page_image`) and then goes through the same steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps

#: TIFF NewSubfileType (tag 254) bits that mark an image that is not a page of its own (TIFF 6.0, p. 36)
_SUBFILE_TAG = 254
_ORIENTATION_TAG = 274
_REDUCED_RESOLUTION, _TRANSPARENCY_MASK = 0x1, 0x4
#: modes whose samples are wider than 8 bits (Pillow's integer and float modes)
_WIDE_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA"})
_PREMULTIPLIED = {"RGBa": "RGBA", "La": "LA"}
#: pixels looked at when choosing how to flatten alpha: a strided sample, enough for a statistic
_SAMPLE_PIXELS = 1_000_000
#: an alpha channel whose values span at most this many levels has no shape (a translucent page)
_UNIFORM_ALPHA = 2
#: visible pixels whose channels spread (standard deviation) by at most this many levels are of one
#: colour: text drawn by its alpha alone
_UNIFORM_COLOUR = 10.0
# ITU-R BT.601 luma weights (the ones Pillow's own L conversion uses)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def page_frames(image: Image.Image, frame_count: int) -> list[int]:
    """Indices of the frames of an opened image that are pages of their own (see the module doc).

    `frame_count` is `image.n_frames` (checked against the page limit by the caller). The result is
    never empty: a TIFF whose every image is marked as a reduced copy still gives its first.
    """
    if image.format != "TIFF" or frame_count == 1:
        return [0]
    pages = []
    for frame in range(frame_count):
        image.seek(frame)
        if not int(image.tag_v2.get(_SUBFILE_TAG, 0)) & (_REDUCED_RESOLUTION | _TRANSPARENCY_MASK):
            pages.append(frame)
    return pages or [0]


def tifffile_page_image(page: Any) -> Image.Image:
    """A `tifffile.TiffPage` as a Pillow image carrying its Orientation tag (for `normalise`).

    For the TIFFs Pillow 13 cannot open: big-endian BigTIFF (it looks for version 43 at byte 2, where
    a big-endian file has it at byte 3) and 16- or 64-bit floating-point samples (its one float mode,
    `F`, is 32-bit: they are converted to that). tifffile decodes the samples in native byte order.
    """
    values = page.asarray()
    if values.dtype.kind == "f" and values.dtype != np.float32:
        values = values.astype(np.float32)
    if values.ndim == 3 and values.dtype != np.uint8:  # Pillow has no wide multi-channel modes
        values = np.asarray(_scaled_to_8bit_array(values.astype(np.float32)))
    image = Image.fromarray(values.squeeze() if values.ndim == 3 and values.shape[2] == 1 else values)
    orientation = page.tags.get(_ORIENTATION_TAG)
    if orientation is not None:
        image.getexif()[_ORIENTATION_TAG] = int(orientation.value)
    return image


def tifffile_pages(pages: Sequence[Any]) -> list[Any]:
    """The `tifffile.TiffPage`s that are pages of their own (the rule of `page_frames`)."""
    own = [p for p in pages if not int(p.subfiletype) & (_REDUCED_RESOLUTION | _TRANSPARENCY_MASK)]
    return own or list(pages[:1])


def normalise(frame: Image.Image) -> Image.Image:
    """One decoded frame as an upright 8-bit RGB page (a new image; `frame` is left as it was)."""
    return to_rgb(upright(frame))


def upright(frame: Image.Image) -> Image.Image:
    """The frame with its EXIF/TIFF/XMP orientation applied (a copy when there is none).

    The pixels are decoded first, so their errors propagate; metadata that cannot be parsed (a
    truncated or garbled EXIF block) leaves the frame as stored, as a viewer shows it.
    """
    frame.load()
    try:
        return ImageOps.exif_transpose(frame)
    except Exception:  # Pillow's EXIF parser raises SyntaxError, struct.error, ... on garbage
        return frame.copy()


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode Pillow decodes -> mode RGB, 8 bits a channel, keeping the text's contrast."""
    if image.mode in _WIDE_MODES:
        return _scaled_to_8bit(image).convert("RGB")
    if image.mode in _PREMULTIPLIED:  # Pillow converts La only to LA
        image = image.convert(_PREMULTIPLIED[image.mode])
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        return _flattened(image.convert("RGBA"))
    return image.convert("RGB")


def _scaled_to_8bit(image: Image.Image) -> Image.Image:
    """A one-channel wide image scaled linearly from its smallest..largest finite value to 0..255."""
    return Image.fromarray(_scaled_to_8bit_array(np.asarray(image)), "L")


def _scaled_to_8bit_array(values: np.ndarray) -> np.ndarray:
    """Samples scaled linearly from their smallest..largest finite value to uint8 0..255.

    A constant array becomes 0 when its value is 0 or less, 255 otherwise. NaN becomes 255
    (paper), +inf 255 and -inf 0.
    """
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0:
        return np.full(values.shape, 255, np.uint8)
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return np.full(values.shape, 0 if low <= 0 else 255, np.uint8)
    scaled = values.astype(np.float32)
    scaled -= low
    scaled *= 255 / (high - low)
    np.nan_to_num(scaled, copy=False, nan=255.0, posinf=255.0, neginf=0.0)
    np.clip(scaled + 0.5, 0, 255, out=scaled)
    return scaled.astype(np.uint8)


def _flattened(rgba: Image.Image) -> Image.Image:
    """RGBA as an opaque page that keeps the text's contrast (rules in `_alpha_rule`)."""
    alpha = rgba.getchannel("A")
    low, high = alpha.getextrema()
    if low == 255 or high - low <= _UNIFORM_ALPHA:  # opaque, or a whole page made translucent
        return rgba.convert("RGB")
    rule = _alpha_rule(rgba)
    if rule == "ink":
        return ImageOps.invert(alpha).convert("RGB")
    page = Image.new("RGB", rgba.size, rule)
    page.paste(rgba, mask=alpha)
    return page


def _alpha_rule(rgba: Image.Image) -> str:
    """How to flatten an RGBA page whose alpha has a shape: "ink", "white" or "black".

    - "ink": the visible pixels are all of one colour (each channel, weighted by opacity, varies by
      at most `_UNIFORM_COLOUR` levels), so the alpha alone draws the text: it becomes dark ink on
      white paper, whatever the text's colour (white or yellow text on a clear background).
    - otherwise the background, white or black, under which the composited luminance varies more:
      over white dark ink stays visible and light ink vanishes, over black the reverse. Ties go to
      white, the usual paper.

    Measured on a strided sample of about `_SAMPLE_PIXELS` pixels.
    """
    pixels = np.asarray(rgba)
    step = max(1, int((pixels.shape[0] * pixels.shape[1] / _SAMPLE_PIXELS) ** 0.5))
    sample = pixels[::step, ::step].astype(np.float32)
    colours, opacity = sample[..., :3], sample[..., 3] / 255
    weight = float(opacity.sum())
    if weight > 0:
        mean = (opacity[..., None] * colours).sum(axis=(0, 1)) / weight
        spread = np.sqrt((opacity[..., None] * (colours - mean) ** 2).sum(axis=(0, 1)) / weight)
        if float(spread.max()) <= _UNIFORM_COLOUR:
            return "ink"
    luminance = colours @ _LUMA
    over_black = opacity * luminance
    over_white = over_black + (1 - opacity) * 255
    return "black" if float(over_black.std()) > float(over_white.std()) + 1e-3 else "white"
