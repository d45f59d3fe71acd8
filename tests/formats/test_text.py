"""`format=txt` on real pages read by RapidOCR: a text row is one line, a table's cells on one baseline
separated by a tab, and no word of the blocks is lost or added."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.formats.text import to_text
from tests.formats.conftest import _rapidocr_page


def test_a_table_row_is_one_line_cells_separated_by_tabs(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    page = _rapidocr_page(rapidocr, eval_dir / "tables" / "images" / "pubtabnet_PMC5897438_004_00.png")
    blocks = page.response.pages[0].blocks
    assert [b.kind for b in blocks] == ["table"]
    text = to_text(page.response)
    lines = text.splitlines()
    assert "Primer name\tPrimer sequence (5'-3)" in lines
    assert "IL6 sense\tGCCCACCAAGAACGATAGTCA" in lines
    assert len(lines) == 11  # a heading row and ten primers, as the markdown table has them
    assert Counter(text.split()) == Counter(w for b in blocks for ln in b.lines for w in ln.text.split())


def test_a_receipt_row_read_in_pieces_is_one_line(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    page = _rapidocr_page(rapidocr, eval_dir / "receipts" / "images" / "sroie_057.jpg")
    blocks = page.response.pages[0].blocks
    text = to_text(page.response)
    assert "CASH $7.10" in text.splitlines()
    assert Counter(text.split()) == Counter(w for b in blocks for ln in b.lines for w in ln.text.split())
