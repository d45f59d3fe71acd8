"""The boxes picture of an uploaded image, read by RapidOCR in-process: the upload itself where a
browser shows it as the page's pixels, else a preview of the page as decoded; either way an SVG in the
page's own pixels whose outlines are the page's blocks."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.config import Limits
from ocrgate.documents import open_document
from ocrgate.inprocess import recognize
from tests.conftest import EVAL_DIR
from tests.helpers import image_bytes
from tests.image_variants import ORIENTATIONS, oriented
from tests.pictures import Picture, read_picture


@cache
def upright() -> Image.Image:
    return Image.open(EVAL_DIR / "tesseract_test" / "images" / "phototest.png").convert("RGB")


def _sixteen_bit(page: Image.Image) -> bytes:
    """A 12-bit scan in 16-bit samples: a browser, taking the high byte, shows it nearly black."""
    values = np.asarray(page.convert("L")).astype("<u2") * 16
    return image_bytes(Image.frombytes("I;16", page.size, values.tobytes()), "PNG")


def _see_through(page: Image.Image) -> Image.Image:
    """The page with its white paper transparent (RGBA): only the ink is opaque."""
    see_through = page.convert("RGBA")
    see_through.putalpha(Image.eval(page.convert("L"), lambda v: 255 - v))
    return see_through


# files whose bytes a browser shows as ocrgate decodes them, and files it does not
SHOWN = {
    "PNG RGB": lambda p: image_bytes(p, "PNG"),
    "PNG bilevel": lambda p: image_bytes(p.convert("1"), "PNG"),
    "PNG palette": lambda p: image_bytes(p.convert("P"), "PNG"),
    "JPEG": lambda p: image_bytes(p, "JPEG"),
    "JPEG grey": lambda p: image_bytes(p.convert("L"), "JPEG"),
    "WebP": lambda p: image_bytes(p, "WEBP", lossless=True),
}
NOT_SHOWN = {
    "JPEG CMYK": lambda p: image_bytes(p.convert("CMYK"), "JPEG"),
    "PNG 16-bit": _sixteen_bit,
    "TIFF": lambda p: image_bytes(p, "TIFF"),
    "BMP": lambda p: image_bytes(p, "BMP"),
    # transparency: ocrgate flattens it keeping the text's contrast, a browser shows it on white
    "PNG with alpha": lambda p: image_bytes(_see_through(p), "PNG"),
    "PNG palette, one colour transparent": lambda p: image_bytes(p.convert("P"), "PNG", transparency=0),
    "WebP with alpha": lambda p: image_bytes(_see_through(p), "WEBP", lossless=True),
    # several frames: the picture would play them
    "animated PNG": lambda p: image_bytes(p, "PNG", save_all=True, append_images=[p.rotate(180)]),
    "animated WebP": lambda p: image_bytes(p, "WEBP", save_all=True, append_images=[p.rotate(180)]),
}


@pytest.mark.parametrize("kind", sorted(SHOWN) + sorted(NOT_SHOWN))
def test_intake_tells_whether_a_browser_shows_the_upload_as_the_page(kind: str) -> None:
    build = SHOWN.get(kind) or NOT_SHOWN[kind]
    encoded = open_document(build(upright()), "page").page(0).encoded
    assert encoded is not None and encoded.as_stored == (kind in SHOWN)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_an_upload_with_an_orientation_to_apply_is_not_shown_as_stored(fmt: str, orientation: int) -> None:
    """EXIF in a JPEG's APP1, a WebP's EXIF chunk and a PNG's eXIf chunk, every value."""
    encoded = open_document(oriented(upright(), orientation, fmt), "page").page(0).encoded
    assert encoded is not None and encoded.as_stored == (orientation == 1)


def _png_with(*chunks: tuple[str, str, str]) -> bytes:
    """phototest as PNG with text chunks (kind tEXt/zTXt/iTXt, keyword, text)."""
    info = PngImagePlugin.PngInfo()
    for kind, key, text in chunks:
        {"tEXt": info.add_text, "zTXt": lambda k, t: info.add_text(k, t, zip=True), "iTXt": info.add_itxt}[
            kind
        ](key, text)
    return image_bytes(upright(), "PNG", pnginfo=info)


XMP_TURNED = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'


