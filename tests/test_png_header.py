"""The intake's PNG fast path (`ocrgate.png_header`) reads every PNG as Pillow does, or leaves it to Pillow.

Each sibling of a real page (modes, resolutions, the chunks writers add, transparency, animation, and
damaged headers: bad checksums, cut short, empty, over the pixel limit) is read twice by
`image_files.image_frames`: as the intake reads it, and with the fast path turned off, so through
Pillow alone. Both must give the same frames, or the same typed error with the same message; and the
ordinary ones must really be read without Pillow.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import ocrgate.image_files as image_files
from ocrgate.config import Limits
from ocrgate.errors import OCRGateError
from ocrgate.png_header import ordinary_png
from tests.helpers import image_bytes
from tests.image_variants import ALPHA, MODES, encode

#: Pillow warns of the billion-pixel sibling before ocrgate refuses it (the intake ignores the warning)
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
IHDR_END = 8 + 25  # the signature, then the image header's chunk: length, type, 13 bytes, checksum


def chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC-32 of type and data (PNG specification, 5.3)."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def after_header(data: bytes, *chunks: bytes) -> bytes:
    return data[:IHDR_END] + b"".join(chunks) + data[IHDR_END:]


def with_header(data: bytes, change: Callable[[bytearray], None]) -> bytes:
    """`data` with its IHDR's 13 bytes changed by `change`, the checksum made right again."""
    body = bytearray(data[16:29])
    change(body)
    return data[:8] + chunk(b"IHDR", bytes(body)) + data[IHDR_END:]


def chunk_at(data: bytes, kind: bytes) -> tuple[int, int]:
    """Where the first chunk of `kind` starts and ends (its length field to its checksum)."""
    start = data.index(kind) - 4
    return start, start + 12 + struct.unpack_from(">I", data, start)[0]


def without(data: bytes, kind: bytes) -> bytes:
    start, end = chunk_at(data, kind)
    return data[:start] + data[end:]


def after_pixels(data: bytes, kind: bytes) -> bytes:
    """`data` with its chunk of `kind` moved to just before IEND, where Pillow's open does not read."""
    start, end = chunk_at(data, kind)
    moved = data[:start] + data[end:]
    iend = moved.index(b"IEND") - 4
    return moved[:iend] + data[start:end] + moved[iend:]


def palette_png(page: Image.Image, colours: int) -> bytes:
    """A grey ramp the page's size as a palette PNG of `colours` colours (Pillow writes 1, 2, 4 or 8
    bits an index for 2, 4, 16 or 256)."""
    ramp = Image.linear_gradient("L").resize(page.size)
    return image_bytes(ramp.quantize(colours), "PNG")


def read(data: bytes, limits: Limits) -> object:
    """`image_frames`'s answer, or its typed error as (type, message)."""
    try:
        return image_frames(data, limits)
    except OCRGateError as exc:
        return type(exc).__name__, exc.message


def image_frames(data: bytes, limits: Limits) -> list[image_files.Frame]:
    return image_files.image_frames(data, "image/png", limits)


@pytest.fixture(scope="module")
def page(phototest: Path) -> Image.Image:
    with Image.open(phototest) as image:
        return image.convert("RGB").crop((0, 0, 320, 120))


@pytest.fixture(scope="module")
def plain(page: Image.Image) -> bytes:
    return image_bytes(page, "PNG")


