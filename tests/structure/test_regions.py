"""Layout regions on real pages: a table, titles and page headers on a paper page; a figure, its caption."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ocrgate.schema import BLOCK_KINDS
from ocrgate.structure.regions import KINDS, detect_regions
from ocrgate.structure.tables import lines_in_box
from tests.structure.conftest import ocr_lines_type, open_rgb


def texts_in(lines, box) -> str:
    return " ".join(line.text for line in lines_in_box(lines, box))


def test_paper_page_table_titles_header(eval_dir: Path, ocr_lines: ocr_lines_type) -> None:
    page = open_rgb(eval_dir / "docling_pdf" / "images" / "2305.03393v1-pg9_p1.png")
    regions = detect_regions(page)
    lines = ocr_lines(page)
    kinds = [r.kind for r in regions]
    assert kinds.count("table") == 1
    table = next(r for r in regions if r.kind == "table")
    assert {"OTSL", "HTML", "0.969"} <= set(texts_in(lines, table.bbox).split())
    titles = [texts_in(lines, r.bbox) for r in regions if r.kind == "title"]
    assert "5.1 Hyper Parameter Optimization" in titles and "5.2 Quantitative Results" in titles
    headers = [texts_in(lines, r.bbox) for r in regions if r.kind == "header"]
    assert "Optimized Table Tokenization for Table Structure Recognition" in headers
    assert kinds.count("text") >= 3

    for region in regions:
        x0, y0, x1, y1 = region.bbox
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
        assert 0.5 <= region.score <= 1 and region.kind in BLOCK_KINDS and KINDS[region.label] == region.kind
    assert [r.score for r in regions] == sorted((r.score for r in regions), reverse=True)


def test_figure_and_caption(eval_dir: Path) -> None:
    page = open_rgb(eval_dir / "docling_pdf" / "images" / "picture_classification_p1.png")
    regions = detect_regions(page)
    figure = next(r for r in regions if r.kind == "figure")
    caption = next(r for r in regions if r.kind == "caption")
    assert caption.label == "figure_caption"
    assert caption.bbox[1] >= figure.bbox[3] - 5  # the caption sits under its figure
    x0, y0, x1, y1 = figure.bbox
    pixels = page.crop((int(x0), int(y0), int(x1), int(y1))).convert("L")
    assert (x1 - x0) * (y1 - y0) > 0.1 * page.width * page.height
    assert pixels.getextrema()[0] < 128  # the figure's box holds ink


def test_threshold_and_blank_page(eval_dir: Path) -> None:
    page = open_rgb(eval_dir / "docling_pdf" / "images" / "2305.03393v1-pg9_p1.png")
    everything = detect_regions(page, min_score=0.0)
    confident = detect_regions(page, min_score=0.9)
    assert len(everything) > len(confident) >= 5
    assert all(r.score >= 0.9 for r in confident)
    assert detect_regions(Image.new("RGB", (850, 1100), "white")) == []