def test_a_png_counts_as_turned_where_any_of_its_chunks_may_say_so() -> None:
    """Pillow finds a PNG's orientation in eXIf, XMP or ImageMagick's EXIF text, wherever they stand."""

    def as_stored(data: bytes) -> bool:
        encoded = open_document(data, "page").page(0).encoded
        assert encoded is not None
        return encoded.as_stored

    assert as_stored(_png_with(("tEXt", "Software", "a scanner"), ("iTXt", "Comment", "turned?")))
    assert not as_stored(_png_with(("iTXt", "XML:com.adobe.xmp", XMP_TURNED)))
    assert not as_stored(_png_with(("zTXt", "Raw profile type exif", "exif\n 4\n00000000")))
    assert not as_stored(_png_with(("tEXt", "Raw profile type exif", "exif\n 4\n00000000")))
    assert not as_stored(image_bytes(upright(), "PNG")[:-20])  # cut short: its chunks cannot be walked


def _picture(rapidocr: RapidOCRBackend, data: bytes, limits: Limits | None = None) -> tuple[Picture, list]:
    response = recognize(open_document(data, "page", limits), rapidocr, {}, boxes="first")
    page = response.pages[0]
    assert page.boxes_image is not None and response.boxes_image is None  # each picture once, in its page
    picture = read_picture(page.boxes_image)
    assert (picture.width, picture.height) == (page.width, page.height)
    assert [o[:4] for o in picture.outlines] == [tuple(round(v, 1) for v in b.bbox) for b in page.blocks]
    assert len(page.blocks) >= 2  # phototest: two paragraphs
    return picture, page.blocks


def test_a_page_a_browser_shows_is_the_picture_as_uploaded(
    rapidocr: RapidOCRBackend, phototest: Path
) -> None:
    data = phototest.read_bytes()
    picture, _ = _picture(rapidocr, data)
    assert (picture.media_type, picture.data) == ("image/png", data)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_turned_jpeg_is_pictured_upright_over_a_preview(
    rapidocr: RapidOCRBackend, orientation: int
) -> None:
    picture, _ = _picture(rapidocr, oriented(upright(), orientation, "JPEG"))
    assert picture.media_type == "image/jpeg" and picture.page.size == upright().size == (640, 480)
    difference = np.abs(
        np.asarray(picture.page.convert("L"), float) - np.asarray(upright().convert("L"), float)
    )
    assert difference.mean() < 8  # the page as read, not the file as stored


@pytest.mark.parametrize("kind", sorted(NOT_SHOWN))
def test_a_page_a_browser_does_not_show_is_pictured_over_a_preview(
    rapidocr: RapidOCRBackend, kind: str
) -> None:
    picture, _ = _picture(rapidocr, NOT_SHOWN[kind](upright()))
    assert picture.media_type == "image/jpeg" and picture.page.size == (640, 480)


def test_an_upload_over_the_embedding_limit_is_pictured_over_a_preview(
    rapidocr: RapidOCRBackend, phototest: Path
) -> None:
    data = phototest.read_bytes()
    picture, _ = _picture(rapidocr, data, Limits(boxes_embed_max_bytes=len(data) - 1))
    assert picture.media_type == "image/jpeg"
    assert _picture(rapidocr, data, Limits(boxes_embed_max_bytes=len(data)))[0].data == data


def test_see_through_ink_is_pictured_as_ocrgate_read_it(rapidocr: RapidOCRBackend) -> None:
    """shared/bugs' white text whose only contrast is its alpha: shown as it came, on the picture's
    white, the page would be blank; the preview shows the ink ocrgate read, dark on white."""
    picture, _ = _picture(rapidocr, (EVAL_DIR.parent / "bugs" / "rgba_white_text.png").read_bytes())
    assert picture.media_type == "image/jpeg"
    assert np.asarray(picture.page.convert("L")).min() < 64  # ink, not a blank page


def test_a_long_receipt_keeps_its_width_in_the_preview(rapidocr: RapidOCRBackend) -> None:
    """shared/bugs' 576 x 9220 receipt, as a TIFF (pictured over a preview): at full width, not 58 px."""
    receipt = Image.open(EVAL_DIR.parent / "bugs" / "receipt_long.png")
    picture, _ = _picture(rapidocr, image_bytes(receipt, "TIFF"))
    assert picture.page.size == receipt.size == (576, 9220)
