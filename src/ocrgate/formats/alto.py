"""The unified response as ALTO XML, version 4.4 (https://www.loc.gov/standards/alto/).

One `Page` per response page, measured in pixels of the page image the engine read
(`MeasurementUnit` pixel, origin top left): its `PrintSpace` holds one `TextBlock` per block with
text, in reading order, then `TextLine`s, then `String`s (one per word, `WC` the word's confidence
0..1) with an `SP` between words. Figures without text become `Illustration`s. Each block's kind
(title, table, header, ...) is a `LayoutTag` that the block names in `TAGREFS`. The engine is named
in `Description/OCRProcessing` (the element Tesseract's ALTO writer uses too). Where the engine gave
no lines or words, their boxes are estimated from the block's (see `ocrgate.formats.lines`).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from importlib.metadata import PackageNotFoundError, version

from ocrgate.formats.lines import page_lines
from ocrgate.schema import Block, Box, OCRResponse, TextLine

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_VERSION = "4.4"
ALTO_SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _ocrgate_version() -> str:
    try:
        return version("ocrgate")
    except PackageNotFoundError:
        return "unknown"


def _box(element: ET.Element, bbox: Box) -> ET.Element:
    """HPOS/VPOS/WIDTH/HEIGHT of `bbox` ([x0, y0, x1, y1] pixels), rounded to whole pixels."""
    x0, y0, x1, y1 = (round(v) for v in bbox)
    element.set("HPOS", str(x0))
    element.set("VPOS", str(y0))
    element.set("WIDTH", str(max(0, x1 - x0)))
    element.set("HEIGHT", str(max(0, y1 - y0)))
    return element


def _confidence(score: float | None) -> str | None:
    """ALTO's WC: 0..1, None where unknown."""
    if score is None or not math.isfinite(score):
        return None
    return f"{min(1.0, max(0.0, score)):.4g}"


def _text_line(parent: ET.Element, line: TextLine, line_id: str) -> None:
    element = _box(ET.SubElement(parent, "TextLine", ID=line_id), line.bbox)
    for k, word in enumerate(line.words):
        if k:  # the white space between the previous word and this one
            left = round(line.words[k - 1].bbox[2])
            sp = ET.SubElement(element, "SP", HPOS=str(left), VPOS=str(round(line.bbox[1])))
            sp.set("WIDTH", str(max(0, round(word.bbox[0]) - left)))
        string = _box(ET.SubElement(element, "String", ID=f"{line_id}_w{k + 1}"), word.bbox)
        string.set("CONTENT", word.text)
        wc = _confidence(word.score if word.score is not None else line.score)
        if wc is not None:
            string.set("WC", wc)


def _block(parent: ET.Element, block: Block, lines: list[TextLine], block_id: str) -> None:
    tag = f"kind_{block.kind}"
    if not lines:
        if block.kind == "figure":
            _box(ET.SubElement(parent, "Illustration", ID=block_id, TAGREFS=tag), block.bbox)
        return
    element = _box(ET.SubElement(parent, "TextBlock", ID=block_id, TAGREFS=tag), block.bbox)
    for j, line in enumerate(lines):
        _text_line(element, line, f"{block_id}_l{j + 1}")


def to_alto(response: OCRResponse) -> bytes:
    """`response` as one ALTO 4.4 document (UTF-8 bytes), one `Page` per response page.

    Coordinates are in pixels of each page's image (`Page.width` x `Page.height`), origin at the
    top left. IDs follow `p{page}_b{block}_l{line}_w{word}`, all counted from 1.
    """
    root = ET.Element("alto", {"SCHEMAVERSION": ALTO_VERSION})
    root.set("xmlns", ALTO_NS)
    root.set("xmlns:xsi", _XSI)
    root.set("xsi:schemaLocation", f"{ALTO_NS} {ALTO_SCHEMA}")

    description = ET.SubElement(root, "Description")
    ET.SubElement(description, "MeasurementUnit").text = "pixel"
    if response.image_name:
        source = ET.SubElement(description, "sourceImageInformation")
        ET.SubElement(source, "fileName").text = response.image_name
    processing = ET.SubElement(description, "OCRProcessing", ID="OCR_0")
    step = ET.SubElement(processing, "ocrProcessingStep")
    ET.SubElement(step, "processingStepDescription").text = f"ocrgate {_ocrgate_version()}"
    software = ET.SubElement(step, "processingSoftware")
    ET.SubElement(software, "softwareName").text = response.backend

    pages = [(page, page_lines(page)) for page in response.pages]
    kinds = sorted({block.kind for _, blocks in pages for block, _ in blocks})
    if kinds:
        tags = ET.SubElement(root, "Tags")
        for kind in kinds:
            ET.SubElement(tags, "LayoutTag", ID=f"kind_{kind}", TYPE="block kind", LABEL=kind)

    layout = ET.SubElement(root, "Layout")
    for page, blocks in pages:
        number = page.index + 1
        element = ET.SubElement(layout, "Page", ID=f"p{number}", PHYSICAL_IMG_NR=str(number))
        element.set("WIDTH", str(page.width))
        element.set("HEIGHT", str(page.height))
        print_space = _box(ET.SubElement(element, "PrintSpace"), (0, 0, page.width, page.height))
        for i, (block, lines) in enumerate(blocks):
            _block(print_space, block, lines, f"p{number}_b{i + 1}")

    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
