"""The unified response as plain text: every block's text lines, the way the text layer holds them.

Blocks come in reading order, every kind included (page headers and footers too, unlike the
markdown), one text row a line, a blank line between blocks. A row the engine read in pieces (a
receipt's label and amount, a table's cells on one baseline: `layout.text_rows`) is one line, its
pieces separated by a space, a table's cells by a tab; a table without the engine's lines is one
line a row, its cells separated by spaces (`ocrgate.formats.lines`). Pages are separated by a form
feed (U+000C), as Tesseract's and pdftotext's text outputs are.
"""

from __future__ import annotations

from ocrgate.formats.lines import page_lines
from ocrgate.layout import text_rows
from ocrgate.schema import Block, OCRResponse, Page, TextLine

PAGE_BREAK = "\f"
CELL_SEPARATOR = "\t"


def _block_text(block: Block, lines: list[TextLine]) -> str:
    separator = CELL_SEPARATOR if block.kind == "table" else " "
    return "\n".join(separator.join(ln.text for ln in row) for row in text_rows(lines))


def page_text(page: Page) -> str:
    """One page's text: its blocks' text rows (see module doc), a blank line between blocks."""
    blocks = (_block_text(block, lines) for block, lines in page_lines(page))
    return "\n\n".join(block for block in blocks if block)


def to_text(response: OCRResponse) -> str:
    """`response`'s text: each page's (see `page_text`), pages separated by a form feed."""
    return PAGE_BREAK.join(page_text(page) for page in response.pages)
