"""Image intake: every orientation, container, mode, bit depth and alpha variant becomes the upright page.

Pixel-level checks (no OCR): each generated sibling of a real page must decode to the same picture
as the upright 8-bit original. `test_image_ocr.py` checks the same siblings through real OCR.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ocrgate import errors
from ocrgate.config import Limits
from ocrgate.documents import open_document, sniff
from ocrgate.images import to_rgb
from tests.helpers import image_bytes
from tests.image_variants import (
    ALPHA,
    FORMATS,
    MODES,
    ORIENTATION_TAG,
    ORIENTATIONS,
    encode,
    oriented,
    save_params,
)

BUGS = Path(__file__).resolve().parents[1].parent / "shared" / "bugs"


@pytest.fixture(scope="module")
def page(phototest: Path) -> Image.Image:
    return Image.open(phototest).convert("RGB")


def bug_file(name: str) -> bytes:
    path = BUGS / name
    if not path.is_file():
        pytest.skip(f"{path} not found (shared/bugs sits beside the checkout)")
    return path.read_bytes()


def decoded(data: bytes) -> Image.Image:
    document = open_document(data, "upload")
    assert document.page_count == 1
    image = document.page(0).image
    assert image.mode == "RGB"
    return image


def assert_same_picture(image: Image.Image, reference: Image.Image, min_correlation: float = 0.97) -> None:
    """Same size, grey levels that go together, and at least half the reference's contrast."""
    assert image.size == reference.size
    got = np.asarray(image.convert("L"), dtype=np.float64).ravel()
    want = np.asarray(reference.convert("L"), dtype=np.float64).ravel()
    assert np.corrcoef(got, want)[0, 1] >= min_correlation
    spread = np.percentile(got, 99) - np.percentile(got, 1)
    assert spread >= 0.5 * (np.percentile(want, 99) - np.percentile(want, 1))


# --- orientation -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_every_orientation_in_every_format_comes_out_upright(
    page: Image.Image, orientation: int, fmt: str
) -> None:
    image = decoded(oriented(page, orientation, fmt))
    assert_same_picture(image, page, 0.99 if fmt != "JPEG" else 0.97)


def test_orientation_in_xmp_is_applied(page: Image.Image) -> None:
    from PIL.PngImagePlugin import PngInfo

    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    data = image_bytes(page.transpose(Image.Transpose.ROTATE_90), "PNG", pnginfo=info)
    assert_same_picture(decoded(data), page, 0.99)


def multi_page_tiff(*frames: tuple[Image.Image, dict[int, int]]) -> bytes:
    """A TIFF whose every page carries its own tags (Pillow takes each appended image's encoderinfo)."""
    first, *rest = frames
    for image, tags in rest:
        image.encoderinfo = {"tiffinfo": tags}
    images = [image.copy() if i else image for i, (image, _) in enumerate(frames)]
    for copy, (_, tags) in zip(images[1:], rest, strict=True):
        copy.encoderinfo = {"tiffinfo": tags}
    return image_bytes(images[0], "TIFF", save_all=True, append_images=images[1:], tiffinfo=first[1])


def test_each_tiff_page_keeps_its_own_orientation(page: Image.Image) -> None:
    sideways = page.transpose(Image.Transpose.ROTATE_90)  # how orientation 6 stores the page
    upside_down = page.transpose(Image.Transpose.ROTATE_180)  # orientation 3
    data = multi_page_tiff(
        (sideways, {ORIENTATION_TAG: 6}), (page, {ORIENTATION_TAG: 1}), (upside_down, {ORIENTATION_TAG: 3})
    )
    document = open_document(data, "three.tif")
    assert document.page_count == 3
    for decoded_page in document.iter_pages():
        assert_same_picture(decoded_page.image, page, 0.99)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
@pytest.mark.parametrize("exif", [b"\xc5\xd7\x14\x84\xf8\xcf\x9b\xf4junk", b"II*\x00\x08\x00"])
def test_garbled_exif_leaves_the_page_as_stored(page: Image.Image, fmt: str, exif: bytes) -> None:
    data = image_bytes(page, fmt, exif=exif, **save_params(fmt))
    assert_same_picture(decoded(data), page, 0.97)


# --- multi-picture containers --------------------------------------------------------------------


