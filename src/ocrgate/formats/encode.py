"""One place that turns a response into a file of any output format: the API and the CLI both use it.

| format | media type (`Content-Type`)         | extension   | what                                   |
|--------|-------------------------------------|-------------|----------------------------------------|
| json   | application/json                    | .json       | the unified response                   |
| md     | text/markdown; charset=utf-8        | .md         | its markdown (RFC 7763)                |
| txt    | text/plain; charset=utf-8           | .txt        | every text line (`formats.text`)       |
| alto   | application/xml                     | .alto.xml   | ALTO 4.4 (`formats.alto`)              |
| hocr   | application/xhtml+xml               | .hocr       | hOCR 1.2 in XHTML (`formats.hocr`)     |
| pdf    | application/pdf                     | .ocr.pdf    | searchable PDF (`formats.pdf`)         |

ALTO has no registered media type of its own; it is served as XML (RFC 7303), the type archives
and the Library of Congress serve it with. The searchable PDF is `.ocr.pdf`, never `.pdf`: its input
is often a PDF, and a download or an output named like the input would be saved over the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator

from ocrgate.documents import Document
from ocrgate.errors import EmptyDocument, InvalidOption, OCRGateError
from ocrgate.formats.alto import to_alto
from ocrgate.formats.hocr import to_hocr
from ocrgate.formats.text import to_text
from ocrgate.schema import CompareResponse, OCRResponse, Page
from ocrgate.structure.orientation import as_read

#: the flag of a page a result does not hold, added to a searchable PDF without a text layer
NOT_READ = "not read"

Format = Literal["json", "md", "txt", "alto", "hocr", "pdf"]
FORMAT_NAMES: tuple[str, ...] = get_args(Format)
#: other names people give the formats, taken for them (any case)
FORMAT_ALIASES = {"markdown": "md", "text": "txt"}


def format_name(value: object) -> object:
    """A format's name as `Format` spells it: lowercase, an alias (`markdown`) as its format (`md`);
    anything else as it is, for the validation that follows to refuse."""
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    return FORMAT_ALIASES.get(name, name)


#: `Format` in a request: its aliases and any case taken (`format_name`)
FormatName = Annotated[Format, BeforeValidator(format_name)]


@dataclass(frozen=True)
class FormatSpec:
    name: str
    media_type: str
    extension: str  # with its dot: ".alto.xml"


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("json", "application/json", ".json"),
        FormatSpec("md", "text/markdown; charset=utf-8", ".md"),
        FormatSpec("txt", "text/plain; charset=utf-8", ".txt"),
        FormatSpec("alto", "application/xml", ".alto.xml"),
        FormatSpec("hocr", "application/xhtml+xml", ".hocr"),
        FormatSpec("pdf", "application/pdf", ".ocr.pdf"),
    )
}


def parse_formats(text: str) -> list[Format]:
    """A comma list of format names ("md,alto"), in order, each once; InvalidOption naming the
    unknown ones."""
    names = list(dict.fromkeys(str(format_name(part)) for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise InvalidOption(
            f"unknown format {', '.join(map(repr, unknown)) or repr(text)}; choose from {', '.join(FORMATS)}"
        )
    return names  # type: ignore[return-value]


def single(result: OCRResponse | CompareResponse, fmt: str) -> OCRResponse:
    """`result` as one backend's response; InvalidOption when it compares several and `fmt` is
    not json (an archive file holds one reading of the document)."""
    if isinstance(result, OCRResponse):
        return result
    raise InvalidOption(
        f"format {fmt!r} holds one backend's reading; this result compares {len(result.backends)} "
        f"({', '.join(result.backends)}): ask for json, or for one backend"
    )


def with_page_sizes(response: OCRResponse, document: Document) -> OCRResponse:
    """`response` with the size of each failed page (0 x 0, no blocks) taken from `document`, so it
    is still a page of the right size in ALTO, hOCR and the PDF (its picture, without text); a failed
    page whose size cannot be read either (a PDF page that does not load) is left out."""
    if all(page.width and page.height for page in response.pages):
        return response
    pages = []
    for page in response.pages:
        if not (page.width and page.height):
            try:
                width, height = document.page_size(page.index)
            except (OCRGateError, IndexError):
                continue
            page = page.model_copy(update={"width": width, "height": height})
        pages.append(page)
    return response.model_copy(update={"pages": pages})


def with_unread_pages(response: OCRResponse, document: Document) -> OCRResponse:
    """`response` with an empty page (no blocks, flagged `not read`) for each page of `document` it
    lacks (a cancelled job's pages that were never read), so that a searchable PDF holds every page
    of the document: those without a text layer. A page whose size cannot be read is left out."""
    have = {page.index for page in response.pages}
    added = []
    for index in range(document.page_count):
        if index in have:
            continue
        try:
            width, height = document.page_size(index)
        except (OCRGateError, IndexError):
            continue
        added.append(Page(index=index, width=width, height=height, markdown="", blocks=[], flags=[NOT_READ]))
    if not added:
        return response
    return response.model_copy(update={"pages": sorted([*response.pages, *added], key=lambda p: p.index)})


def encode(result: OCRResponse | CompareResponse, fmt: str, document: Document | None = None) -> bytes:
    """`result` written as `fmt` (one of `FORMATS`), as bytes.

    `document` is the input the result was read from: needed for `pdf` (its pages are the PDF's or
    the images') and used by every archive format for the size of failed pages. json is indented;
    md and txt end with a newline. Raises InvalidOption for an unknown format or for a non-json
    format of a compare result, EmptyDocument for `pdf` of a result without pages, ValueError for
    `pdf` without `document`, and what `to_pdf` raises.
    """
    if fmt not in FORMATS:
        parse_formats(fmt)
    if fmt == "json":
        return result.model_dump_json(indent=2).encode() + b"\n"
    response = single(result, fmt)
    if fmt == "md":
        return (response.markdown + "\n").encode()
    if document is not None:
        response = with_page_sizes(response, document)
    if fmt == "txt":
        return (to_text(response) + "\n").encode()
    if fmt == "alto":
        return to_alto(response)
    if fmt == "hocr":
        return to_hocr(response)
    if document is None:
        raise ValueError("a searchable PDF needs the document the response was read from")
    from ocrgate.formats.pdf import to_pdf  # fpdf2 and fontTools load only when a PDF is written

    if not response.pages:
        raise EmptyDocument("no page of this document has been read: there is nothing to write")
    response = with_unread_pages(response, document)
    if document.is_pdf:
        return to_pdf(response, document.data)
    # each page in the pixels its boxes refer to: turned upright where it was read turned
    return to_pdf(response, [as_read(document.page(page.index).image, page.flags) for page in response.pages])
