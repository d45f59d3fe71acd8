"""PDF pages as a viewer shows them: filled form fields drawn and in the text layer; a page that
cannot be loaded fails alone (PageUnreadable), never the document."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pytest
from pypdf.generic import DictionaryObject, NameObject, NullObject

from ocrgate import errors
from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import open_document

BUGS = Path(__file__).resolve().parents[1].parent / "shared" / "bugs"
FIELD_VALUES = ("Margaret Hamilton", "Springfield")


@pytest.fixture(scope="module")
def rapidocr_backend(rapidocr: RapidOCRBackend) -> RapidOCRBackend:
    """The session's loaded RapidOCR backend (tests/conftest.py)."""
    return rapidocr


def bug_file(name: str) -> bytes:
    path = BUGS / name
    if not path.is_file():
        pytest.skip(f"{path} not found (shared/bugs sits beside the checkout)")
    return path.read_bytes()


def pdf_bytes(writer: pypdf.PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def form_variant(appearances: str) -> bytes:
    """The filled form with both fields' appearance streams kept ("both"), removed ("none") or as
    the file has them ("mixed": the first field has one, the second not)."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(bug_file("pdf_filled_form.pdf"))))
    if appearances == "mixed":
        return pdf_bytes(writer)
    widgets = [annot.get_object() for annot in writer.pages[0]["/Annots"]]
    if appearances == "none":
        for widget in widgets:
            widget.pop("/AP", None)
    else:  # give the second field the first one's appearance, moved to its own text
        donor = widgets[0]["/AP"]["/N"].get_object()
        stream = pypdf.generic.DecodedStreamObject()
        stream.set_data(donor.get_data().replace(b"Margaret Hamilton", b"Springfield"))
        stream.update({k: v for k, v in donor.items() if k not in ("/Filter", "/Length")})
        widgets[1][NameObject("/AP")] = DictionaryObject({NameObject("/N"): writer._add_object(stream)})
    return pdf_bytes(writer)


@pytest.mark.parametrize("appearances", ["mixed", "none", "both"])
def test_filled_form_values_are_in_the_text_layer(appearances: str) -> None:
    document = open_document(form_variant(appearances), "form.pdf")
    layer = document.text_layer(0)
    assert layer is not None
    assert "Name of the applicant" in layer.text
    for value in FIELD_VALUES:
        assert value in layer.text
    width, height = document.page_size(0)  # each value sits on its widget, inside the page
    values = [ln for ln in layer.lines if ln.text in FIELD_VALUES]
    assert len(values) == len(FIELD_VALUES)
    assert all(
        0 <= ln.bbox[0] < ln.bbox[2] <= width and 0 <= ln.bbox[1] < ln.bbox[3] <= height for ln in values
    )


@pytest.mark.parametrize("appearances", ["mixed", "none"])
def test_filled_form_fields_are_drawn(appearances: str) -> None:
    """The field values are drawn where the widgets sit (Rect [72 650 420 680] and [72 560 420 590]
    on a 612 x 792 pt page): ink there, and nowhere near it without the form environment."""
    page = open_document(form_variant(appearances), "form.pdf", dpi=72).page(0)
    grey = page.image.convert("L")
    for top in (792 - 680, 792 - 590):  # the widgets' tops in pixels at 72 dpi
        box = grey.crop((72, top, 420, top + 30))
        assert box.getextrema()[0] < 100, "the field's value is not drawn"


def test_filled_form_read_by_ocr(rapidocr_backend: RapidOCRBackend) -> None:
    """The bug file's right value: both values in the recognised text (one field has no appearance)."""
    page = open_document(bug_file("pdf_filled_form.pdf"), "form.pdf").page(0)
    result = rapidocr_backend.ocr_page(page, rapidocr_backend.parse_options({}))
    text = " ".join(block.text for block in result.blocks)
    for value in FIELD_VALUES:
        assert value in text, text


def test_hidden_and_non_text_fields_stay_out_of_the_text_layer() -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(bug_file("pdf_filled_form.pdf"))))
    widgets = [annot.get_object() for annot in writer.pages[0]["/Annots"]]
    widgets[0][NameObject("/F")] = pypdf.generic.NumberObject(2)  # hidden
    widgets[1][NameObject("/FT")] = NameObject("/Btn")  # a check box holds a state name, not text
    layer = open_document(pdf_bytes(writer), "form.pdf").text_layer(0)
    text = layer.text if layer else ""
    assert "Margaret Hamilton" not in text and "Springfield" not in text


