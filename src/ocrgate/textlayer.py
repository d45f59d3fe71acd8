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
- `partial`: the page's pictures (image objects) hold more than `MAX_UNCOVERED_INK` of its ink outside
  the layer's lines: text that exists only as pixels (a scanned region, a screenshot, an OCR layer that
  misses part of a scan). The page is recognised by the engine too, and what the engine reads outside
  the layer's lines is added. Ink in vector drawings does not count: a chart's strokes are not text;
- `hidden`: most of its characters cannot be seen: drawn invisibly (render mode 3) or under a picture
  drawn after them that covers them. That is an earlier OCR of a scan (OCR tools write their text one
  of these two ways), someone else's reading of the picture: the engine asked for reads the page, as
  it would a scan without a layer, so that engines compared on such a page are compared on their own
  readings (`text_layer=only` takes the layer all the same, flagged `text_layer_hidden`);
- `reliable`: the text layer is used instead of OCR (exact text, in milliseconds).
"""

from __future__ import annotations

import ctypes
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ocrgate.hidden_text import HiddenText
from ocrgate.layout import paragraph_blocks
from ocrgate.pdf_forms import FieldValue
from ocrgate.schema import Block, Box, PageResult, TextLine, Word

Quality = Literal["reliable", "partial", "garbled", "hidden", "none"]
#: more than this share of bad characters (no Unicode, U+FFFD, private use) makes a layer `garbled`
MAX_BAD_SHARE = 0.02
#: more than this share of the page's ink inside pictures and outside the layer's lines makes it `partial`
MAX_UNCOVERED_INK = 0.1
#: pictures smaller than this share of the page are not OCRed (icons, logos, rules): docling's
#: `OcrOptions.bitmap_area_threshold` default, 0.05
MIN_PICTURE_AREA = 0.05
#: a pixel darker than this (0..255 grey) is ink
INK_LEVEL = 160
#: more than this share of the characters hidden (invisible, or under a picture) makes a layer `hidden`
MAX_HIDDEN_SHARE = 0.5
_LINE_BREAKS = {"\r", "\n"}


@dataclass
class TextLayer:
    """A page's text layer: lines (boxes in pixels of the page image), and character counts."""

    #: the pixel size of the page image the boxes are in
    width: int = 0
    height: int = 0
    lines: list[TextLine] = field(default_factory=list)
    chars: int = 0
    bad_chars: int = 0
    #: characters no viewer shows: drawn invisibly, or under a picture drawn after them (`hidden_text`)
    hidden_chars: int = 0
    #: boxes (pixels) of the page's pictures: where text may exist only as pixels
    pictures: list[tuple[float, float, float, float]] = field(default_factory=list)

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

    def box(self, left: float, bottom: float, right: float, top: float) -> Box:
        xs, ys = [], []
        for x, y in ((left, bottom), (right, top), (left, top), (right, bottom)):
            xs.append(self.origin[0] + x * self.dx[0] + y * self.dy[0])
            ys.append(self.origin[1] + x * self.dx[1] + y * self.dy[1])
        return Box(min(xs), min(ys), max(xs), max(ys))


