"""Document intake: every supported type decodes, every kind of bad input gets its own typed error."""

from __future__ import annotations

import io
import math
import random
import struct
import zlib
from pathlib import Path

import pypdf
import pytest
from PIL import Image

from ocrgate import errors
from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.config import Limits
from ocrgate.documents import open_document, sniff
from ocrgate.inprocess import recognize
from tests.helpers import image_bytes
from tests.pdf_maker import PdfMaker


@pytest.fixture(scope="module")
def page(phototest: Path) -> Image.Image:
    return Image.open(phototest).convert("RGB")


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("TIFF", "image/tiff"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
    ],
)
def test_each_image_type_decodes_to_rgb(page: Image.Image, fmt: str, media_type: str) -> None:
    document = open_document(image_bytes(page, fmt), f"page.{fmt.lower()}")
    assert document.media_type == media_type
    assert document.page_count == 1
    decoded = document.page(0)
    assert (decoded.width, decoded.height) == page.size
    assert decoded.image.mode == "RGB"


def test_bilevel_tiff_from_eval_set(eval_dir: Path) -> None:
    data = (eval_dir / "tesseract_test" / "orig" / "phototest.tif").read_bytes()
    document = open_document(data, "phototest.tif")
    assert document.page(0).image.mode == "RGB"
    assert document.page(0).image.size == (640, 480)


def test_multipage_tiff_keeps_every_page(page: Image.Image) -> None:
    second = page.rotate(90, expand=True)
    data = image_bytes(page, "TIFF", save_all=True, append_images=[second, page])
    document = open_document(data, "three.tiff")
    assert document.page_count == 3
    assert [p.image.size for p in document.iter_pages()] == [page.size, second.size, page.size]


def test_pdf_is_rasterised_lazily_at_the_configured_dpi(multipage_pdf: Path) -> None:
    document = open_document(multipage_pdf.read_bytes(), multipage_pdf.name)
    assert document.is_pdf and document.page_count == 5
    first = document.page(0)
    # A4 (595.2 x 841.92 pt) at the default 144 dpi
    assert (first.width, first.height) == (1191, 1684)
    assert first.dpi == pytest.approx(144)
    layer = document.text_layer(0)
    assert (
        layer is not None and "Word Processor" in layer.text and (layer.width, layer.height) == (1191, 1684)
    )
    low = open_document(multipage_pdf.read_bytes(), "x.pdf", dpi=72).page(4)
    assert (low.width, low.height) == (596, 842)  # pdfium rounds 595.2 up


@pytest.mark.parametrize(
    ("size_pt", "long_side"),
    [
        ((180, 300), 1200),  # a pocket page: 2.5 x 4.2 inches
        ((300, 180), 1200),  # the same, landscape
        ((252, 144), 1200),  # a business card
        ((100, 1000), 2000),  # narrow and long: 144 dpi gives it enough already
        ((36, 60), 500),  # a stamp: 600 dpi is the most ocrgate chooses itself
    ],
)
def test_a_small_pdf_page_is_rasterised_with_enough_pixels(size_pt: tuple[int, int], long_side: int) -> None:
    data = PdfMaker().add_page(*size_pt).text("small print", 10, 10, 6).bytes()
    document = open_document(data, "small.pdf")
    page = document.page(0)
    assert max(page.width, page.height) - long_side in (
        0,
        1,
    )  # pdfium rounds up    assert (page.width, page.height) == document.page_size(0)
    assert page.dpi == pytest.approx(document.page_dpi(0))
    layer = document.text_layer(0)
    assert layer is not None and (layer.width, layer.height) == (page.width, page.height)
    asked = open_document(data, "small.pdf", dpi=144).page(0)  # a dpi asked for is kept
    assert max(asked.width, asked.height) == math.ceil(max(size_pt) * 2)
    off = open_document(data, "small.pdf", Limits(pdf_min_long_side=0)).page(0)
    assert (off.width, off.height) == (asked.width, asked.height)


