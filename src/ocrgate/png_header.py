"""An ordinary PNG's headers read without Pillow: the fast path of the intake's header read.

Opening a PNG with Pillow (`image_files.image_frames`) costs about 0.13 ms of the gateway's CPU per
upload in the running service (some 120 Python calls through its plugin machinery, cold in the cache
between requests): 7 % of what a small page costs the gateway in all (`bench/side_by_side.py`, issue 18).
Most PNGs hold, before their pixels, only the chunks read here, and for them the answer needs only the
image header (IHDR: size, bit depth, colour type) and the physical pixel size (pHYs: resolution).

`ordinary_png` answers only for a file whose every chunk before the first IDAT is one it knows and
whose checksums are right, so that Pillow would read it to the same size, mode and resolution without
an error; for anything else (transparency, an animation, a colour profile, compressed text, a bad
checksum, a header cut short, a palette image without its palette, a size over the limit, ...) it
answers None and the caller opens the file with Pillow as before, which raises the intake's typed
errors. The chunk layout is the PNG
specification's (W3C, Portable Network Graphics, 3rd edition, sections 5.3 and 11), the mode of each
bit depth and colour type Pillow's (`PngImagePlugin._MODES`).
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: (bit depth, colour type) -> the mode Pillow opens it in (`PIL.PngImagePlugin._MODES`)
MODES = {
    (1, 0): "1",
    (2, 0): "L",
    (4, 0): "L",
    (8, 0): "L",
    (16, 0): "I;16",
    (8, 2): "RGB",
    (16, 2): "RGB",
    (1, 3): "P",
    (2, 3): "P",
    (4, 3): "P",
    (8, 3): "P",
    (8, 4): "LA",
    (16, 4): "RGBA",
    (8, 6): "RGBA",
    (16, 6): "RGBA",
}
#: the chunks before the pixels whose reading by Pillow cannot fail or change the size, mode,
#: resolution or transparency, when they have these lengths (None: any length)
_PLAIN = {b"PLTE": None, b"sRGB": 1, b"gAMA": 4, b"cHRM": 32, b"tIME": 7, b"tEXt": None}
#: keywords of tEXt chunks that Pillow would put into `info` over what is read here
_READ_KEYS = (b"dpi", b"transparency")
#: what the text chunks may hold in all, in bytes, before Pillow is left to judge them
_TEXT_BYTES = 1 << 20
#: how many chunks before the pixels are walked here at most
_CHUNKS = 64
_HEADER = struct.Struct(">IIBBBBB")
_CHUNK = struct.Struct(">I4s")


class PngHeader(NamedTuple):
    """An ordinary PNG's header: size in pixels, Pillow's mode for it, and the resolution its pHYs
    chunk declares in dots per inch (x, y; None when it declares none in metres)."""

    width: int
    height: int
    mode: str
    dpi: tuple[float, float] | None


def ordinary_png(data: bytes, max_pixels: int) -> PngHeader | None:
    """`data`'s header when it is an ordinary PNG of at most `max_pixels` pixels (the module says
    which), else None: the caller then opens it with Pillow. Never raises on any bytes."""
    if not data.startswith(SIGNATURE):
        return None
    view = memoryview(data)
    pos, header, dpi, text, palette = len(SIGNATURE), None, None, 0, False
    for _ in range(_CHUNKS):
        if pos + 12 > len(data):
            return None
        length, kind = _CHUNK.unpack_from(data, pos)
        if kind == b"IDAT":  # the pixels: Pillow stops here too, their length and checksum unread
            return None if header is None else _answer(header, dpi, palette, max_pixels)
        end = pos + 8 + length
        if end + 4 > len(data) or zlib.crc32(view[pos + 4 : end]) != int.from_bytes(data[end : end + 4]):
            return None
        body = view[pos + 8 : end]
        if header is None:  # the first chunk must be the image header
            if kind != b"IHDR" or length != 13:
                return None
            header = _HEADER.unpack(body)
        elif kind == b"pHYs":
            if length != 9:
                return None
            x, y, unit = struct.unpack(">IIB", body)
            if unit == 1:  # metres; another unit leaves what an earlier pHYs said, as in Pillow
                dpi = (x * 0.0254, y * 0.0254)
        elif kind in _PLAIN:
            wanted = _PLAIN[kind]
            if wanted is not None and length != wanted:
                return None
            palette = palette or kind == b"PLTE"
            if kind == b"tEXt":
                text += length
                if text > _TEXT_BYTES or bytes(body[:13]).split(b"\0", 1)[0] in _READ_KEYS:
                    return None
        else:
            return None
        pos = end + 4
    return None


def _answer(
    header: tuple[int, int, int, int, int, int, int],
    dpi: tuple[float, float] | None,
    palette: bool,
    max_pixels: int,
) -> PngHeader | None:
    width, height, depth, colour, compression, filtering, interlace = header
    mode = MODES.get((depth, colour))
    if mode is None or compression or filtering or interlace > 1 or (mode == "P" and not palette):
        return None
    if not 0 < width * height <= max_pixels:
        return None
    return PngHeader(width, height, mode, dpi)
