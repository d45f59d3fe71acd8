"""What a PDF viewer shows of a page's interactive form: the values of its visible text fields.

pdfium renders form fields and annotations itself once the document's form environment is set up
(`PdfDocument.init_forms()` before any page is loaded, then `render(may_draw_forms=True)`), also for
a field that has no appearance stream of its own. Its text page, though, holds only the page's
content stream, so a field's value is missing from the text layer; `field_values` reads them
through pdfium's annotation API (`FPDFAnnot_GetFormFieldValue`). The caller holds the pdfium lock.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import NamedTuple

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

#: field types whose value is text a reader sees (check boxes and radio buttons hold state names)
_TEXT_FIELDS = frozenset(
    {pdfium_c.FPDF_FORMFIELD_TEXTFIELD, pdfium_c.FPDF_FORMFIELD_COMBOBOX, pdfium_c.FPDF_FORMFIELD_LISTBOX}
)


class FieldValue(NamedTuple):
    """A form field's value as a viewer shows it, and its widget's box in PDF user space (points:
    left, bottom, right, top)."""

    text: str
    rect: tuple[float, float, float, float]


def field_values(pdf: pdfium.PdfDocument, page: pdfium.PdfPage) -> list[FieldValue]:
    """The non-empty values of the page's visible text, combo and list box fields, in widget order.

    A field with several widgets on the page counts once. Empty when the document has no form
    environment (no AcroForm, or `init_forms` was not called).
    """
    if not pdf.formenv:
        return []
    form = pdf.formenv.raw
    values: list[FieldValue] = []
    rect = pdfium_c.FS_RECTF()
    seen: set[tuple[str, str]] = set()
    for position in range(pdfium_c.FPDFPage_GetAnnotCount(page.raw)):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, position)
        if not annot:
            continue
        try:
            if (
                pdfium_c.FPDFAnnot_GetSubtype(annot) != pdfium_c.FPDF_ANNOT_WIDGET
                or pdfium_c.FPDFAnnot_GetFlags(annot) & pdfium_c.FPDF_ANNOT_FLAG_HIDDEN
                or pdfium_c.FPDFAnnot_GetFormFieldType(form, annot) not in _TEXT_FIELDS
            ):
                continue
            name = _utf16(pdfium_c.FPDFAnnot_GetFormFieldName, form, annot)
            value = _utf16(pdfium_c.FPDFAnnot_GetFormFieldValue, form, annot)
            placed = pdfium_c.FPDFAnnot_GetRect(annot, ctypes.byref(rect))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
        if value.strip() and (name, value) not in seen and placed:
            seen.add((name, value))
            box = (
                min(rect.left, rect.right),
                min(rect.bottom, rect.top),
                max(rect.left, rect.right),
                max(rect.bottom, rect.top),
            )
            values.append(FieldValue(value.strip(), box))
    return values


def _utf16(getter: Callable[..., int], *args: object) -> str:
    """A pdfium UTF-16 string getter's result: called once for the size in bytes, once to fill."""
    size = getter(*args, None, 0)
    if size <= 2:  # just the terminating NUL
        return ""
    buffer = ctypes.create_string_buffer(size)
    getter(*args, ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), size)
    return buffer.raw[: size - 2].decode("utf-16-le", errors="replace")
