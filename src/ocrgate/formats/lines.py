"""A page's text as lines and words with boxes: the engine's where it gave them, estimated otherwise.

ALTO, hOCR and PDF text layers are written word by word. Engines differ in what they give: some
give words (Tesseract, RapidOCR), some lines without words, some (DeepSeek-OCR, MinerU) only a
block's text and box. `block_lines` gives every writer the same view: a block's text lines in
reading order, each with at least one word, all boxes in page-image pixels clamped to the page.

Where the engine gave no lines, a block's text is split at line breaks (a table's at its rows) and
the block's box into equal horizontal bands, one a line; where a line has no words, its text is
split at white space and the line's box in proportion to the characters (spaces included) before
and in each word. Estimated boxes are as good as the block box and the font's evenness allow.
"""

from __future__ import annotations

import re

from ocrgate.schema import Block, Box, Page, TextLine, Word
from ocrgate.tables import parse_tables


def _block_texts(block: Block) -> list[str]:
    """A block's plain text lines: a table's rows (cells joined by spaces), else its text's lines."""
    if block.kind == "table":
        rows: list[str] = []
        for table in parse_tables(block.html or block.text):
            for r, slots in enumerate(table.slots):
                cells = [table.texts[owner] for c, owner in enumerate(slots) if owner == (r, c)]
                rows.append(" ".join(" ".join(cells).split()))
        if rows:
            return [row for row in rows if row]
    return [" ".join(line.split()) for line in block.text.splitlines() if line.strip()]


def estimated_words(text: str, bbox: Box) -> list[Word]:
    """`text`'s white-space separated words, each given the share of `bbox`'s width its characters
    take in the text (words joined by single spaces); every word spans the box's full height."""
    tokens = text.split()
    if not tokens:
        return []
    x0, y0, x1, y1 = bbox
    per_char = (x1 - x0) / len(" ".join(tokens))
    words: list[Word] = []
    start = 0
    for token in tokens:
        left = x0 + start * per_char
        words.append(Word(text=token, bbox=(left, y0, left + len(token) * per_char, y1)))
        start += len(token) + 1
    return words


#: characters XML 1.0 does not allow (section 2.2) nor PDF text extraction reproduces: C0 controls but
#: tab, line feed and carriage return, surrogates, U+FFFE and U+FFFF
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def writable(text: str) -> str:
    """`text` without the characters no writer can carry (an engine or a text layer may give them)."""
    return _NOT_TEXT.sub("", text)


def _clamped(line: TextLine, width: float, height: float) -> TextLine | None:
    """The line with its and its words' boxes inside the page and only writable text, words estimated
    where missing; None when it has no text."""
    text = writable(line.text)
    if not text.split():
        return None
    bbox = Box(*line.bbox).clamped(width, height)
    words = [
        word.model_copy(update={"bbox": Box(*word.bbox).clamped(width, height), "text": writable(word.text)})
        for word in line.words
        if writable(word.text).strip()
    ]
    if not words:
        words = estimated_words(text, bbox)
    return line.model_copy(update={"text": text, "bbox": bbox, "words": words})


def block_lines(block: Block, width: float, height: float) -> list[TextLine]:
    """The block's text lines in reading order, each with at least one word; boxes in pixels of a
    `width` x `height` page image, clamped to it. Empty for a block without text (a figure)."""
    if block.lines:
        lines = block.lines
    else:
        texts = _block_texts(block)
        x0, y0, x1, y1 = block.bbox
        step = (y1 - y0) / max(1, len(texts))
        lines = [
            TextLine(text=text, bbox=(x0, y0 + i * step, x1, y0 + (i + 1) * step), score=block.score)
            for i, text in enumerate(texts)
        ]
    return [tl for tl in (_clamped(line, width, height) for line in lines) if tl is not None]


def page_lines(page: Page) -> list[tuple[Block, list[TextLine]]]:
    """Each block of the page, in reading order, with its text lines (see `block_lines`)."""
    return [(block, block_lines(block, page.width, page.height)) for block in page.blocks]