def test_phone_photo_mpo_is_one_upright_page(page: Image.Image) -> None:
    """The bug file: EXIF orientation 6 plus an MPF preview; it must read like its JPEG control."""
    control = decoded(bug_file("jpeg_exif6.jpg"))
    photo = decoded(bug_file("mpo_exif6.jpg"))
    assert photo.size == control.size == (640, 480)
    assert_same_picture(photo, page)
    assert_same_picture(photo, control, 0.99)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_generated_mpo_gives_its_primary_image_upright(page: Image.Image, orientation: int) -> None:
    stored = page.transpose(Image.Transpose.ROTATE_90) if orientation == 6 else page
    if orientation not in (1, 6):
        stored = Image.open(io.BytesIO(oriented(page, orientation, "PNG"))).convert("RGB")
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    preview = stored.resize((stored.width // 4, stored.height // 4))
    data = image_bytes(stored, "MPO", save_all=True, append_images=[preview], exif=exif.tobytes(), quality=95)
    with Image.open(io.BytesIO(data)) as check:
        assert check.format == "MPO" and check.n_frames == 2
    assert_same_picture(decoded(data), page)


@pytest.mark.parametrize("subfile_type", [1, 4, 5])
def test_tiff_reduced_resolution_copy_or_mask_is_not_a_page(page: Image.Image, subfile_type: int) -> None:
    """TIFF NewSubfileType bit 0 marks a reduced copy (a thumbnail), bit 2 a transparency mask."""
    second = page.transpose(Image.Transpose.ROTATE_180)
    data = multi_page_tiff((page, {}), (page.resize((160, 120)), {254: subfile_type}), (second, {254: 0}))
    with Image.open(io.BytesIO(data)) as check:
        assert check.n_frames == 3
        check.seek(1)
        assert check.tag_v2.get(254) == subfile_type
    document = open_document(data, "with-thumbnail.tif")
    assert document.page_count == 2
    assert_same_picture(document.page(0).image, page, 0.99)
    assert_same_picture(document.page(1).image, second, 0.99)


def test_tiff_of_only_reduced_copies_still_gives_its_first(page: Image.Image) -> None:
    data = multi_page_tiff((page, {254: 1}), (page.resize((160, 120)), {254: 1}))
    assert open_document(data, "odd.tif").page_count == 1


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animation_is_its_first_frame(page: Image.Image, fmt: str) -> None:
    second = page.transpose(Image.Transpose.ROTATE_180)
    params = {"lossless": True} if fmt == "WEBP" else {}
    data = image_bytes(page, fmt, save_all=True, append_images=[second, second], duration=100, **params)
    with Image.open(io.BytesIO(data)) as check:
        assert check.n_frames >= 2  # APNG merges identical neighbours
    assert_same_picture(decoded(data), page, 0.99)


# --- modes and bit depths ------------------------------------------------------------------------


MODE_CASES = [(v, fmt) for v in MODES for fmt in v.formats]


@pytest.mark.parametrize(("variant", "fmt"), MODE_CASES, ids=[f"{v.name}-{f}" for v, f in MODE_CASES])
def test_every_mode_and_bit_depth_keeps_the_contrast(page: Image.Image, variant, fmt: str) -> None:  # type: ignore[no-untyped-def]
    image = decoded(encode(variant, page, fmt))
    assert_same_picture(image, variant.reference(page), 0.95 if fmt == "JPEG" else 0.98)


def test_big_endian_16_bit_tiff_reads_like_little_endian() -> None:
    big, little = decoded(bug_file("tiff16_bigendian.tif")), decoded(bug_file("tiff16_littleendian.tif"))
    assert np.array_equal(np.asarray(big), np.asarray(little))
    assert_same_picture(big, Image.open(BUGS.parent / "eval/tesseract_test/images/phototest.png"), 0.99)


def test_bigtiff_is_sniffed_and_read(page: Image.Image) -> None:
    data = bug_file("bigtiff.tif")
    assert data[:4] == b"II+\x00" and sniff(data) == "image/tiff"
    assert_same_picture(decoded(data), page, 0.99)
    assert sniff(b"MM\x00+\x00\x08\x00\x00") == "image/tiff"


def tifffile_bytes(pages: list[tuple[np.ndarray, dict]], byteorder: str) -> bytes:  # type: ignore[type-arg]
    """A BigTIFF written by tifffile in the given byte order; each page (samples, extra tags)."""
    import tifffile

    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer, bigtiff=True, byteorder=byteorder) as writer:
        for values, tags in pages:
            extratags = [(tag, "H", 1, value, True) for tag, value in tags.items() if tag != 254]
            writer.write(values, subfiletype=tags.get(254, 0), extratags=extratags, photometric="minisblack")
    return buffer.getvalue()


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("bits", [8, 16])
def test_bigtiff_in_both_byte_orders(page: Image.Image, byteorder: str, bits: int) -> None:
    """Pillow reads little-endian BigTIFF; big-endian (MM\\x00+) goes through tifffile, same rules:
    orientation applied, the real range scaled, a reduced-resolution copy skipped."""
    grey = np.asarray(page.convert("L"))
    values = grey.astype(np.uint16) * 16 if bits == 16 else grey  # 12-bit data in 16-bit samples
    sideways = np.rot90(values, 1).copy()  # how orientation 6 stores the upright page
    thumbnail = values[::4, ::4].copy()
    data = tifffile_bytes([(sideways, {274: 6}), (thumbnail, {254: 1}), (values, {})], byteorder)
    assert data[:4] == (b"II+\x00" if byteorder == "<" else b"MM\x00+") and sniff(data) == "image/tiff"
    document = open_document(data, "big.tif")
    assert document.page_count == 2
    for decoded_page in document.iter_pages():
        assert_same_picture(decoded_page.image, page, 0.99)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_floating_point_tiffs_of_every_width_are_read(page: Image.Image, dtype: str, byteorder: str) -> None:
    """Samples 0..1 in 16, 32 or 64-bit floats (scientific and archival imaging write them): Pillow
    opens only 32-bit ones; tifffile reads the others in its stead, the same page comes out."""
    import tifffile

    values = (np.asarray(page.convert("L"), dtype=np.float64) / 255).astype(dtype)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, values, byteorder=byteorder, photometric="minisblack")
    document = open_document(buffer.getvalue(), f"{dtype}.tif")
    assert document.page_count == 1
    assert_same_picture(document.page(0).image, page, 0.99)


