"""Archive output formats of the unified response: ALTO XML, hOCR and searchable PDF.

Each writer takes an `OCRResponse` and returns the file's bytes; all work from each block's text
lines and words (`ocrgate.formats.lines`), estimated from the block's box where the engine gave
none. `encode(result, format, document)` is the one dispatch the API and the CLI use.
"""

from ocrgate.formats.alto import to_alto
from ocrgate.formats.encode import (
    FORMAT_NAMES,
    FORMATS,
    Format,
    FormatName,
    FormatSpec,
    encode,
    parse_formats,
)
from ocrgate.formats.hocr import to_hocr
from ocrgate.formats.lines import block_lines, page_lines
from ocrgate.formats.text import to_text

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "Format",
    "FormatName",
    "FormatSpec",
    "block_lines",
    "encode",
    "page_lines",
    "parse_formats",
    "to_alto",
    "to_hocr",
    "to_pdf",
    "to_text",
]


def __getattr__(name: str) -> object:
    # the PDF writer pulls in fpdf2 and fontTools (about a third of a second): imported when used
    if name == "to_pdf":
        from ocrgate.formats.pdf import to_pdf

        return to_pdf
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