def siblings(page: Image.Image, plain: bytes) -> dict[str, bytes]:
    """The page's PNG siblings, by name."""
    files = {f"mode {v.name}": encode(v, page, "PNG") for v in MODES + ALPHA if "PNG" in v.formats}
    files["300 dpi"] = image_bytes(page, "PNG", dpi=(300, 300))
    files["72 x 96 dpi"] = image_bytes(page, "PNG", dpi=(72, 96))
    files["aspect only"] = after_header(plain, chunk(b"pHYs", struct.pack(">IIB", 2, 1, 0)))
    files["zero resolution"] = after_header(plain, chunk(b"pHYs", struct.pack(">IIB", 0, 0, 1)))
    files["two pHYs, metres then aspect"] = after_header(
        plain,
        chunk(b"pHYs", struct.pack(">IIB", 11811, 11811, 1)),
        chunk(b"pHYs", struct.pack(">IIB", 1, 1, 0)),
    )
    files["pixels cut short"] = plain[: plain.index(b"IDAT") + 20]
    for colours, bits in ((2, 1), (4, 2), (16, 4), (256, 8)):
        files[f"{bits}-bit palette without its palette"] = without(palette_png(page, colours), b"PLTE")
    files["palette after the pixels"] = after_pixels(palette_png(page, 16), b"PLTE")
    files["pHYs cut short"] = after_header(plain, chunk(b"pHYs", b"\0\0\0\1"))
    files["sRGB gAMA cHRM tIME"] = after_header(
        plain,
        chunk(b"sRGB", b"\0"),
        chunk(b"gAMA", struct.pack(">I", 45455)),
        chunk(b"cHRM", struct.pack(">8I", *range(8))),
        chunk(b"tIME", struct.pack(">HBBBBB", 2026, 12, 2, 10, 0, 0)),
    )
    files["gAMA cut short"] = after_header(plain, chunk(b"gAMA", b"\0"))
    files["text"] = after_header(plain, chunk(b"tEXt", b"Software\0a scanner"))
    files["text named dpi"] = after_header(plain, chunk(b"tEXt", b"dpi\x0072"))
    files["text named transparency"] = after_header(plain, chunk(b"tEXt", b"transparency"))
    files["compressed text"] = after_header(plain, chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"x")))
    files["colour profile"] = image_bytes(page, "PNG", icc_profile=b"\0" * 200)
    files["EXIF"] = image_bytes(page, "PNG", exif=Image.Exif().tobytes())
    files["RGB tRNS"] = image_bytes(page, "PNG", transparency=(255, 255, 255))
    frames = [page, page.transpose(Image.Transpose.ROTATE_180)]
    files["animated"] = image_bytes(frames[0], "PNG", save_all=True, append_images=frames[1:])
    files["private chunk"] = after_header(plain, chunk(b"prVt", b"anything"))
    files["unknown critical chunk"] = after_header(plain, chunk(b"ABCD", b"anything"))
    files["bad header checksum"] = plain[: IHDR_END - 1] + bytes([plain[IHDR_END - 1] ^ 1]) + plain[IHDR_END:]
    text = chunk(b"tEXt", b"Software\0x")
    files["bad text checksum"] = after_header(plain, text[:-1] + bytes([text[-1] ^ 1]))
    files["cut after its header"] = plain[:IHDR_END]
    files["cut inside its header"] = plain[:20]
    files["interlaced"] = with_header(plain, lambda h: h.__setitem__(12, 1))
    files["unknown interlace"] = with_header(plain, lambda h: h.__setitem__(12, 2))
    files["unknown filter"] = with_header(plain, lambda h: h.__setitem__(11, 1))
    files["no such bit depth"] = with_header(plain, lambda h: h.__setitem__(8, 3))
    files["zero width"] = with_header(plain, lambda h: h.__setitem__(slice(0, 4), bytes(4)))
    files["a billion pixels"] = with_header(plain, lambda h: h.__setitem__(slice(0, 4), b"\0\x0f\0\0"))
    files["pixels before header"] = plain[:8] + plain[IHDR_END:]
    return files


