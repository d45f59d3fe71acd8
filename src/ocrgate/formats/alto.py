"""The unified response as ALTO XML, version 4.4 (https://www.loc.gov/standards/alto/).

One `Page` per response page, measured in pixels of the page image the engine read
(`MeasurementUnit` pixel, origin top left): its `PrintSpace` holds one `TextBlock` per block with
text, in reading order, then `TextLine`s, then `String`s (one per word, `WC` the word's confidence
0..1) with an `SP` between words. Figures without text become `Illustration`s. Each block's kind
(title, table, header, ...) is a `LayoutTag` that the block names in `TAGREFS`. Where the engine gave
no lines or words, their boxes are estimated from the block's (see `ocrgate.formats.lines`).

Provenance (ALTO 4.x `Description/Processing`, which replaces the deprecated `OCRProcessing`): one
`Processing` step per way text came into the document, only those that did. Blocks read from a PDF's
own text layer (`Block.origin == "text_layer"`, `ocrgate.textlayer`) come from the step
`proc_text_layer` (software: ocrgate, with pdfium); blocks the engine recognised, and pages handed to
the engine that gave no block, from `proc_ocr` (software: the engine). Each `Page` names the steps of
its content in `PROCESSINGREFS`, and each block its own step (on a page with both, a block holding any
line the engine read is the engine's, as `textlayer.merged` marks it).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from importlib.metadata import PackageNotFoundError, version

from ocrgate.formats.lines import page_lines, writable
from ocrgate.schema import Block, Box, OCRResponse, Page, TextLine

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_VERSION = "4.4"
ALTO_SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: the `Processing` step of each `Block.origin`, in the order the flow applies them
STEP_IDS = {"text_layer": "proc_text_layer", "engine": "proc_ocr"}
#: what the engine read on a page, by the origins of the page's text
_ENGINE_READ = {
    "the page images": ["engine"],
    "the pictures that hold text the text layer lacks, on pages that have one": ["text_layer", "engine"],
}


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def _page_origins(page: Page) -> list[str]:
    """The origins of a page's text, in `STEP_IDS` order; a page without blocks was the engine's to read."""
    present = {block.origin for block in page.blocks} or {"engine"}
    return [origin for origin in STEP_IDS if origin in present]


def _processing(description: ET.Element, origin: str, backend: str, read: list[str]) -> None:
    """The `Processing` step that gave the text of blocks of `origin` (ALTO 4.x `processingStepType`:
    category, description, then the software); `read`: what the engine read, for its description."""
    ocrgate = _version("ocrgate")
    if origin == "text_layer":
        what = (
            "text, words and their boxes taken from the PDF's own text layer: the characters the PDF "
            "holds, not recognised from pixels"
        )
        pdfium = f"text layer read with pdfium through pypdfium2 {_version('pypdfium2')}"
        software = {"softwareName": "ocrgate", "softwareVersion": ocrgate, "applicationDescription": pdfium}
    else:
        what = f"optical character recognition by the {backend} engine of {' and of '.join(read)}"
        software = {"softwareName": backend, "applicationDescription": f"run through ocrgate {ocrgate}"}
    step = ET.SubElement(description, "Processing", ID=STEP_IDS[origin])
    ET.SubElement(step, "processingCategory").text = "contentGeneration"
    ET.SubElement(step, "processingStepDescription").text = what
    element = ET.SubElement(step, "processingSoftware")
    for name, text in software.items():
        ET.SubElement(element, name).text = text


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
    step = STEP_IDS[block.origin]
    if not lines:
        if block.kind == "figure":
            figure = ET.SubElement(parent, "Illustration", ID=block_id, TAGREFS=tag, PROCESSINGREFS=step)
            _box(figure, block.bbox)
        return
    element = ET.SubElement(parent, "TextBlock", ID=block_id, TAGREFS=tag, PROCESSINGREFS=step)
    _box(element, block.bbox)
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
    name = writable(response.image_name or "")  # a client's file name may hold what XML cannot
    if name:
        source = ET.SubElement(description, "sourceImageInformation")
        ET.SubElement(source, "fileName").text = name
    per_page = [_page_origins(page) for page in response.pages]
    read = [what for what, used in _ENGINE_READ.items() if used in per_page]
    for origin in STEP_IDS:
        if any(origin in origins for origins in per_page):
            _processing(description, origin, response.backend, read)

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
        element.set("PROCESSINGREFS", " ".join(STEP_IDS[origin] for origin in _page_origins(page)))
        element.set("WIDTH", str(page.width))
        element.set("HEIGHT", str(page.height))
        print_space = _box(ET.SubElement(element, "PrintSpace"), (0, 0, page.width, page.height))
        for i, (block, lines) in enumerate(blocks):
            _block(print_space, block, lines, f"p{number}_b{i + 1}")

    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
