"""Searchable PDFs on real pages: pdfium finds the OCR text, and each word where the page shows it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from PIL import Image

from ocrgate.documents import open_document
from ocrgate.errors import CorruptFile, UnsupportedType
from ocrgate.formats import encode, to_pdf
from ocrgate.schema import OCRResponse
from tests.formats.conftest import DOCLING_PAGE, Recognised
from tests.formats.pdf_text import ink, iou, matched_words, pdf_pages, response_text, response_words
from tests.helpers import cer
from tests.pdf_maker import PdfMaker


def scanned_pdf(image: Image.Image, dpi: float, rotation: int = 0, margin: float = 0.0) -> bytes:
    """A one-page image-only PDF (a scan) that shows `image` upright at `dpi`: the picture is stored
    turned `rotation` degrees counter-clockwise and the page's /Rotate turns it back; a `margin`
    (points) around the picture lies outside the crop box."""
    content = image.rotate(rotation, expand=True)
    w, h = content.width * 72 / dpi, content.height * 72 / dpi
    pdf = FPDF(unit="pt")
    pdf.add_page(format=(w + 2 * margin, h + 2 * margin))
    pdf.image(content, x=margin, y=margin, w=w, h=h)
    document = pdfium.PdfDocument(bytes(pdf.output()))
    page = document[0]
    page.set_rotation(rotation)
    if margin:
        page.set_cropbox(margin, margin, margin + w, margin + h)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def assert_words_on_page(data: bytes, recognised: Recognised, *, on_ink: bool = True) -> None:
    """The PDF's text is the response's (CER <= 0.02) and each word's box in the PDF, in pixels of
    the page image, lies on the response's box for that word and, for engine words, on ink."""
    response, image = recognised.response, recognised.image
    page = response.pages[0]
    [(text, found)] = pdf_pages(data, [(page.width, page.height)])
    expected = response_words(response)
    assert cer(text, response_text(response)) <= 0.02
    pairs = matched_words(found, expected)
    assert len(pairs) >= 0.98 * len(expected)
    for found_box, expected_box in pairs:
        assert iou(found_box, expected_box) >= 0.8, (found_box, expected_box)
        if on_ink:
            assert ink(image, found_box) > 0.02, found_box


def rendered(data: bytes, size: tuple[int, int]) -> np.ndarray:
    document = pdfium.PdfDocument(data)
    try:
        page = document[0]
        scale = size[0] / page.get_size()[0]
        return np.asarray(page.render(scale=scale).to_pil().convert("L").resize(size), dtype=float)
    finally:
        document.close()


@pytest.mark.parametrize("name", ["phototest_rapidocr", "docling_rapidocr"])
def test_image_pages_get_the_words_where_they_are_printed(name: str, request: pytest.FixtureRequest) -> None:
    recognised: Recognised = request.getfixturevalue(name)
    data = to_pdf(recognised.response, [recognised.image])
    assert_words_on_page(data, recognised)
    # the page shows the picture itself: the text layer draws nothing
    picture = np.asarray(recognised.image.convert("L"), dtype=float)
    assert np.abs(rendered(data, recognised.image.size) - picture).mean() < 8


def test_page_size_follows_the_resolution(phototest_rapidocr: Recognised) -> None:
    image = phototest_rapidocr.image
    for dpi, expected in ((None, (640 * 72 / 300, 480 * 72 / 300)), (72.0, (640, 480))):
        document = pdfium.PdfDocument(to_pdf(phototest_rapidocr.response, [image], dpi=dpi))
        assert document[0].get_size() == pytest.approx(expected, abs=0.01)
        document.close()


def test_an_engine_without_words_gets_estimated_boxes_inside_its_blocks(docling_deepseek: Recognised) -> None:
    data = to_pdf(docling_deepseek.response, [docling_deepseek.image])
    assert_words_on_page(data, docling_deepseek, on_ink=False)


def test_scanned_pdf_keeps_its_page_and_gets_the_words(docling_rapidocr: Recognised) -> None:
    source = scanned_pdf(docling_rapidocr.image, dpi=150)
    data = to_pdf(docling_rapidocr.response, source)
    assert_words_on_page(data, docling_rapidocr)
    document = pdfium.PdfDocument(data)
    assert len(document) == 1 and document[0].get_size() == pytest.approx((612, 792), abs=0.01)
    images = list(document[0].get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE], max_depth=1))
    assert len(images) == 1 and images[0].get_px_size() == (1275, 1650)  # the scan itself, untouched
    document.close()


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rotated_and_cropped_pages_get_the_words_where_they_are_shown(
    phototest_rapidocr: Recognised, rotation: int
) -> None:
    source = scanned_pdf(phototest_rapidocr.image, dpi=72, rotation=rotation, margin=36)
    assert_words_on_page(to_pdf(phototest_rapidocr.response, source), phototest_rapidocr)


