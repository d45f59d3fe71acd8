"""Which of a PDF page's text no viewer shows: an earlier OCR layer over a scan.

OCR tools write the text they read over a scanned page one of two ways: drawn invisibly (text render
mode 3, PDF 32000-1 section 9.3.6; ocrmypdf, Tesseract's PDF renderer) or drawn first and covered by
the page image painted after it (some archives' tools). Both are someone else's reading of the picture,
not text the page shows. `ocrgate.textlayer` counts such characters (a layer mostly of them is
`hidden`), and `ocrgate.formats.pdf` replaces them when it writes its own layer.
"""

from __future__ import annotations

import ctypes

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c


def _address(handle: object) -> int | None:
    return ctypes.cast(handle, ctypes.c_void_p).value


def invisible(handle: object) -> bool:
    """Whether the text object `handle` (FPDF_PAGEOBJECT) is drawn invisibly (render mode 3)."""
    return bool(pdfium_c.FPDFTextObj_GetTextRenderMode(handle) == pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)


class HiddenText:
    """Which of a page's text no viewer shows: text drawn invisibly (render mode 3), and text drawn
    before a picture (image object) whose bounds cover its centre, so the picture is painted over it.
    OCR tools write their text over a scan one of these two ways (ocrmypdf, Tesseract's PDF renderer:
    invisible; some archives' tools: under the page image). The page's top-level objects are read once,
    in drawing order; text inside form XObjects counts as hidden only when it is invisible."""

    def __init__(self, page: pdfium.PdfPage) -> None:
        self._order: dict[int, int] = {}
        self._pictures: list[tuple[int, float, float, float, float]] = []  # (order, l, b, r, t) points
        for order, obj in enumerate(page.get_objects(max_depth=1)):
            address = _address(obj.raw)
            if address is not None:
                self._order[address] = order
            if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                self._pictures.append((order, *obj.get_bounds()))
        self._known: dict[int, bool] = {}

    def of_object(self, handle: object) -> bool:
        """Whether the text object `handle` (FPDF_PAGEOBJECT) is hidden."""
        address = _address(handle)
        if address is None:
            return False
        if address not in self._known:
            self._known[address] = invisible(handle) or self._under_a_picture(handle, address)
        return self._known[address]

    def of_char(self, textpage: object, index: int) -> bool:
        """Whether character `index` of the text page (FPDF_TEXTPAGE) is hidden."""
        handle = pdfium_c.FPDFText_GetTextObject(textpage, index)
        return bool(handle) and self.of_object(handle)

    def _under_a_picture(self, handle: object, address: int) -> bool:
        order = self._order.get(address)
        if order is None or not self._pictures:
            return False
        left, bottom, right, top = (ctypes.c_float() for _ in range(4))
        if not pdfium_c.FPDFPageObj_GetBounds(handle, left, bottom, right, top):
            return False
        x, y = (left.value + right.value) / 2, (bottom.value + top.value) / 2
        return any(
            later > order and pl <= x <= pr and pb <= y <= pt for later, pl, pb, pr, pt in self._pictures
        )
