"""Small PDFs made with pdfium itself for tests: text in a standard font, pictures, blank pages."""

from __future__ import annotations

import ctypes
import io

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image


class PdfMaker:
    """`add_page`, then `text(...)` and `picture(...)` on the newest page, then `bytes()`."""

    def __init__(self) -> None:
        self.pdf = pdfium.PdfDocument.new()
        self.page: pdfium.PdfPage | None = None

    def add_page(self, width: float = 612, height: float = 792) -> PdfMaker:
        self._finish()
        self.page = self.pdf.new_page(width, height)
        return self

    def text(self, text: str, x: float, y: float, size: float = 12.0, invisible: bool = False) -> PdfMaker:
        """`text` in Helvetica at (x, y) points from the bottom left."""
        assert self.page is not None
        obj = pdfium_c.FPDFPageObj_NewTextObj(self.pdf.raw, b"Helvetica", ctypes.c_float(size))
        encoded = ctypes.create_string_buffer((text + "\0").encode("utf-16-le"))
        pdfium_c.FPDFText_SetText(obj, ctypes.cast(encoded, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
        if invisible:
            pdfium_c.FPDFTextObj_SetTextRenderMode(obj, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
        pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
        pdfium_c.FPDFPage_InsertObject(self.page.raw, obj)
        return self

    def picture(self, image: Image.Image, x: float, y: float, width: float, height: float) -> PdfMaker:
        """`image` drawn in the box (x, y, width, height) points from the bottom left."""
        assert self.page is not None
        obj = pdfium.PdfImage.new(self.pdf)
        bitmap = pdfium.PdfBitmap.from_pil(image.convert("RGB"))
        obj.set_bitmap(bitmap)
        obj.set_matrix(pdfium.PdfMatrix().scale(width, height).translate(x, y))
        self.page.insert_obj(obj)
        return self

    def _finish(self) -> None:
        if self.page is not None:
            self.page.gen_content()

    def bytes(self) -> bytes:
        self._finish()
        buffer = io.BytesIO()
        self.pdf.save(buffer)
        return buffer.getvalue()


def type3_pdf(text: bytes = b"ABAB BA ABBA") -> bytes:
    """A one-page PDF whose text is set in a Type3 font with made-up glyph names and no ToUnicode map:
    the characters are there (and drawn, as boxes), but nothing says which letters they are."""
    proc = b"600 0 0 0 500 700 d1 0 0 500 700 re f"
    content = b"BT /F1 24 Tf 72 700 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 750 750] /FontMatrix [0.001 0 0 0.001 0 0]"
        b" /CharProcs << /q1 6 0 R /q2 6 0 R /space 6 0 R >> /Encoding << /Type /Encoding"
        b" /Differences [32 /space 65 /q1 /q2] >> /FirstChar 32 /LastChar 66"
        b" /Widths [600 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 600 600]"
        b" /Resources << >> >>",
        b"<< /Length %d >>\nstream\n" % len(proc) + proc + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
