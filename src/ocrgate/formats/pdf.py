"""The unified response as a searchable PDF: each page's picture under an invisible text layer.

For image inputs each page is the page image, drawn to fill a page of `width x 72 / dpi` by
`height x 72 / dpi` points; for PDF inputs each page is the original PDF page, untouched, with the
text layer laid over it as a form XObject (pypdfium2), so vector content and page size stay as
they were. The text layer (written with fpdf2) holds every word in text render mode 3 (invisible,
PDF 1.7 section 9.3.6) in a glyphless font (`ocrgate.formats.glyphless`): each word is scaled
horizontally to its box's width and sized to its box's height, so selecting, searching and copying
find each word where it is printed. Words of a line are separated by a space character, so text
extraction gives the line's text. Boxes come from the engine's words, else are estimated (see
`ocrgate.formats.lines`).

PDF pages that already carry visible text (born-digital pages) are kept as they are, without an
OCR layer: their own text is exact and a second copy would make every word found twice. Pages
whose only text is hidden (an earlier OCR layer, `ocrgate.hidden_text`: invisible text objects or
form XObjects of them, the way ocrgate and OCRmyPDF lay it, or text covered by the page image painted
over it) get that layer replaced by this one.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from fpdf import FPDF
from fpdf.enums import TextMode
from PIL import Image

from ocrgate.documents import _PDFIUM_LOCK, PDF, sniff
from ocrgate.errors import CorruptFile, UnsupportedType
from ocrgate.formats import glyphless
from ocrgate.formats.lines import page_lines
from ocrgate.hidden_text import HiddenText, invisible
from ocrgate.schema import OCRResponse, Page

# fpdf2 subsets the glyphless font for every PDF written; fontTools logs each subset step at INFO
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

DEFAULT_DPI = 300.0  # for page images that do not say their resolution
_BASELINE = glyphless.ASCENT / glyphless.UNITS_PER_EM  # from a word box's top, in box heights
_CHAR_WIDTH = glyphless.ADVANCE / glyphless.UNITS_PER_EM  # in font sizes
_MIN_SIDE = 0.25  # points: a word box thinner than this is widened to it


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())


def _new_layer(response: OCRResponse, font_path: Path) -> FPDF:
    """An fpdf2 document set up for invisible text in a glyphless font for `response`'s words."""
    chars = {
        c
        for page in response.pages
        for _, lines in page_lines(page)
        for line in lines
        for word in line.words
        for c in word.text
    }
    glyphless.build_font(chars, font_path)
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_creator("ocrgate")
    pdf.add_font(glyphless.FAMILY, fname=str(font_path))
    pdf.set_font(glyphless.FAMILY, size=10)
    pdf.text_mode = TextMode.INVISIBLE
    return pdf


def _draw_text(pdf: FPDF, page: Page, width_pt: float, height_pt: float) -> None:
    """Every word of `page` on the current fpdf2 page, invisible, over its box.

    Each word is sized so that its characters' boxes (ascent to descent, one em) span the word
    box's height and scaled horizontally (`Tz`) so that they span its width.
    """
    sx, sy = width_pt / page.width, height_pt / page.height
    for _, lines in page_lines(page):
        for line in lines:
            words = [(_printable(w.text), w.bbox) for w in line.words]
            words = [(text, bbox) for text, bbox in words if text]
            for k, (text, (x0, y0, x1, y1)) in enumerate(words):
                size = max(_MIN_SIDE, (y1 - y0) * sy)
                width = max(_MIN_SIDE, (x1 - x0) * sx)
                pdf.set_font_size(size)
                pdf.set_stretching(100 * width / (len(text) * _CHAR_WIDTH * size))
                pdf.text(x0 * sx, y0 * sy + _BASELINE * size, text + (" " if k < len(words) - 1 else ""))


def _image_pdf(response: OCRResponse, images: Sequence[Image.Image], dpi: float | None) -> bytes:
    if len(images) != len(response.pages):
        raise ValueError(f"{len(images)} page images for {len(response.pages)} pages")
    with tempfile.TemporaryDirectory(prefix="ocrgate-font-") as folder:
        pdf = _new_layer(response, Path(folder) / "glyphless.ttf")
        for page, image in zip(response.pages, images, strict=True):
            resolution = dpi or _image_dpi(image)
            width_pt, height_pt = image.width * 72 / resolution, image.height * 72 / resolution
            pdf.add_page(format=(width_pt, height_pt))
            pdf.image(image, x=0, y=0, w=width_pt, h=height_pt)
            _draw_text(pdf, page, width_pt, height_pt)
        return bytes(pdf.output())


def _image_dpi(image: Image.Image) -> float:
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        value = 0.0
    return value if 10 <= value <= 10000 else DEFAULT_DPI


# How a page's /Rotate (clockwise degrees) maps its displayed page (origin bottom left, as the
# text layer is drawn) into its user space, per unit of the crop box's width w and height h:
# (a, b, c, d, e, f) of the PDF matrix, with e and f as (w, h) multipliers.
_ROTATIONS = {
    0: ((1, 0, 0, 1), (0, 0), (0, 0)),
    90: ((0, 1, -1, 0), (1, 0), (0, 0)),
    180: ((-1, 0, 0, -1), (1, 0), (0, 1)),
    270: ((0, -1, 1, 0), (0, 0), (0, 1)),
}


