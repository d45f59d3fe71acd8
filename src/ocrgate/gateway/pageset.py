"""Several uploaded files as one document: their pages, in order, in one multi-page TIFF.

A person deciding between engines uploads a set of pages (ten scans, say) and wants them read as one job.
Each file is opened and checked as any upload is (`open_document`: type, size, pixels, pages); a PDF's pages
are rasterised at the request's dpi (their text layer is not kept: every page of a set goes to the engines).
The pages are then written losslessly (Deflate; grey where the page is grey) into one TIFF, so each engine
sees exactly the pixels it would have seen for the file alone, and the job store keeps one input as for any
job. Each page keeps its resolution (a PDF page's rasterising dpi, an image's declared dpi) in the TIFF's
resolution tags, so a searchable PDF of the set gives each page the size it had in its file.

A file's error names the file (`file 3 of 10, scan.pdf: ...`). A PDF page that cannot be loaded or rendered
does not refuse the set, as it does not refuse the PDF alone: it is stored as a blank 1 x 1 pixel page
and listed in `PageSet.unreadable` with its reason, for the job to mark it failed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageChops, TiffImagePlugin

from ocrgate.config import Limits
from ocrgate.documents import Document, open_document
from ocrgate.errors import FileTooLarge, InputError, PageUnreadable, TooManyPages

#: files named one by one in a `too_many_pages` message; the rest are counted
LISTED_FILES = 12


@dataclass
class PageSet:
    """The set as one document: the TIFF's bytes, each page's name, and the pages that could not be
    read (index from 0 -> the reason, naming the file)."""

    data: bytes
    names: list[str]
    unreadable: dict[int, str] = field(default_factory=dict)


def page_name(file_name: str, index: int, count: int) -> str:
    """How a page of a set is called: the file's name, with `#N` (1-based) for a file of several pages."""
    return file_name if count == 1 else f"{file_name}#{index + 1}"


#: a set's name, `set_name`: `phototest.png + 3 more`
SET_NAME = re.compile(r"(.+) \+ ([0-9]+) more")


def set_name(first: str, others: int) -> str:
    """The name of a set of files: its first file's name and how many more (`phototest.png + 3 more`)."""
    return f"{first} + {others} more"


def file_place(position: int, count: int, name: str) -> str:
    """Which file of the set: `file 3 of 10, scan.pdf` (`position` from 0)."""
    return f"file {position + 1} of {count}, {name}"


def _named(exc: InputError, place: str) -> InputError:
    """`exc` with its message prefixed by the file's `place` (its type, code and status unchanged)."""
    exc.message = f"{place}: {exc.message}"
    exc.args = (exc.message,)
    return exc


def _lossless(image: Image.Image) -> Image.Image:
    """The page as stored: grey where its three channels agree (a third of the bytes; it decodes back to
    the same RGB pixels), else RGB."""
    red, green, blue = image.split()
    grey = (
        ImageChops.difference(red, green).getbbox() is None
        and ImageChops.difference(red, blue).getbbox() is None
    )
    return red if grey else image


def _open_all(files: Sequence[tuple[str, bytes]], limits: Limits, dpi: int | None) -> list[Document]:
    """Every file opened (headers and page tree read, no page rasterised), then their pages counted
    together against `limits.max_pages`. The caller closes the documents."""
    documents: list[Document] = []
    try:
        for position, (name, data) in enumerate(files):
            try:
                documents.append(open_document(data, name, limits, dpi))
            except InputError as exc:
                raise _named(exc, file_place(position, len(files), name)) from exc
        total = sum(d.page_count for d in documents)
        if total > limits.max_pages:
            counts = [f"{d.name}: {d.page_count:,}" for d in documents[:LISTED_FILES]]
            if len(documents) > LISTED_FILES:
                counts.append(f"{len(documents) - LISTED_FILES} more files")
            raise TooManyPages(
                f"the {len(files)} files hold {total:,} pages together ({', '.join(counts)}); "
                f"the limit is {limits.max_pages:,}"
            )
    except BaseException:
        for document in documents:
            document.close()
        raise
    return documents


def combine(files: Sequence[tuple[str, bytes]], limits: Limits, dpi: int | None) -> PageSet:
    """The pages of `files` ((name, bytes) each, in order) as one multi-page TIFF (`PageSet`).

    Raises what `open_document` raises for a bad file, or a page's pixels for a damaged image (the
    message starts with `file_place`), `TooManyPages` when the set holds more than `limits.max_pages`
    pages (the message gives each file's count), and `FileTooLarge` when the TIFF would pass
    `limits.max_upload_bytes` (it is opened as an upload again; photos compress less than scans).
    A PDF page that cannot be loaded or rendered is no error: see the module doc.
    """
    documents = _open_all(files, limits, dpi)
    names: list[str] = []
    unreadable: dict[int, str] = {}
    out = io.BytesIO()
    try:
        with TiffImagePlugin.AppendingTiffWriter(out, new=True) as tiff:
            for position, document in enumerate(documents):
                place = file_place(position, len(documents), document.name)
                for index in range(document.page_count):
                    try:
                        page = document.page(index)
                        image, resolution = _lossless(page.image), page.dpi
                    except PageUnreadable as exc:
                        unreadable[len(names)] = f"{place}: {exc.message}"
                        image, resolution = Image.new("L", (1, 1), 255), None
                    except InputError as exc:
                        raise _named(exc, place) from exc
                    extra = {"dpi": (resolution, resolution)} if resolution else {}
                    image.save(tiff, format="TIFF", compression="tiff_adobe_deflate", **extra)
                    tiff.newFrame()
                    names.append(page_name(document.name, index, document.page_count))
                    if out.tell() > limits.max_upload_bytes:
                        raise FileTooLarge(
                            f"the pages of these files take more than {limits.max_upload_bytes:,} bytes"
                            " together, stored without loss; send fewer at once"
                        )
    finally:
        for document in documents:
            document.close()
    return PageSet(out.getvalue(), names, unreadable)
