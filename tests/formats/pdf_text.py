"""What a PDF viewer finds in a searchable PDF: pdfium's text, and its words with boxes in pixels."""

from __future__ import annotations

import ctypes
import difflib

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ocrgate.formats import page_lines
from ocrgate.schema import Box, OCRResponse

FINE = 16  # pdfium maps to whole device pixels: map on a 16x finer device for sub-pixel precision


def _to_pixels(page: pdfium.PdfPage, size: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    dx, dy = ctypes.c_int(), ctypes.c_int()
    ok = pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, size[0] * FINE, size[1] * FINE, 0, x, y, dx, dy)
    assert ok
    return dx.value / FINE, dy.value / FINE


def pdf_pages(data: bytes, sizes: list[tuple[int, int]]) -> list[tuple[str, list[tuple[str, Box]]]]:
    """Per page: pdfium's text, and its words (split at white space) with their loose character
    boxes joined, in pixels of the page shown (rotation and crop box applied) at `sizes[i]`."""
    pages = []
    document = pdfium.PdfDocument(data)
    try:
        assert len(document) == len(sizes)
        for page, size in zip(document, sizes, strict=True):
            textpage = page.get_textpage()
            words: list[tuple[str, Box]] = []
            text, box = "", None
            for i in range(textpage.count_chars()):
                char = chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i))
                if char.isspace():
                    if text:
                        words.append((text, box))
                    text, box = "", None
                    continue
                left, bottom, right, top = textpage.get_charbox(i, loose=True)
                corners = [_to_pixels(page, size, x, y) for x, y in ((left, bottom), (right, top))]
                xs, ys = [c[0] for c in corners], [c[1] for c in corners]
                char_box = (min(xs), min(ys), max(xs), max(ys))
                box = (
                    char_box
                    if box is None
                    else (*np.minimum(box[:2], char_box[:2]), *np.maximum(box[2:], char_box[2:]))
                )
                text += char
            if text:
                words.append((text, box))
            # pdfium joins a word hyphenated at a line end and marks the hyphen U+FFFE: undo that
            pages.append(
                (
                    textpage.get_text_range().replace("\ufffe", "-\n"),
                    [(t, tuple(map(float, b))) for t, b in words],
                )
            )
    finally:
        document.close()
    return pages


def response_words(response: OCRResponse, index: int = 0) -> list[tuple[str, Box]]:
    """The words the writers write for a response page, with their boxes in its pixels."""
    page = response.pages[index]
    return [(w.text, w.bbox) for _, lines in page_lines(page) for line in lines for w in line.words]


def response_text(response: OCRResponse, index: int = 0) -> str:
    return "\n".join(" ".join(t for t, _ in response_words(response, index)).split("\n"))


def iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def matched_words(found: list[tuple[str, Box]], expected: list[tuple[str, Box]]) -> list[tuple[Box, Box]]:
    """(found box, expected box) of the words that the two sequences share, aligned by text."""
    matcher = difflib.SequenceMatcher(a=[t for t, _ in found], b=[t for t, _ in expected], autojunk=False)
    pairs = []
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs.append((found[block.a + k][1], expected[block.b + k][1]))
    return pairs


def ink(image: Image.Image, box: Box) -> float:
    """The share of inked pixels (grey < 192: thin strokes are anti-aliased) in `box` of `image`."""
    grey = np.asarray(image.convert("L"))
    x0, y0, x1, y1 = (round(v) for v in box)
    region = grey[max(0, y0) : max(y0 + 1, y1), max(0, x0) : max(x0 + 1, x1)]
    return float((region < 192).mean()) if region.size else 0.0