def read_text_layer(
    page: pdfium.PdfPage, width: int, height: int, fields: Sequence[FieldValue] = ()
) -> TextLayer:
    """The text layer of `page` rendered at `width` x `height` pixels. The caller holds pdfium's lock.

    One pass over pdfium's characters: a space ends a word, a line break ends a line (pdfium inserts
    both where the layout implies them); each word's box is the union of its characters' boxes. Form
    field values (`pdf_forms.field_values`: the text layer lacks them, a viewer shows them) follow, one
    line each on its widget's box, words spread over it by their characters.
    """
    textpage = page.get_textpage()
    try:
        to_px = _ToPixels(page, width, height)
        raw = textpage.raw
        layer = TextLayer(width=width, height=height, pictures=_pictures(page, to_px))
        lines: list[TextLine] = []
        words: list[Word] = []
        chars: list[str] = []
        x0 = y0 = float("inf")
        x1 = y1 = float("-inf")
        left, bottom, right, top = (ctypes.c_double() for _ in range(4))
        get_unicode, get_box = pdfium_c.FPDFText_GetUnicode, pdfium_c.FPDFText_GetCharBox
        map_error = pdfium_c.FPDFText_HasUnicodeMapError
        hidden = HiddenText(page)
        for index in range(textpage.count_chars()):
            code = get_unicode(raw, index)
            char = chr(code) if 0 <= code < 0x110000 else "\ufffd"
            if char.isspace():
                if chars:
                    words.append(_word(chars, x0, y0, x1, y1))
                    chars.clear()
                    x0 = y0 = float("inf")
                    x1 = y1 = float("-inf")
                if char in _LINE_BREAKS and words:
                    lines.append(_line(words))
                    words = []
                continue
            layer.chars += 1
            if hidden.of_char(raw, index):
                layer.hidden_chars += 1
            if _is_bad(char, map_error(raw, index) == 1):
                layer.bad_chars += 1
                if unicodedata.category(char) == "Cc":
                    continue  # a control character is no text: counted, never written
            if not get_box(raw, index, left, right, bottom, top):
                continue
            bx0, by0, bx1, by1 = to_px.box(left.value, bottom.value, right.value, top.value)
            if bx1 <= bx0 or by1 <= by0:
                continue
            chars.append(char)
            x0, y0, x1, y1 = min(x0, bx0), min(y0, by0), max(x1, bx1), max(y1, by1)
        if chars:
            words.append(_word(chars, x0, y0, x1, y1))
        if words:
            lines.append(_line(words))
        lines.extend(_field_line(field, to_px) for field in fields)
        layer.lines = lines
        return layer
    finally:
        textpage.close()


def _word(chars: list[str], x0: float, y0: float, x1: float, y1: float) -> Word:
    return Word.model_construct(text="".join(chars), bbox=Box(x0, y0, x1, y1), score=None)


def _line(words: list[Word]) -> TextLine:
    box = Box.union(w.bbox for w in words)
    return TextLine.model_construct(text=" ".join(w.text for w in words), bbox=box, score=None, words=words)


def _field_line(field: FieldValue, to_px: _ToPixels) -> TextLine:
    """A form field's value as a text line on its widget's box; each word's share of the box is its
    share of the characters (the widget's font is not known here)."""
    box = to_px.box(*field.rect)
    texts = field.text.split()
    total = sum(len(t) for t in texts) + len(texts) - 1
    words, start = [], 0
    for text in texts:
        x0 = box.x0 + box.width * start / total
        x1 = box.x0 + box.width * (start + len(text)) / total
        words.append(Word.model_construct(text=text, bbox=Box(x0, box.y0, x1, box.y1), score=None))
        start += len(text) + 1
    return TextLine.model_construct(text=" ".join(texts), bbox=box, score=None, words=words)


def _pictures(page: pdfium.PdfPage, to_px: _ToPixels) -> list[tuple[float, float, float, float]]:
    """Pixel boxes of the page's image objects (also inside form XObjects)."""
    boxes = []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
        left, bottom, right, top = obj.get_bounds()
        boxes.append(to_px.box(left, bottom, right, top))
    return boxes


def uncovered_picture_ink(image: Image.Image | None, layer: TextLayer) -> float:
    """Share (0..1) of the page's ink that lies inside its pictures and outside the layer's lines.

    Measured on a copy at most 800 pixels a side; line boxes are padded by a third of their height,
    as glyph boxes are tighter than the strokes anti-aliasing spreads. 0.0 when the page has no ink
    or no pictures.
    """
    if not layer.pictures or image is None:
        return 0.0
    scale = min(1.0, 800 / max(image.width, image.height))
    small = image.convert("L")
    if scale < 1.0:
        small = small.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    ink = np.asarray(small) < INK_LEVEL
    total = int(ink.sum())
    if total == 0:
        return 0.0
    height, width = ink.shape

    def mask(boxes: list[tuple[float, float, float, float]], pad_share: float) -> np.ndarray:
        out = np.zeros_like(ink)
        for bx0, by0, bx1, by1 in boxes:
            x0, y0, x1, y1 = (v * scale for v in (bx0, by0, bx1, by1))
            pad = (y1 - y0) * pad_share
            rows = slice(max(0, int(y0 - pad)), min(height, int(y1 + pad) + 1))
            out[rows, max(0, int(x0 - pad)) : min(width, int(x1 + pad) + 1)] = True
        return out

    inside = ink & mask(layer.pictures, 0.0) & ~mask([line.bbox for line in layer.lines], 1 / 3)
    return float(inside.sum()) / total


