"""The structure stage in the recognition path of the embedded engines, on real pages: kinds (a title, a
table with HTML, a figure cropped into the source markdown), a page turned sideways read upright, and
`layout: off` giving exactly the path without layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.backends.tesseract import TesseractBackend
from ocrgate.documents import PageImage, open_document
from ocrgate.inprocess import recognize
from ocrgate.layout import paragraph_blocks
from ocrgate.structure.orientation import rotation
from ocrgate.tables import parse_html_tables, parse_markdown_tables
from tests.helpers import cer
from tests.structure.conftest import open_rgb

OFF = {"layout": "off", "orientation": "off"}


def read(backend: RapidOCRBackend | TesseractBackend, image: Image.Image, options: dict | None = None):
    return backend.ocr_page(PageImage(index=0, image=image), backend.parse_options(options or {}))


def png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_paper_page_title_table_and_page_header(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    page = open_rgb(eval_dir / "docling_pdf" / "images" / "2305.03393v1-pg9_p1.png")
    result = read(rapidocr, page)
    kinds = [b.kind for b in result.blocks]
    assert "title" in kinds and "table" in kinds, kinds
    table = next(b for b in result.blocks if b.kind == "table")
    assert table.html is not None and '<td colspan="3">TEDs</td>' in table.html
    assert parse_html_tables(table.html)[0].texts  # cells filled from the engine's lines
    # a cell spans rows: the text is its lines as read without layout, not a markdown table
    assert not parse_markdown_tables(table.text) and "0.969" in table.text
    title = next(b for b in result.blocks if b.kind == "title")
    assert title.level in (1, 2, 3) and title.text.strip()
    # every line the engine read is in exactly one block
    engine_lines = read(rapidocr, page, {"reading_order": "engine", **OFF}).blocks
    assert sorted(ln.text for b in result.blocks for ln in b.lines) == sorted(
        ln.text for b in engine_lines for ln in b.lines
    )


def test_figure_is_cropped_into_the_source_markdown(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    path = eval_dir / "docling_pdf" / "images" / "picture_classification_p1.png"
    document = open_document(path.read_bytes(), path.name)
    response = recognize(document, rapidocr, {}, boxes="none")
    figures = [b for b in response.pages[0].blocks if b.kind == "figure"]
    assert figures, [b.kind for b in response.pages[0].blocks]
    assert response.source_markdown.count("](data:image/png;base64,") == len(figures)


def test_receipt_in_a_wide_figure_region_reads_as_text(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    """The layout model puts SROIE 057 (a receipt scanned with a wide margin) in one figure region seven
    times the size of its text: the lines are text blocks in reading order, as without layout."""
    page = open_rgb(eval_dir / "receipts" / "images" / "sroie_057.jpg")
    result = read(rapidocr, page)
    assert {b.kind for b in result.blocks} == {"text"}, [(b.kind, b.label) for b in result.blocks]
    assert len(result.blocks) > 5 and "UNIHAKKA INTERNATIONAL SDN BHD" in result.blocks[1].text
    assert result.blocks == read(rapidocr, page, {"layout": "off"}).blocks


def test_two_lines_left_by_text_score_are_no_heading(phototest: Path, rapidocr: RapidOCRBackend) -> None:
    """phototest's body, set large, is one title region; `text_score` 0.99 leaves two of its eight rows,
    a row apart: text, as without layout, not one heading."""
    page = open_rgb(phototest)
    result = read(rapidocr, page, {"text_score": 0.99})
    assert sum(len(b.lines) for b in result.blocks) == 2
    assert {b.kind for b in result.blocks} == {"text"}, [(b.kind, b.text) for b in result.blocks]
    assert result.blocks == read(rapidocr, page, {"text_score": 0.99, "layout": "off"}).blocks


@pytest.mark.slow
@pytest.mark.parametrize("source", ["receipts", "forms"])
def test_receipts_and_forms_have_no_figure_block(
    eval_dir: Path, rapidocr: RapidOCRBackend, manifest: dict, source: str
) -> None:
    for entry in (e for e in manifest.values() if e["source"] == source):
        kinds = {b.kind for b in read(rapidocr, open_rgb(eval_dir / entry["image"])).blocks}
        assert "figure" not in kinds, (entry["id"], kinds)


def test_sideways_page_is_read_upright_and_flagged(phototest: Path, rapidocr: RapidOCRBackend) -> None:
    upright = open_rgb(phototest)
    reference = "\n".join(b.text for b in read(rapidocr, upright).blocks)
    turned = upright.rotate(90, expand=True)  # counter-clockwise: the content lies turned 270 degrees
    document = open_document(png(turned), "turned.png")
    response = recognize(document, rapidocr, {}, boxes="all")
    page = response.pages[0]
    assert rotation(page.flags) == 270, page.flags
    assert (page.width, page.height) == upright.size  # the upright page's size; boxes in its pixels
    assert cer(response.markdown, reference) <= 0.02
    assert all(b.bbox[2] <= upright.width and b.bbox[3] <= upright.height for b in page.blocks)

    as_is = read(rapidocr, turned, {"orientation": "off"})
    assert rotation(as_is.flags) == 0 and (as_is.width, as_is.height) == turned.size


@pytest.mark.parametrize("engine", ["rapidocr", "tesseract"])
def test_layout_off_is_the_path_without_layout(
    engine: str, eval_dir: Path, rapidocr: RapidOCRBackend, tesseract: TesseractBackend
) -> None:
    backend = rapidocr if engine == "rapidocr" else tesseract
    page = open_rgb(eval_dir / "docling_pdf" / "images" / "2305.03393v1-pg9_p1.png")
    off = read(backend, page, OFF)
    lines = [b.lines[0] for b in read(backend, page, {"reading_order": "engine", **OFF}).blocks]
    assert off.blocks == paragraph_blocks(lines)
    assert {b.kind for b in off.blocks} == {"text"} and not off.flags
