"""The unified response as hOCR 1.2 (http://kba.github.io/hocr-spec/1.2/), in XHTML.

One `ocr_page` per response page, then per block with text an `ocr_carea` holding one `ocr_par`,
its `ocr_line`s and their `ocrx_word`s, in reading order; figures without text are `ocr_photo`.
Every element's `title` carries `bbox x0 y0 x1 y1` in whole pixels of the page image the engine
read (origin top left); words carry `x_wconf`, the confidence in percent (0..100) as Tesseract
writes it. Where the engine gave no lines or words, their boxes are estimated from the block's
(see `ocrgate.formats.lines`).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from ocrgate.formats.lines import page_lines, writable
from ocrgate.schema import Block, Box, OCRResponse, TextLine

XHTML_NS = "http://www.w3.org/1999/xhtml"
_DOCTYPE = (
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
    b' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
)
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocr_photo ocrp_wconf"


def _bbox(bbox: Box) -> str:
    x0, y0, x1, y1 = (round(v) for v in bbox)
    return f"bbox {x0} {y0} {max(x0, x1)} {max(y0, y1)}"


def _wconf(score: float | None) -> str:
    if score is None or not math.isfinite(score):
        return ""
    return f"; x_wconf {round(100 * min(1.0, max(0.0, score)))}"


def _quoted(text: str) -> str:
    """An hOCR string property value: double-quoted, with backslash escapes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(parent: ET.Element, line: TextLine, line_id: str) -> None:
    element = ET.SubElement(parent, "span", {"class": "ocr_line", "id": line_id, "title": _bbox(line.bbox)})
    for k, word in enumerate(line.words):
        score = word.score if word.score is not None else line.score
        span = ET.SubElement(
            element,
            "span",
            {"class": "ocrx_word", "id": f"{line_id}_w{k + 1}", "title": _bbox(word.bbox) + _wconf(score)},
        )
        span.text = word.text


def _block(parent: ET.Element, block: Block, lines: list[TextLine], block_id: str) -> None:
    if not lines:
        if block.kind == "figure":
            ET.SubElement(parent, "div", {"class": "ocr_photo", "id": block_id, "title": _bbox(block.bbox)})
        return
    area = ET.SubElement(parent, "div", {"class": "ocr_carea", "id": block_id, "title": _bbox(block.bbox)})
    par = ET.SubElement(area, "p", {"class": "ocr_par", "id": f"{block_id}_par", "title": _bbox(block.bbox)})
    for j, line in enumerate(lines):
        _line(par, line, f"{block_id}_l{j + 1}")


def to_hocr(response: OCRResponse) -> bytes:
    """`response` as one hOCR 1.2 XHTML document (UTF-8 bytes), one `ocr_page` per response page.

    Boxes are whole pixels of each page's image (`Page.width` x `Page.height`), origin at the
    top left. IDs follow `p{page}_b{block}_l{line}_w{word}`, all counted from 1.
    """
    html = ET.Element("html", {"xmlns": XHTML_NS, "xml:lang": "en", "lang": "en"})
    head = ET.SubElement(html, "head")
    name = writable(response.image_name or "")  # a client's file name may hold what XML cannot
    ET.SubElement(head, "title").text = name or "ocrgate"
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": f"ocrgate {response.backend}"})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    body = ET.SubElement(html, "body")
    for page in response.pages:
        number = page.index + 1
        title = f"bbox 0 0 {page.width} {page.height}; ppageno {page.index}"
        if name:
            title = f"image {_quoted(name)}; {title}"
        element = ET.SubElement(body, "div", {"class": "ocr_page", "id": f"p{number}", "title": title})
        for i, (block, lines) in enumerate(page_lines(page)):
            _block(element, block, lines, f"p{number}_b{i + 1}")
    ET.indent(html, space=" ")
    # ET.indent put white space between words' spans; restore one space (the words' separator)
    for line in html.iter("span"):
        if line.get("class") == "ocr_line":
            words = list(line)
            for k, word in enumerate(words):
                word.tail = " " if k < len(words) - 1 else "\n"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + _DOCTYPE + ET.tostring(html, encoding="utf-8")