NAMES = list(siblings(Image.new("RGB", (8, 8), "white"), image_bytes(Image.new("RGB", (8, 8)), "PNG")))
#: the siblings the fast path reads itself; every other one it leaves to Pillow
ORDINARY = {
    "mode RGB",
    "mode L",
    "mode 1",
    "mode P",
    "mode I;16",
    "mode I;16 12-bit",
    "300 dpi",
    "72 x 96 dpi",
    "aspect only",
    "two pHYs, metres then aspect",
    "pixels cut short",
    "zero resolution",
    "sRGB gAMA cHRM tIME",
    "text",
    "interlaced",
}
ORDINARY |= {f"mode {v.name}" for v in ALPHA if "PNG" in v.formats and "tRNS" not in v.name}


@pytest.mark.parametrize("name", NAMES)
def test_a_png_reads_as_pillow_reads_it(
    name: str, page: Image.Image, plain: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = siblings(page, plain)[name]
    limits = Limits(max_page_pixels=10_000_000)
    fast = ordinary_png(data, limits.max_page_pixels)
    assert (fast is not None) == (name in ORDINARY)
    intake = read(data, limits)
    monkeypatch.setattr(image_files, "ordinary_png", lambda *_: None)
    assert intake == read(data, limits)


@pytest.mark.parametrize("colours", [2, 4, 16, 256])
def test_a_palette_png_without_its_palette_is_refused_as_corrupt(page: Image.Image, colours: int) -> None:
    """Colour type 3 needs a PLTE chunk before its pixels (PNG specification, 11.2.3): Pillow opens one
    without and decodes it black, a browser shows nothing; the intake says what is wrong instead."""
    whole = palette_png(page, colours)
    assert read(whole, Limits())[0].headers_as_stored  # type: ignore[index]
    for broken in (without(whole, b"PLTE"), after_pixels(whole, b"PLTE")):
        kind, message = read(broken, Limits())  # type: ignore[misc]
        assert kind == "CorruptFile"
        assert "palette-indexed (colour type 3) but has no palette (PLTE chunk)" in message


def test_a_png_over_the_pixel_limit_is_left_to_pillow_and_refused(plain: bytes) -> None:
    limits = Limits(max_page_pixels=1_000)
    assert ordinary_png(plain, limits.max_page_pixels) is None
    assert read(plain, limits)[0] == "ImageTooLarge"


def test_the_fast_path_reads_every_png_of_the_evaluation_set_as_pillow(
    eval_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(eval_dir.rglob("*.png"))
    assert files
    limits = Limits()
    intake = {path.name: read(path.read_bytes(), limits) for path in files}
    assert all(ordinary_png(path.read_bytes(), limits.max_page_pixels) for path in files)
    monkeypatch.setattr(image_files, "ordinary_png", lambda *_: None)
    assert intake == {path.name: read(path.read_bytes(), limits) for path in files}


@settings(max_examples=300, deadline=None)
@given(changes=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), min_size=1, max_size=4))
def test_a_png_with_bytes_changed_in_its_headers_reads_as_pillow_reads_it(
    changes: list[tuple[int, int]],
) -> None:
    """Bytes of a real PNG's first chunks changed at random (with their checksums made right again
    half the time, so that the chunk's meaning is what changes): the intake answers as Pillow does."""
    data = bytearray(_SMALL_PNG)
    for position, value in changes:
        data[position % len(data)] = value
    files = [bytes(data), _checksums_mended(bytes(data))]
    limits = Limits(max_page_pixels=10_000_000)
    for changed in files:
        intake = read(changed, limits)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(image_files, "ordinary_png", lambda *_: None)
            assert intake == read(changed, limits)


def _checksums_mended(data: bytes) -> bytes:
    """`data` with every whole chunk's CRC-32 made right (walked as long as the lengths hold)."""
    out, pos = bytearray(data), 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        end = pos + 8 + length
        if end + 4 > len(data):
            break
        out[end : end + 4] = struct.pack(">I", zlib.crc32(data[pos + 4 : end]))
        pos = end + 4
    return bytes(out)


_SMALL_PNG = image_bytes(Image.new("L", (40, 20), 255), "PNG", dpi=(200, 200))
