"""A PDF page's text layer as lines and words in the pixels of its rendered image, and whether to trust it.

pdfium keeps every character of a page's text layer with its box in PDF user space (points, origin
bottom left, before the page's /Rotate); it also inserts the spaces and line breaks it infers
(`FPDFText_IsGenerated`). `read_text_layer` groups the characters into words (at spaces) and lines
(at line breaks) and maps their boxes with `FPDF_PageToDevice`, the same transformation pdfium renders
with, so they land on the page image whatever its scale, CropBox and rotation.

`assess` decides whether the layer can replace OCR for that page:
- `none`: no visible character (a scan, or a page of drawings);
- `garbled`: more than `MAX_BAD_SHARE` of the characters have no Unicode mapping
  (`FPDFText_HasUnicodeMapError`), or are U+FFFD / private-use / control characters, as fonts without a
  ToUnicode map give;
- `partial`: the characters' boxes cover less than `MIN_INK_COVERED` of the page's ink (text drawn as
  pictures or curves, a scanned region, an OCR layer that misses part of the page): the page is
  recognised by the engine, and what the engine reads outside the layer's lines is added;
- `reliable`: the text layer is used instead of OCR (exact text, in milliseconds).
Text drawn invisibly (render mode 3, as OCR tools write over scans) counts like any other text.
"""

from __future__ import annotations

import ctypes
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ocrgate.schema import TextLine, Word

Quality = Literal["reliable", "partial", "garbled", "none"]
#: more than this share of bad characters (no Unicode, U+FFFD, private use) makes a layer `garbled`
MAX_BAD_SHARE = 0.02
#: less than this share of the page's ink under the layer's character boxes makes it `partial`
MIN_INK_COVERED = 0.6
#: a pixel darker than this (0..255 grey) is ink
INK_LEVEL = 160
_LINE_BREAKS = {"\r", "\n"}


@dataclass
class TextLayer:
    """A page's text layer: lines (boxes in pixels of the page image), and character counts."""

    lines: list[TextLine] = field(default_factory=list)
    chars: int = 0
    bad_chars: int = 0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def _is_bad(char: str, map_error: bool) -> bool:
    if map_error or char in ("\ufffd", "\ufffe", "\uffff", "\x00"):
        return True
    category = unicodedata.category(char)
    return category in ("Co", "Cs") or (category == "Cc" and char not in "\t\r\n")


class _ToPixels:
    """PDF user space -> pixels of the rendered page, as an affine map read off FPDF_PageToDevice."""

    def __init__(self, page: pdfium.PdfPage, width: int, height: int) -> None:
        # device coordinates come back as integers: read the map over a long baseline
        span = 10_000.0
        origin = self._device(page, width, height, 0.0, 0.0)
        ex = self._device(page, width, height, span, 0.0)
        ey = self._device(page, width, height, 0.0, span)
        self.origin = origin
        self.dx = ((ex[0] - origin[0]) / span, (ex[1] - origin[1]) / span)
        self.dy = ((ey[0] - origin[0]) / span, (ey[1] - origin[1]) / span)

    @staticmethod
    def _device(page: pdfium.PdfPage, width: int, height: int, x: float, y: float) -> tuple[int, int]:
        out_x, out_y = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, x, y, out_x, out_y)
        return out_x.value, out_y.value

    def box(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        xs, ys = [], []
        for x, y in ((left, bottom), (right, top), (left, top), (right, bottom)):
            xs.append(self.origin[0] + x * self.dx[0] + y * self.dy[0])
            ys.append(self.origin[1] + x * self.dx[1] + y * self.dy[1])
        return (min(xs), min(ys), max(xs), max(ys))


def _union(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def read_text_layer(page: pdfium.PdfPage, width: int, height: int) -> TextLayer:
    """The text layer of `page` rendered at `width` x `height` pixels. The caller holds pdfium's lock."""
    textpage = page.get_textpage()
    try:
        to_px = _ToPixels(page, width, height)
        count = textpage.count_chars()
        layer = TextLayer()
        lines: list[TextLine] = []
        words: list[Word] = []
        chars: list[str] = []
        boxes: list[tuple[float, float, float, float]] = []

        def end_word() -> None:
            if chars:
                words.append(Word(text="".join(chars), bbox=_union(boxes)))
                chars.clear()
                boxes.clear()

        def end_line() -> None:
            end_word()
            if words:
                box = _union([w.bbox for w in words])
                lines.append(TextLine(text=" ".join(w.text for w in words), bbox=box, words=list(words)))
                words.clear()

        left, bottom, right, top = (ctypes.c_double() for _ in range(4))
        for index in range(count):
            code = pdfium_c.FPDFText_GetUnicode(textpage.raw, index)
            char = chr(code) if 0 <= code < 0x110000 else "\ufffd"
            if char in _LINE_BREAKS:
                end_line()
                continue
            if char.isspace():
                end_word()
                continue
            if pdfium_c.FPDFText_IsGenerated(textpage.raw, index) == 1:
                continue
            layer.chars += 1
            if _is_bad(char, pdfium_c.FPDFText_HasUnicodeMapError(textpage.raw, index) == 1):
                layer.bad_chars += 1
            if not pdfium_c.FPDFText_GetCharBox(textpage.raw, index, left, right, bottom, top):
                continue
            box = to_px.box(left.value, bottom.value, right.value, top.value)
            if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
                continue
            chars.append(char)
            boxes.append(box)
        end_line()
        layer.lines = lines
        return layer
    finally:
        textpage.close()


def ink_covered(image: Image.Image, layer: TextLayer) -> float:
    """Share (0..1) of the page's ink pixels that lie under the layer's line boxes (1.0: no ink).

    Measured on a copy at most 800 pixels a side; boxes are padded by a third of their height, as
    glyph boxes are tighter than the strokes anti-aliasing spreads.
    """
    scale = min(1.0, 800 / max(image.width, image.height))
    small = image.convert("L")
    if scale < 1.0:
        small = small.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    ink = np.asarray(small) < INK_LEVEL
    total = int(ink.sum())
    if total == 0:
        return 1.0
    covered = np.zeros_like(ink)
    for line in layer.lines:
        x0, y0, x1, y1 = (v * scale for v in line.bbox)
        pad = (y1 - y0) / 3
        covered[
            max(0, int(y0 - pad)) : min(ink.shape[0], int(y1 + pad) + 1),
            max(0, int(x0 - pad)) : min(ink.shape[1], int(x1 + pad) + 1),
        ] = True
    return float((ink & covered).sum()) / total


def assess(layer: TextLayer | None, image: Image.Image) -> Quality:
    """Whether `layer` can stand in for OCR of the page rendered as `image` (see the module's rules)."""
    if layer is None or layer.chars == 0 or not layer.lines:
        return "none"
    if layer.bad_chars / layer.chars > MAX_BAD_SHARE:
        return "garbled"
    if ink_covered(image, layer) < MIN_INK_COVERED:
        return "partial"
    return "reliable"