def _display_matrix(page: pdfium.PdfPage) -> tuple[pdfium.PdfMatrix, float, float]:
    """The matrix from the displayed page (points, origin bottom left) to the page's user space,
    and the displayed width and height in points (what pdfium renders).

    The box is pdfium's page bounding box (`FPDF_GetPageBoundingBox`: the crop box within the media
    box), which follows boxes a page inherits from its page tree (PDF 32000-1, 7.7.3.4); the page's
    own `/CropBox` and `/MediaBox` entries (`get_cropbox`) fall back to US Letter when it inherits them."""
    left, bottom, right, top = page.get_bbox()
    w, h = right - left, top - bottom
    rotation = page.get_rotation() % 360
    (a, b, c, d), (ew, eh), (fw, fh) = _ROTATIONS[rotation]
    matrix = pdfium.PdfMatrix(a, b, c, d, left + ew * w + eh * h, bottom + fw * w + fh * h)
    width, height = (h, w) if rotation in (90, 270) else (w, h)
    return matrix, width, height


_TEXT_OR_FORM = (pdfium_c.FPDF_PAGEOBJ_TEXT, pdfium_c.FPDF_PAGEOBJ_FORM)


def _prior_text(page: pdfium.PdfPage) -> tuple[bool, list[pdfium.PdfObject]]:
    """Whether the page shows text, and its top-level objects that hold nothing but hidden text (an
    earlier OCR layer, `hidden_text`: text objects drawn invisibly or under a picture that covers
    them, or form XObjects of only invisible text)."""
    shows_text = False
    layer: list[pdfium.PdfObject] = []
    hidden = HiddenText(page)
    for obj in page.get_objects(max_depth=1):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT:
            if hidden.of_object(obj.raw):
                layer.append(obj)
            else:
                shows_text = True
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_FORM:
            inner = list(page.get_objects(form=obj, level=1))
            texts = [o for o in inner if o.type == pdfium_c.FPDF_PAGEOBJ_TEXT]
            if any(not invisible(o.raw) for o in texts):
                shows_text = True
            elif texts and all(o.type in _TEXT_OR_FORM for o in inner):
                layer.append(obj)
    return shows_text, layer


def _open_pdf(data: bytes) -> pdfium.PdfDocument:
    if sniff(data) != PDF:
        raise UnsupportedType("a searchable PDF is made from a PDF or from page images")
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise CorruptFile(f"the PDF cannot be read: {exc}") from exc


def _pdf_pdf(response: OCRResponse, data: bytes) -> bytes:
    with _PDFIUM_LOCK:
        document = _open_pdf(data)
        source: pdfium.PdfDocument | None = None
        try:
            wanted = sorted({page.index for page in response.pages})
            if wanted and wanted[-1] >= len(document):
                raise ValueError(f"page {wanted[-1] + 1} is not in the {len(document)}-page PDF")
            for index in reversed(range(len(document))):
                if index not in wanted:
                    document.del_page(index)
            if len(document) != len(wanted):
                # a page tree that promises pages it does not hold (pdfium cannot delete those): a new
                # document of the wanted pages alone, so the output's page tree is sound
                source, document = document, pdfium.PdfDocument.new()
                document.import_pages(source, wanted)
            targets = []  # (response page, PDF page, matrix, width, height) of the pages to overlay
            for page in response.pages:
                pdf_page = document[wanted.index(page.index)]
                shows_text, old_layer = _prior_text(pdf_page)
                if shows_text:
                    continue  # born-digital: keep its own text
                for obj in old_layer:
                    pdf_page.remove_obj(obj)
                    # destroyed now, under the lock: left to its finalizer, pdfium would free it at some
                    # garbage collection, in whatever thread, beside another thread's pdfium call
                    obj.close()
                targets.append((page, pdf_page, *_display_matrix(pdf_page)))
            if targets:
                _overlay(document, response, targets)
            buffer = io.BytesIO()
            document.save(buffer)
            return buffer.getvalue()
        finally:
            document.close()
            if source is not None:
                source.close()


def _overlay(document: pdfium.PdfDocument, response: OCRResponse, targets: list) -> None:
    """Draw the text layer of each target page with fpdf2, then lay it over the PDF page."""
    with tempfile.TemporaryDirectory(prefix="ocrgate-font-") as folder:
        pdf = _new_layer(response, Path(folder) / "glyphless.ttf")
        for page, _, _, width, height in targets:
            pdf.add_page(format=(width, height))
            _draw_text(pdf, page, width, height)
        layer = pdfium.PdfDocument(bytes(pdf.output()))
    try:
        for k, (_, pdf_page, matrix, _, _) in enumerate(targets):
            form = layer.page_as_xobject(k, document).as_pageobject()
            form.set_matrix(matrix)
            pdf_page.insert_obj(form)
            pdf_page.gen_content()
    finally:
        layer.close()


def to_pdf(
    response: OCRResponse, source: bytes | Sequence[Image.Image], *, dpi: float | None = None
) -> bytes:
    """`response` as a searchable PDF (bytes): its pages' pictures with an invisible text layer.

    `source` is either the original PDF (bytes), whose pages `response.pages[i].index` are kept
    (the others dropped), or the page images, one per response page in the same order, whose
    pixels the response's boxes refer to (scaled when an image's size differs from the page's).
    `dpi` sets the size of image pages (points = pixels x 72 / dpi); by default each image's own
    resolution, else 300. Raises UnsupportedType when `source` is bytes but not a PDF,
    CorruptFile when pdfium cannot read it, ValueError when the response has no pages or its pages
    and `source` do not match.
    """
    if not response.pages:
        raise ValueError("the response has no pages")
    if isinstance(source, bytes | bytearray):
        return _pdf_pdf(response, bytes(source))
    return _image_pdf(response, source, dpi)
