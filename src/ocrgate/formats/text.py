"""The unified response as plain text: every block's text lines, the way the text layer holds them.

Blocks come in reading order, every kind included (page headers and footers too, unlike the
markdown), one line of text a line, a blank line between blocks; a table is one line a row, its
cells separated by spaces (`ocrgate.formats.lines`). Pages are separated by a form feed (U+000C),
as Tesseract's and pdftotext's text outputs are.
"""

from __future__ import annotations

from ocrgate.formats.lines import page_lines
from ocrgate.schema import OCRResponse, Page

PAGE_BREAK = "\f"


def page_text(page: Page) -> str:
    """One page's text: its blocks' lines, a blank line between blocks."""
    blocks = ("\n".join(line.text for line in lines) for _, lines in page_lines(page))
    return "\n\n".join(block for block in blocks if block)


def to_text(response: OCRResponse) -> str:
    """`response`'s text: each page's (see `page_text`), pages separated by a form feed."""
    return PAGE_BREAK.join(page_text(page) for page in response.pages)
