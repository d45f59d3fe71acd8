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
  RGBa/La, a palette or colour key with transparency) is composited over white or black, whichever
  keeps more contrast, so white text on a transparent background stays readable; every other mode
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
#: pixels looked at when choosing the background for alpha: a strided sample, enough for a statistic
_SAMPLE_PIXELS = 1_000_000
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

    For big-endian BigTIFF, which Pillow 13 cannot open (it looks for version 43 at byte 2, where a
    big-endian file has it at byte 3); tifffile decodes the samples in native byte order.
    """
    values = page.asarray()
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
    """RGBA composited over the background (white or black) that keeps more contrast."""
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] == 255:  # fully opaque: nothing to composite
        return rgba.convert("RGB")
    page = Image.new("RGB", rgba.size, _contrasting_background(rgba))
    page.paste(rgba, mask=alpha)
    return page


def _contrasting_background(rgba: Image.Image) -> str:
    """ "white" or "black": the background under which the composited luminance varies more.

    Over white, dark ink stays visible and light ink vanishes; over black the reverse. The spread
    (standard deviation) of the composited luminance measures how much of the page stays visible
    (white text whose only contrast is its alpha: zero over white, large over black). Ties go to
    white, the usual paper.
    """
    pixels = np.asarray(rgba)
    step = max(1, int((pixels.shape[0] * pixels.shape[1] / _SAMPLE_PIXELS) ** 0.5))
    sample = pixels[::step, ::step].astype(np.float32)
    luminance = sample[..., :3] @ _LUMA
    opacity = sample[..., 3] / 255
    over_black = opacity * luminance
    over_white = over_black + (1 - opacity) * 255
    return "black" if float(over_black.std()) > float(over_white.std()) + 1e-3 else "white"