def test_the_small_page_of_olmocr_bench_is_read_whole(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    """180 x 300 pt: at 144 dpi (360 x 600 px) RapidOCR missed the line below; at 1200 px it is there."""
    data = (eval_dir / "olmocr_bench_sample" / "pdf" / "small_page_size.pdf").read_bytes()
    response = recognize(open_document(data, "small_page_size.pdf"), rapidocr, {}, boxes="none")
    assert (response.pages[0].width, response.pages[0].height) == (720, 1200)
    assert "shift system, there is no doubt" in " ".join(response.markdown.lower().split())


def test_pdf_page_over_the_pixel_limit_is_rendered_smaller(multipage_pdf: Path) -> None:
    limits = Limits(max_page_pixels=500_000)
    first = open_document(multipage_pdf.read_bytes(), "x.pdf", limits).page(0)
    assert first.width * first.height <= 500_000
    assert first.width * first.height > 480_000


def test_type_is_sniffed_from_content_not_name(page: Image.Image) -> None:
    assert open_document(image_bytes(page, "PNG"), "looks-like.pdf").media_type == "image/png"
    with pytest.raises(errors.UnsupportedType):
        open_document(b"just some text, not a page\n" * 10, "page.png")
    assert sniff(b"   %PDF-1.7\n") == "application/pdf"


def test_empty_file() -> None:
    with pytest.raises(errors.EmptyDocument, match="empty"):
        open_document(b"", "nothing.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_truncated_image(page: Image.Image, fmt: str) -> None:
    """Refused at intake where the headers already show it (WebP), else when the pixels are made."""
    data = image_bytes(page, fmt)
    cut = data[: len(data) // 2]
    with pytest.raises(errors.CorruptFile):
        open_document(cut, "cut").verify()
    with pytest.raises(errors.CorruptFile):
        open_document(cut, "cut").page(0).image  # noqa: B018


@pytest.mark.parametrize(
    "signature",
    [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*", b"RIFF\0\0\0\0WEBPVP8 ", b"BM"],
)
def test_noise_behind_an_image_signature_is_refused_in_plain_words(signature: bytes) -> None:
    """A file that starts like an image and is noise after: CorruptFile, and its message names no
    Python object (Pillow's own text said `cannot identify image file <_io.BytesIO object at 0x...>`)."""
    noise = signature + random.Random(7).randbytes(64 * 1024)
    with pytest.raises(errors.CorruptFile) as refused:
        open_document(noise, "noise").page(0).image  # noqa: B018
    assert "the image cannot be decoded" in refused.value.message
    assert "0x" not in refused.value.message and "<" not in refused.value.message, refused.value.message


def test_an_image_is_not_decoded_at_intake_and_travels_as_its_own_bytes(page: Image.Image) -> None:
    data = image_bytes(page, "PNG")
    first = open_document(data, "page.png").page(0)
    assert not first.decoded and first.encoded is not None
    assert first.encoded.data == data and first.encoded.media_type == "image/png"
    assert first.image.size == page.size and first.decoded
    tiff = open_document(image_bytes(page, "TIFF", save_all=True, append_images=[page]), "two.tiff")
    assert tiff.page(1).encoded is None  # a frame of several: its pixels travel, not the whole file


def test_an_image_page_declares_its_dpi_from_its_headers(page: Image.Image) -> None:
    assert open_document(image_bytes(page, "PNG", dpi=(300, 300)), "p.png").page(0).dpi == pytest.approx(
        300, abs=0.01
    )
    assert open_document(image_bytes(Image.new("RGB", (8, 8)), "PNG"), "p.png").page(0).dpi is None


@pytest.mark.parametrize("kept", [2000, 1 / 3, 2 / 3])
def test_truncated_pdf(multipage_pdf: Path, kept: float) -> None:
    """Cut short anywhere, even before its first page object: corrupt, never "no pages"."""
    data = multipage_pdf.read_bytes()
    size = int(kept) if kept > 1 else int(len(data) * kept)
    with pytest.raises(errors.CorruptFile, match="truncated"):
        open_document(data[:size], "cut.pdf")


def _pdf_bytes(writer: pypdf.PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_encrypted_pdf(multipage_pdf: Path) -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(multipage_pdf))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with pytest.raises(errors.EncryptedPDF, match="password"):
        open_document(_pdf_bytes(writer), "locked.pdf")


def test_pdf_without_pages() -> None:
    with pytest.raises(errors.EmptyDocument, match="no pages"):
        open_document(_pdf_bytes(pypdf.PdfWriter()), "empty.pdf")


def test_upload_over_the_byte_limit(page: Image.Image) -> None:
    data = image_bytes(page, "PNG")
    with pytest.raises(errors.FileTooLarge, match="limit"):
        open_document(data, "big.png", Limits(max_upload_bytes=len(data) - 1))


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height but carries only a few bytes of data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize("side", [10_000, 20_000, 100_000])
def test_decompression_bomb_refused_before_decoding(side: int) -> None:
    """Refused with the declared size and ocrgate's limit (20,000 and more a side is past Pillow's own
    refusal, which names Pillow's limit instead)."""
    limit = f"the limit is {Limits().max_page_pixels:,}"
    with pytest.raises(errors.ImageTooLarge, match=f"{side * side:,} pixels.*{limit}"):
        open_document(_png_header(side, side), "bomb.png")


def test_too_many_pages(page: Image.Image, multipage_pdf: Path) -> None:
    limits = Limits(max_pages=2)
    tiff = image_bytes(page, "TIFF", save_all=True, append_images=[page, page])
    with pytest.raises(errors.TooManyPages, match="3 pages"):
        open_document(tiff, "three.tiff", limits)
    with pytest.raises(errors.TooManyPages, match="5 pages"):
        open_document(multipage_pdf.read_bytes(), "five.pdf", limits)


def test_every_input_error_is_a_4xx() -> None:
    for cls in errors.ERRORS_BY_CODE.values():
        if issubclass(cls, errors.InputError):
            assert 400 <= cls.status < 500, cls
