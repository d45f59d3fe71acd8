"""Several uploaded files as one document: their pages, in order, in one multi-page TIFF.

A person deciding between engines uploads a set of pages (ten scans, say) and wants them read as one job.
Each file is opened and checked as any upload is (`open_document`: type, size, pixels, pages); a PDF's pages
are rasterised at the request's dpi (their text layer is not kept: every page of a set goes to the engines).
The pages are then written losslessly (Deflate; grey where the page is grey) into one TIFF, so each engine
sees exactly the pixels it would have seen for the file alone, and the job store keeps one input as for any
job.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageChops, TiffImagePlugin

from ocrgate.config import Limits
from ocrgate.documents import open_document
from ocrgate.errors import FileTooLarge, TooManyPages


def page_name(file_name: str, index: int, count: int) -> str:
    """How a page of a set is called: the file's name, with `#N` (1-based) for a file of several pages."""
    return file_name if count == 1 else f"{file_name}#{index + 1}"


def _lossless(image: Image.Image) -> Image.Image:
    """The page as stored: grey where its three channels agree (a third of the bytes; it decodes back to
    the same RGB pixels), else RGB."""
    red, green, blue = image.split()
    grey = (
        ImageChops.difference(red, green).getbbox() is None
        and ImageChops.difference(red, blue).getbbox() is None
    )
    return red if grey else image


def combine(files: Sequence[tuple[str, bytes]], limits: Limits, dpi: int | None) -> tuple[bytes, list[str]]:
    """The pages of `files` ((name, bytes) each, in order) as one multi-page TIFF, and each page's name.

    Raises what `open_document` raises for a bad file (its message names the file), `TooManyPages` when
    the set holds more than `limits.max_pages` pages, and `FileTooLarge` when the TIFF would pass
    `limits.max_upload_bytes` (it is opened as an upload again; photos compress less than scans).
    """
    names: list[str] = []
    out = io.BytesIO()
    with TiffImagePlugin.AppendingTiffWriter(out, new=True) as tiff:
        for name, data in files:
            document = open_document(data, name, limits, dpi)
            try:
                if len(names) + document.page_count > limits.max_pages:
                    raise TooManyPages(f"the files hold more than {limits.max_pages:,} pages together")
                for index in range(document.page_count):
                    _lossless(document.page(index).image).save(
                        tiff, format="TIFF", compression="tiff_adobe_deflate"
                    )
                    tiff.newFrame()
                    names.append(page_name(name, index, document.page_count))
                    if out.tell() > limits.max_upload_bytes:
                        raise FileTooLarge(
                            f"the pages of these files take more than {limits.max_upload_bytes:,} bytes"
                            " together, stored without loss; send fewer at once"
                        )
            finally:
                document.close()
    return out.getvalue(), names
