"""How a page travels from the gateway to a worker: the upload's own bytes, or raw pixels.

An uploaded single image goes as its own bytes, untouched (the worker decodes it as the intake would:
the gateway decodes it only for what needs its pixels there). A page the gateway made (a rasterised PDF
page, a frame of a multi-page image) goes as raw RGB bytes with its size in the query: measured on an
A4 page (`bench/page_encoding.py`, figures in the README's Performance section), raw pixels cost
about 1 ms to make and 1 ms to read back, where PNG costs 60-80 ms to encode and 20 ms to decode;
compressing the raw bytes (zlib 50 ms; lz4 6-14 ms for a body 18 times smaller) was no faster end to
end over loopback.
Backends that read whole files get the original upload at `/v1/ocr/file` and answer with NDJSON
lines (`FileEvent`): progress while they work (at least every HEARTBEAT_S), then the pages or an error.
"""

from __future__ import annotations

import json
import math
from typing import Any

from PIL import Image
from pydantic import BaseModel, Field

from ocrgate.config import Limits
from ocrgate.documents import PageImage, open_document
from ocrgate.errors import CorruptFile, ImageTooLarge, InvalidOption
from ocrgate.schema import ErrorInfo, PageResult

RAW_RGB = "application/x-ocrgate-rgb"
SECRET_HEADER = "X-Ocrgate-Secret"
NDJSON = "application/x-ndjson"
HEARTBEAT_S = 5.0


class WorkerInfo(BaseModel):
    """A worker's self-description at `GET /v1/info`: all the gateway needs to route pages to it and to
    validate request options, without importing the backend's code."""

    backend: str = Field(description="the backend's registered name")
    engine_version: str | None = Field(default=None, description="the engine's own version, where known")
    ocrgate_version: str
    options_schema: dict[str, Any] = Field(description="JSON Schema of the request options it accepts")
    file_types: list[str] = Field(
        default_factory=list, description="media types it reads whole at /v1/ocr/file (never rasterised)"
    )
    max_batch: int = Field(default=1, ge=1, description="pages its engine recognises in one batch")
    concurrency: int = Field(default=1, ge=1, description="pages the worker runs at once")
    capacity: int = Field(
        default=1, ge=1, description="pages its engine works on at once (decoding rows); >= 1 batch"
    )
    limits: Limits


class FileEvent(BaseModel):
    """One line of a worker's answer to a whole file: progress, or the final pages, or an error."""

    done: int | None = None
    total: int | None = None
    pages: list[PageResult] | None = None
    error: ErrorInfo | None = None

    def line(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode() + b"\n"


def encode_page(page: PageImage) -> tuple[bytes, dict[str, str]]:
    """`page`'s pixels as raw RGB bytes and the query parameters that give their size (decodes the
    page if it was not yet: call it in a thread)."""
    image = page.image if page.image.mode == "RGB" else page.image.convert("RGB")
    params = {"index": str(page.index), "width": str(image.width), "height": str(image.height)}
    return image.tobytes(), params


def page_body(page: PageImage) -> tuple[bytes, str, dict[str, str]]:
    """Body, content type and query parameters that carry `page` to a worker: the upload's own bytes
    when the page is a whole single-image upload (`PageImage.encoded`), else raw RGB (`encode_page`)."""
    if page.encoded is not None:
        return page.encoded.data, page.encoded.media_type, {"index": str(page.index)}
    body, params = encode_page(page)
    return body, RAW_RGB, params


def decode_page(
    body: bytes, content_type: str, index: int, width: int | None, height: int | None, limits: Limits
) -> PageImage:
    """The page a worker received, its pixels made: raw RGB with its size, or any image type the
    intake accepts (its first page, checked and decoded as the gateway's intake does: the same typed
    errors for a damaged file). Blocking: call it in a thread."""
    if content_type.split(";")[0].strip() == RAW_RGB:
        if not width or not height or width <= 0 or height <= 0:
            raise CorruptFile("raw RGB pages need a positive width and height")
        if width * height > limits.max_page_pixels:
            raise ImageTooLarge(f"page is {width}x{height} pixels; the limit is {limits.max_page_pixels:,}")
        if len(body) != width * height * 3:
            raise CorruptFile(
                f"raw RGB page of {width}x{height} needs {width * height * 3} bytes, got {len(body)}"
            )
        return PageImage(index=index, image=Image.frombytes("RGB", (width, height), body))
    document = open_document(body, f"page-{index}", limits)
    first = document.page(0)
    return PageImage(index=index, image=first.image, dpi=first.dpi)


def options_from_json(text: str | None, limits: Limits | None = None) -> dict[str, Any]:
    """A request's `options` field (a JSON object) as a dict; InvalidOption for anything else.

    Checked before parsing: its size (`limits.max_options_bytes`) and how deep its arrays and objects
    nest (`limits.max_options_depth`), so no input reaches the parser's recursion limit; while parsing:
    every number finite (`NaN`, `Infinity` and `1e999` are refused: a schema's `maximum` cannot catch
    NaN) and integers within Python's 4,300-digit conversion limit.
    """
    if not text:
        return {}
    limits = limits or Limits()
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_options_bytes:
        raise InvalidOption(f"`options` is over the limit of {limits.max_options_bytes:,} bytes")
    depth = json_depth(text)
    if depth > limits.max_options_depth:
        raise InvalidOption(f"`options` nests {depth} levels deep; the limit is {limits.max_options_depth}")
    try:
        value = json.loads(text, parse_constant=_non_finite, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InvalidOption(f"`options` must be a JSON object: {exc}") from exc
    except ValueError as exc:  # a non-finite number, an integer with too many digits
        raise InvalidOption(f"`options` has a number that is not allowed: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidOption("`options` must be a JSON object")
    return value


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON `text` (brackets inside strings do not count); a
    linear scan, for text that may be too deep to parse."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _non_finite(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal} is out of the range of a finite number")
    return value