def test_a_tiff_neither_reader_can_parse_is_corrupt() -> None:
    with pytest.raises(errors.CorruptFile, match="its header is cut short or not one its type allows"):
        open_document(b"II*\x00" + b"\xff" * 64, "broken.tif")


@pytest.mark.parametrize("cut", [16, 33, 40])
def test_a_png_cut_within_its_headers_says_so(eval_dir: Path, cut: int) -> None:
    """Cut in its IHDR chunk, or after it: Pillow cannot identify it; the answer says the header may
    be cut short, not only that it is wrong."""
    data = (eval_dir / "tesseract_test" / "images" / "phototest.png").read_bytes()[:cut]
    with pytest.raises(errors.CorruptFile, match=r"cut short|truncated"):
        open_document(data, "cut.png")


def looped_float16_tiff(pages: int, back_to: int) -> bytes:
    """A float16 TIFF (read by tifffile, not Pillow) of `pages` 1x1 pages whose last image directory
    points back to directory `back_to` instead of ending the chain."""
    import tifffile

    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as writer:
        for _ in range(pages):
            writer.write(np.zeros((1, 1), dtype="float16"), photometric="minisblack", contiguous=False)
    data = bytearray(buffer.getvalue())
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tiff:
        offsets = [page.offset for page in tiff.pages]
    last = offsets[-1]
    tags = int.from_bytes(data[last : last + 2], "little")
    next_at = last + 2 + 12 * tags  # classic little-endian TIFF: 2-byte count, 12-byte entries
    data[next_at : next_at + 4] = offsets[back_to].to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize(("pages", "back_to"), [(3, 0), (150, 120), (700, 650)])
def test_a_looped_chain_of_image_directories_is_refused_at_once(pages: int, back_to: int) -> None:
    """tifffile checks a directory chain for a loop once, at its 100th directory; counting the pages
    of a chain that loops later walked up to 2**32 directories (a 42 KB file held a core for 50 s and
    11 GB, found by the fuzzer). Only `max_pages + 1` directories are walked now."""
    limits = Limits(max_pages=500)
    data = looped_float16_tiff(pages, back_to)
    with pytest.raises((errors.TooManyPages, errors.CorruptFile)):
        open_document(data, "looped.tif", limits)


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_constant_wide_images_do_not_divide_by_zero(mode: str) -> None:
    blank = Image.new(mode, (32, 16), 7)
    assert to_rgb(blank).getextrema() == ((255, 255),) * 3
    assert to_rgb(Image.new(mode, (32, 16), 0)).getextrema() == ((0, 0),) * 3