def test_a_page_size_inherited_from_the_page_tree_puts_the_words_on_the_page(
    phototest_rapidocr: Recognised,
) -> None:
    """fpdf2, like other writers, gives its pages one /MediaBox on the page tree (PDF 32000-1, 7.7.3.4):
    the page's own entry is missing, and pdfium's getter for it answers US Letter."""
    image = phototest_rapidocr.image
    size = (image.width * 72 / 144, image.height * 72 / 144)
    pdf = FPDF(unit="pt", format=size)  # the document's size: written once, on the page tree
    pdf.add_page()
    pdf.image(image, x=0, y=0, w=size[0], h=size[1])
    source = bytes(pdf.output())
    assert pdfium.PdfDocument(source)[0].get_mediabox() == (0, 0, 612, 792)  # what the page alone says
    assert_words_on_page(to_pdf(phototest_rapidocr.response, source), phototest_rapidocr)


def test_own_output_gets_its_text_layer_replaced_not_doubled(docling_rapidocr: Recognised) -> None:
    once = to_pdf(docling_rapidocr.response, scanned_pdf(docling_rapidocr.image, dpi=150))
    twice = to_pdf(docling_rapidocr.response, once)
    assert_words_on_page(twice, docling_rapidocr)


def test_an_old_layer_under_the_page_image_is_replaced(phototest_rapidocr: Recognised) -> None:
    """Text drawn first and covered by the scan painted over it is an earlier OCR layer, not the page's
    own text: the searchable PDF replaces it, as it does an invisible one."""
    image = phototest_rapidocr.image
    old = PdfMaker().add_page(image.width, image.height)
    for k in range(5):
        old.text("an old reading of this scan that is wrong", 20, image.height - 60 - 40 * k, 14)
    source = old.picture(image, 0, 0, image.width, image.height).bytes()
    data = to_pdf(phototest_rapidocr.response, source)
    [(text, _)] = pdf_pages(data, [(image.width, image.height)])
    assert "old reading" not in text
    assert_words_on_page(data, phototest_rapidocr)


def test_born_digital_page_keeps_its_own_text(docling_rapidocr: Recognised, eval_dir: Path) -> None:
    source = (eval_dir / "docling_pdf" / "pages_pdf" / f"{DOCLING_PAGE}.pdf").read_bytes()
    [(original, _)] = pdf_pages(source, [(1275, 1650)])
    [(text, _)] = pdf_pages(to_pdf(docling_rapidocr.response, source), [(1275, 1650)])
    assert text == original


def test_only_the_response_pages_are_kept(phototest_rapidocr: Recognised) -> None:
    three = io.BytesIO()
    document = pdfium.PdfDocument(scanned_pdf(phototest_rapidocr.image, dpi=72))
    document.import_pages(pdfium.PdfDocument(scanned_pdf(phototest_rapidocr.image.rotate(180), dpi=72)))
    document.new_page(100, 100)
    document.save(three)
    response = phototest_rapidocr.response
    page = response.pages[0].model_copy(update={"index": 1})
    second = response.model_copy(update={"pages": [page]})
    data = to_pdf(second, three.getvalue())
    [(text, _)] = pdf_pages(data, [(640, 480)])
    assert cer(text, response_text(response)) <= 0.02


def test_bad_sources_are_refused(phototest_rapidocr: Recognised) -> None:
    response: OCRResponse = phototest_rapidocr.response
    with pytest.raises(UnsupportedType):
        to_pdf(response, b"\x89PNG\r\n\x1a\n not a pdf")
    with pytest.raises(CorruptFile):
        to_pdf(response, b"%PDF-1.7\n this is no PDF at all")
    with pytest.raises(ValueError, match="page images"):
        to_pdf(response, [])
    with pytest.raises(ValueError, match="no pages"):
        to_pdf(response.model_copy(update={"pages": []}), [])
    page = response.pages[0].model_copy(update={"index": 5})
    with pytest.raises(ValueError, match="not in the"):
        to_pdf(response.model_copy(update={"pages": [page]}), scanned_pdf(phototest_rapidocr.image, 72))


@pytest.mark.parametrize("kind", ["pdf", "tiff"])
def test_a_result_short_of_pages_keeps_every_page_of_the_document(
    phototest_rapidocr: Recognised, kind: str
) -> None:
    """A cancelled job's result holds the pages read before it stopped: its searchable PDF still has
    every page of the document, those not read without a text layer (`encode.with_unread_pages`)."""
    image = phototest_rapidocr.image
    if kind == "pdf":
        three = pdfium.PdfDocument(scanned_pdf(image, dpi=72))
        for _ in range(2):
            three.import_pages(pdfium.PdfDocument(scanned_pdf(image, dpi=72)))
        buffer = io.BytesIO()
        three.save(buffer)
        data, name = buffer.getvalue(), "three.pdf"
    else:
        buffer = io.BytesIO()
        image.save(buffer, format="TIFF", save_all=True, append_images=[image, image])
        data, name = buffer.getvalue(), "three.tif"
    document = open_document(data, name, dpi=72)
    read = phototest_rapidocr.response.pages[0]
    response = phototest_rapidocr.response.model_copy(
        update={"pages": [read, read.model_copy(update={"index": 2})]}
    )
    written = encode(response, "pdf", document)
    pages = pdf_pages(written, [(640, 480)] * 3)
    assert len(pages) == 3
    assert cer(pages[0][0], response_text(phototest_rapidocr.response)) <= 0.02
    assert pages[1][0].strip() == ""  # not read: the page, without text
    assert cer(pages[2][0], response_text(phototest_rapidocr.response)) <= 0.02
    document.close()