def assess(layer: TextLayer | None, image: Image.Image | None) -> Quality:
    """Whether `layer` can stand in for OCR of the page rendered as `image` (see the module's rules);
    the image is needed only when the page has pictures."""
    if layer is None or layer.chars == 0 or not layer.lines:
        return "none" if not layer or not layer.bad_chars else "garbled"
    if layer.bad_chars / layer.chars > MAX_BAD_SHARE:
        return "garbled"
    if layer.hidden_chars / layer.chars > MAX_HIDDEN_SHARE:
        return "hidden"
    if uncovered_picture_ink(image, layer) > MAX_UNCOVERED_INK:
        return "partial"
    return "reliable"


def layer_blocks(layer: TextLayer) -> list[Block]:
    """The layer's lines as paragraphs in reading order (`layout.paragraph_blocks`), marked as coming
    from the text layer."""
    return [b.model_copy(update={"origin": "text_layer"}) for b in paragraph_blocks(layer.lines)]


def pictures_to_read(layer: TextLayer, image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Integer pixel boxes of the pictures OCR must read: at least `MIN_PICTURE_AREA` of the page, with
    ink the layer does not cover. Empty: the layer serves alone."""
    crops = []
    for box in layer.pictures:
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(image.width, round(box[2])), min(image.height, round(box[3]))
        if (
            x1 - x0 < 8
            or y1 - y0 < 8
            or (x1 - x0) * (y1 - y0) < MIN_PICTURE_AREA * image.width * image.height
        ):
            continue
        alone = TextLayer(layer.width, layer.height, layer.lines, layer.chars, pictures=[box])
        if uncovered_picture_ink(image, alone) > 0:
            crops.append((x0, y0, x1, y1))
    return crops


def _on_layer_lines(box: Box, layer: TextLayer) -> bool:
    """Whether most of `box` lies on the layer's lines, each grown by a third of its height above and
    below (an engine's line box is taller than the glyph box pdfium gives): it reads text the layer
    already has, rendered over or beside a picture."""
    x0, y0, x1, y1 = box
    area = max(1e-6, (x1 - x0) * (y1 - y0))
    covered = 0.0
    for line in layer.lines:
        lx0, ly0, lx1, ly1 = line.bbox
        pad = (ly1 - ly0) / 3
        w, h = min(x1, lx1) - max(x0, lx0), min(y1, ly1 + pad) - max(y0, ly0 - pad)
        if w > 0 and h > 0:
            covered += w * h
    return covered / area > 0.5


def merged(
    layer: TextLayer,
    page_index: int,
    width: int,
    height: int,
    found: list[tuple[tuple[int, int], PageResult]],
) -> PageResult:
    """The layer's lines plus the lines the engine read in pictures (`found`: each crop's origin in page
    pixels and the engine's result on that crop), except the lines that lie on the layer's own lines
    (`_on_layer_lines`), all put in reading order together (`layout.paragraph_blocks`, so columns stay
    columns); a block holding any engine line says so in its `origin`."""
    engine: list[TextLine] = []
    for (dx, dy), result in found:
        for block in result.blocks:
            moved = _moved(block, dx, dy)
            lines = moved.lines or [TextLine(text=moved.text, bbox=moved.bbox, score=moved.score)]
            # line by line: a block of the engine's may hold a line the layer has (vector text drawn
            # over the picture, or cut by its edge) beside one that only the picture has
            engine += [ln for ln in lines if ln.text.strip() and not _on_layer_lines(ln.bbox, layer)]
    read = {(line.text, tuple(line.bbox)) for line in engine}
    blocks = [
        b.model_copy(
            update={
                "origin": "engine"
                if any((ln.text, tuple(ln.bbox)) in read for ln in b.lines)
                else "text_layer"
            }
        )
        for b in paragraph_blocks([*layer.lines, *engine])
    ]
    return PageResult(
        index=page_index, width=width, height=height, blocks=blocks, flags=["text_layer_partial"]
    )


def _moved(block: Block, dx: float, dy: float) -> Block:
    def shift(box: Box) -> Box:
        return Box(box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)

    lines = [
        ln.model_copy(
            update={
                "bbox": shift(ln.bbox),
                "words": [w.model_copy(update={"bbox": shift(w.bbox)}) for w in ln.words],
            }
        )
        for ln in block.lines
    ]
    return block.model_copy(update={"bbox": shift(block.bbox), "lines": lines})
