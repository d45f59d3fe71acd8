"""What a JSON request names, read: `data:` URLs (RFC 2397) and 0-based page selections."""

from __future__ import annotations

import binascii
import re

import pybase64

from ocrgate.documents import SUPPORTED_TYPES
from ocrgate.errors import FileTooLarge, InvalidRequest, UnsupportedType

# names the formats ocrgate reads also go by; the bytes decide in the end (documents.sniff)
TYPE_ALIASES = {
    "image/jpg",
    "image/pjpeg",
    "image/x-png",
    "image/x-tiff",
    "image/x-ms-bmp",
    "image/x-bmp",
    "application/x-pdf",
}
UNTYPED = {"", "application/octet-stream"}
# a data: URL's header (type and parameters) is short; only this much is searched for its comma
HEADER_MAX = 512
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def decode_base64(text: str, max_bytes: int, what: str = "the document") -> bytes:
    """Standard base64 (RFC 4648, section 4; line breaks and spaces allowed) -> bytes.

    Raises FileTooLarge (413) when the bytes pass `max_bytes` (text far too long for them is refused
    before it is decoded), and InvalidRequest (422) for text that is not base64.
    """
    # 4 characters for every 3 bytes, plus room for line breaks: surely too large, refused unread
    if len(text) > 1.05 * 4 * (max_bytes // 3 + 1) + 1024:
        raise FileTooLarge(f"{what} is over the limit of {max_bytes:,} bytes")
    compact = "".join(text.split())
    try:
        data = pybase64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{what} is not valid base64: {exc}") from exc
    if len(data) > max_bytes:
        raise FileTooLarge(f"{what} has {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    return data


def is_data_url(url: str) -> bool:
    return url[:5].lower() == "data:"


def decode_data_url(url: str, max_bytes: int) -> tuple[str, bytes]:
    """`data:<type>;base64,<data>` -> (declared media type, lower case; "" when none, bytes).

    The declared type must be one ocrgate reads (or none, or application/octet-stream): anything
    else is UnsupportedType (415). The content itself is still sniffed when it is opened.
    """
    if not is_data_url(url):
        raise InvalidRequest("expected a data: URL (data:<media type>;base64,<data>)")
    comma = url.find(",", 0, HEADER_MAX)
    if comma < 0:
        raise InvalidRequest("malformed data: URL: no comma after its media type")
    media_type, *parameters = (part.strip().lower() for part in url[5:comma].split(";"))
    if "base64" not in parameters:
        raise InvalidRequest("only base64 data: URLs are taken (data:<media type>;base64,<data>)")
    if media_type not in UNTYPED and media_type not in SUPPORTED_TYPES and media_type not in TYPE_ALIASES:
        raise UnsupportedType(
            f"a data: URL of type {media_type!r}; send one of: PNG, JPEG, TIFF, WebP, BMP, PDF"
        )
    return media_type, decode_base64(url[comma + 1 :], max_bytes)


def select_pages(spec: list[int] | str | None, page_count: int) -> list[int] | None:
    """Mistral's `pages`: a list of 0-based indices, or a string like "0,2-4"; None: every page.

    Returns the indices sorted and without repeats. InvalidRequest (422) for a malformed string, an
    empty selection or a page the document does not have.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        indices: list[int] = []
        for part in spec.split(","):
            match = _RANGE.match(part)
            if not match:
                raise InvalidRequest(f"pages: {part.strip()!r} is not a page or a range like 2-4")
            first, last = int(match[1]), int(match[2] if match[2] is not None else match[1])
            if last < first:
                raise InvalidRequest(f"pages: the range {part.strip()!r} runs backwards")
            if last >= page_count:
                indices.append(last)  # reported below, without listing a huge range
            indices.extend(range(first, min(last, page_count - 1) + 1))
    else:
        indices = list(spec)
    if not indices:
        raise InvalidRequest("pages: no page selected")
    outside = sorted({i for i in indices if not 0 <= i < page_count})
    if outside:
        raise InvalidRequest(
            f"pages: {', '.join(map(str, outside[:5]))} not in the document, which has {page_count} "
            f"page{'s' if page_count != 1 else ''} (0-based: 0..{page_count - 1})"
        )
    return sorted(set(indices))
