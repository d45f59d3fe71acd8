"""Which output format an API caller asked for, and the answer written in it.

The format comes from the request's `format` field (form field of `POST /v1/ocr`, query parameter
of `GET /v1/jobs/{id}/result`), else from `Accept` when it is unambiguous, else it is json. `Accept`
is read for the media types no generic client sends on its own (`application/pdf`,
`application/alto+xml`, `text/markdown`, `text/plain`, `application/json`); `text/html`,
`application/xhtml+xml`, `application/xml` and wildcards are not taken as a request for hOCR or ALTO,
because every browser sends them when it follows a link. Of the types named, the one with the
highest `q` wins; a tie between formats, or one with json, gives json. A non-json answer carries
its media type and a `Content-Disposition` naming the file (the upload's name with the format's
extension); errors stay JSON.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from fastapi import Response

from ocrgate.documents import Document
from ocrgate.errors import InvalidOption
from ocrgate.formats import FORMATS, Format, encode
from ocrgate.gateway.form import bare_file_name
from ocrgate.gateway.pageset import SET_NAME
from ocrgate.schema import CompareResponse, OCRResponse

ACCEPTED: dict[str, Format] = {
    "application/json": "json",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/plain": "txt",
    "application/alto+xml": "alto",
    "application/pdf": "pdf",
}
FORMAT_DESCRIPTION = (
    "output format: json (default), md, txt, alto (ALTO 4.4 XML), hocr (hOCR 1.2), pdf (searchable "
    "PDF); non-json formats need one backend. Without it, Accept chooses where it is unambiguous"
)
#: OpenAPI: the media types a 200 answer can have besides JSON
FORMAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the unified response (JSON), or the file in the format asked for",
        "content": {spec.media_type.split(";")[0]: {} for spec in FORMATS.values() if spec.name != "json"},
    }
}


def _quality(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return min(1.0, max(0.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


@functools.lru_cache(maxsize=256)  # clients send the same few Accept headers again and again
def negotiate(accept: str | None) -> Format | None:
    """The format `accept` asks for unambiguously (see the module doc), else None."""
    best: dict[Format, float] = {}
    for item in (accept or "").split(","):
        media_type, *params = item.split(";")
        fmt = ACCEPTED.get(media_type.strip().lower())
        if fmt is not None:
            best[fmt] = max(best.get(fmt, 0.0), _quality(params))
    top = max(best.values(), default=0.0)
    winners = [fmt for fmt, q in best.items() if q == top]
    return winners[0] if top > 0 and len(winners) == 1 and winners[0] != "json" else None


def requested_format(explicit: Format | None, accept: str | None) -> Format:
    return explicit or negotiate(accept) or "json"


def check_backends(fmt: Format, backends: list[str], how: str = "ask for one backend") -> None:
    """InvalidOption (422) before any work when a non-json format is asked of several backends;
    `how` says how to name one."""
    if fmt != "json" and len(backends) > 1:
        raise InvalidOption(
            f"format {fmt!r} holds one backend's reading; there are {len(backends)} "
            f"({', '.join(backends)}): {how}, or ask for json to compare them"
        )


def one_backend(result: OCRResponse | CompareResponse, backend: str) -> OCRResponse:
    """`backend`'s response out of `result`; InvalidOption when it did not run there."""
    if isinstance(result, OCRResponse) and result.backend == backend:
        return result
    if isinstance(result, CompareResponse) and backend in result.results:
        return result.results[backend]
    ran = result.backends if isinstance(result, CompareResponse) else [result.backend]
    raise InvalidOption(f"no result of backend {backend!r} here; it ran {', '.join(ran)}")


def _stem(name: str | None) -> str:
    """A download's name without its extension: the upload's file name's stem, or for a set of files
    (`pageset.set_name`: `phototest.png + 3 more`) the first one's stem and the count (`phototest+3`,
    as the web client names it)."""
    whole = SET_NAME.fullmatch(name or "")
    if whole:
        return f"{_stem(whole[1])}+{whole[2]}"
    base = bare_file_name(name or "")  # jobs stored before names came in bare may still hold folders
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    # no control characters; no leading dot, which would make the download a hidden file
    stem = re.sub(r"[\x00-\x1f\x7f]", "", stem).strip().lstrip(".")
    return stem or "ocr"


def content_disposition(filename: str, inline: bool = False) -> str:
    """`attachment` (or `inline`: a browser shows it, `curl -OJ` still saves it under that name)
    naming `filename`: an ASCII fallback (`rapport été.md` -> `rapport ete.md`, for clients that read
    only it, as curl does) and the UTF-8 name (RFC 6266, RFC 8187)."""
    # accents dropped where a letter has one (NFKD: é -> e + a combining mark), the rest replaced
    plain = "".join(c for c in unicodedata.normalize("NFKD", filename) if not unicodedata.combining(c))
    fallback = re.sub(r'[^\x20-\x7e]|["\\%]', "_", plain)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_name(image_name: str | None, extension: str, engine: str | None = None) -> str:
    """The name a file made from an upload is saved under: the upload's stem (`_stem`), `engine`
    where given (`scan.tesseract.hocr`), then `extension` (with its dot)."""
    return _stem(image_name) + (f".{engine}" if engine else "") + extension


def file_response(
    result: OCRResponse | CompareResponse, fmt: Format, document: Document, engine: str | None = None
) -> Response:
    """`result` written as `fmt` (blocking: PDF writing takes a while; run it in a thread), named
    after the upload, with `engine` before the extension where given (one engine's reading of a job
    of several: `scan.tesseract.hocr`, as the web client names it)."""
    spec = FORMATS[fmt]
    data = encode(result, fmt, document)
    filename = download_name(result.image_name, spec.extension, engine)
    return Response(
        data, media_type=spec.media_type, headers={"Content-Disposition": content_disposition(filename)}
    )