def test_float_nan_and_infinity_do_not_spoil_the_range(page: Image.Image) -> None:
    values = np.asarray(page.convert("L"), dtype=np.float32) / 255
    values[0, :5] = [np.nan, np.inf, -np.inf, 1e30, np.nan]
    values[0, 3] = 1.0
    image = to_rgb(Image.fromarray(values, "F"))
    assert_same_picture(image, page, 0.99)


# --- alpha ---------------------------------------------------------------------------------------


def test_white_text_on_transparent_stays_readable(page: Image.Image) -> None:
    """The bug file: white text whose only contrast is its alpha reads as dark ink on white, like
    its black-text control."""
    white = decoded(bug_file("rgba_white_text.png"))
    black = decoded(bug_file("rgba_black_text.png"))
    assert_same_picture(black, page, 0.99)
    assert_same_picture(white, page, 0.99)
    assert np.abs(np.asarray(white, dtype=int) - np.asarray(black, dtype=int)).max() <= 1


def test_several_colours_on_transparent_go_over_the_background_that_shows_them() -> None:
    """Not one colour: composited, over black when the ink is light, over white when it is dark."""
    light = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    light.paste((255, 255, 255, 255), (10, 10, 90, 40))
    light.paste((255, 230, 0, 255), (110, 10, 190, 40))
    assert to_rgb(light).getpixel((5, 5)) == (0, 0, 0)
    assert to_rgb(light).getpixel((20, 20)) == (255, 255, 255)
    dark = Image.new("RGBA", (200, 100), (255, 255, 255, 0))
    dark.paste((0, 0, 0, 255), (10, 10, 90, 40))
    dark.paste((0, 0, 160, 255), (110, 10, 190, 40))
    assert to_rgb(dark).getpixel((5, 5)) == (255, 255, 255)
    assert to_rgb(dark).getpixel((120, 20)) == (0, 0, 160)


ALPHA_CASES = [(v, fmt) for v in ALPHA for fmt in v.formats]


@pytest.mark.parametrize(("variant", "fmt"), ALPHA_CASES, ids=[f"{v.name}-{f}" for v, f in ALPHA_CASES])
def test_every_alpha_variant_keeps_the_text_visible(page: Image.Image, variant, fmt: str) -> None:  # type: ignore[no-untyped-def]
    assert_same_picture(decoded(encode(variant, page, fmt)), variant.reference(page), 0.95)


@pytest.mark.parametrize("mode", ["RGBa", "La"])
def test_premultiplied_alpha(page: Image.Image, mode: str) -> None:
    white_text = Image.new("RGBA", page.size, (255, 255, 255, 0))
    white_text.putalpha(Image.fromarray(255 - np.asarray(page.convert("L"))))
    premultiplied = white_text.convert("LA" if mode == "La" else "RGBA").convert(mode)
    assert premultiplied.mode == mode and premultiplied.getextrema()[-1] == (0, 255)
    assert_same_picture(to_rgb(premultiplied), page, 0.98)


def test_corrupt_16_bit_data_is_still_a_typed_error(page: Image.Image) -> None:
    data = encode(MODES[8], page, "TIFF")  # I;16B
    with pytest.raises(errors.CorruptFile):  # when its pixels are made (intake reads headers only)
        open_document(data[: len(data) // 2], "cut.tif").verify()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    head=st.sampled_from([b"MM\x00+\x00\x08\x00\x00", b"II+\x00\x08\x00\x00\x00"]),
    tail=st.binary(max_size=400),
)
def test_hostile_bigtiff_is_a_document_or_a_typed_error(head: bytes, tail: bytes) -> None:
    """Both BigTIFF readers (Pillow, tifffile) answer garbage with a typed error, never a crash."""
    limits = Limits(max_upload_bytes=100_000, max_page_pixels=250_000, max_pages=8)
    try:
        document = open_document(head + tail, "fuzz.tif", limits)
    except errors.OCRGateError:
        return
    assert 1 <= document.page_count <= 8
    assert document.page(0).image.mode == "RGB"
