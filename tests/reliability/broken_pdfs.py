"""PDFs with pages that cannot be loaded, written byte by byte: a page tree whose `/Kids` hold a reference
to an object that does not exist where a page should be, or whose `/Count` promises more pages than the
tree holds (as `../shared/bugs/pdf_bogus_count.pdf` does). pdfium counts every promised page and fails
to load the missing ones; the others render normally, each with one line of text."""

from __future__ import annotations

import io
from collections.abc import Collection


def pdf_with_missing_pages(pages: int, missing: Collection[int], extra_count: int = 0) -> bytes:
    """A `pages`-page PDF (US Letter) whose pages at the indices in `missing` are dangling references;
    `extra_count` more pages are promised by `/Count` and not there at all."""
    content = b"BT /F1 36 Tf 72 650 Td (Page %d of the test) Tj ET"
    objects: dict[int, bytes] = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    kids = []
    number = 4
    for index in range(pages):
        if index in missing:
            kids.append(b"9999 0 R")  # no such object
            continue
        stream = content % (index + 1)
        objects[number] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
        objects[number + 1] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            b" /Contents %d 0 R >>" % number
        )
        kids.append(b"%d 0 R" % (number + 1))
        number += 2
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), pages + extra_count)
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = {}
    for key in sorted(objects):
        offsets[key] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (key, objects[key]))
    xref, size = out.tell(), max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for key in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[key] if key in offsets else b"0000000000 65535 f \n")
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    return out.getvalue()