def test_page_tree_promising_more_pages_than_it_holds() -> None:
    """The bug file: /Count 3, one real page. Page 1 reads; pages 2 and 3 fail alone."""
    document = open_document(bug_file("pdf_bogus_count.pdf"), "bogus.pdf")
    assert document.page_count == 3
    first = document.page(0)
    assert (first.width, first.height) == document.page_size(0) == (1224, 1584)
    assert document.text_layer(0)
    for index in (1, 2):
        with pytest.raises(errors.PageUnreadable) as raised:
            document.page(index)
        assert raised.value.index == index and raised.value.code == "page_unreadable"
        assert f"page {index + 1}" in raised.value.message
        with pytest.raises(errors.PageUnreadable):
            document.page_size(index)
    assert document.page(0).image.size == (1224, 1584)  # still readable after the failures


def with_broken_page(multipage_pdf: Path, broken: int, pages: int = 3) -> bytes:
    """The first `pages` pages of a real PDF with page `broken`'s entry in the page tree nulled."""
    writer = pypdf.PdfWriter()
    for page in pypdf.PdfReader(multipage_pdf).pages[:pages]:
        writer.add_page(page)
    writer.root_object["/Pages"]["/Kids"][broken] = NullObject()
    return pdf_bytes(writer)


@pytest.mark.parametrize("broken", [0, 1, 2], ids=["first", "middle", "last"])
def test_a_failing_page_anywhere_fails_alone(multipage_pdf: Path, broken: int) -> None:
    document = open_document(with_broken_page(multipage_pdf, broken), "broken.pdf")
    assert document.page_count == 3
    for index in range(3):
        if index == broken:
            with pytest.raises(errors.PageUnreadable) as raised:
                document.page(index)
            assert raised.value.index == index
            with pytest.raises(errors.PageUnreadable):
                document.page_size(index)
        else:
            page = document.page(index)
            assert document.text_layer(index) and (page.width, page.height) == document.page_size(index)


def test_a_pdf_without_one_readable_page_is_refused(multipage_pdf: Path) -> None:
    writer = pypdf.PdfWriter()
    for page in pypdf.PdfReader(multipage_pdf).pages[:2]:
        writer.add_page(page)
    kids = writer.root_object["/Pages"]["/Kids"]
    kids[0], kids[1] = NullObject(), NullObject()
    with pytest.raises(errors.CorruptFile, match="none of the PDF's 2 pages"):
        open_document(pdf_bytes(writer), "hopeless.pdf")


def test_page_unreadable_keeps_its_code_on_the_wire() -> None:
    error = errors.error_from_info(errors.PageUnreadable("page 2 of the PDF cannot be loaded", 1).info())
    assert isinstance(error, errors.PageUnreadable) and error.status == 422
    assert isinstance(error, errors.CorruptFile)  # callers that refuse whole documents still do


@pytest.mark.parametrize("order", [(1, 0, 2, 3, 4), (4, 0, 3, 1, 2), (2, 1, 0, 4, 3)])
def test_pages_read_in_any_order_around_a_failing_one(multipage_pdf: Path, order: tuple[int, ...]) -> None:
    """pdfium can fail once on a good page right after a failed one; the page must still load."""
    for broken in range(5):
        document = open_document(with_broken_page(multipage_pdf, broken, pages=5), "broken.pdf")
        for index in order:
            if index == broken:
                with pytest.raises(errors.PageUnreadable):
                    document.page_size(index)
            else:
                assert document.page_size(index)
