"""The upload form every route that takes a file shares: the file (or several: one document of all their
pages, `ocrgate.gateway.pageset`), read within its limit and opened as a Document, the backends it names
and the options checked against their published schemas (shared ones, and each backend's own)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from fastapi import File, Form, Request, UploadFile

from ocrgate.config import Limits
from ocrgate.documents import Document, open_document
from ocrgate.errors import FileTooLarge, InputError, InvalidOption
from ocrgate.gateway.pageset import combine
from ocrgate.gateway.state import GatewayDep
from ocrgate.middleware import declared_too_large
from ocrgate.render import BoxesMode
from ocrgate.textlayer import TextLayerMode
from ocrgate.wire import options_from_json

CHUNK = 1 << 20


async def read_upload(upload: UploadFile | None, limits: Limits, already: int = 0) -> bytes:
    """The file part's bytes; FileTooLarge as soon as they (plus `already` bytes of earlier files of
    the same form) pass the limit."""
    if upload is None:
        raise InputError("no file sent: use a multipart form with a `file` field")
    chunks: list[bytes] = []
    size = already
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limits.max_upload_bytes:
            raise FileTooLarge(f"the upload is over the limit of {limits.max_upload_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def backend_options_from_json(text: str | None, names: list[str]) -> dict[str, dict[str, Any]]:
    """The `backend_options` field: a JSON object of backend name -> that backend's own options object.

    InvalidOption for anything else, or for a name that is not one of the request's `names`.
    """
    value = options_from_json(text)
    for name, own in value.items():
        if name not in names:
            raise InvalidOption(f"`backend_options` names {name!r}, which is not one of the chosen backends")
        if not isinstance(own, dict):
            raise InvalidOption(f"`backend_options.{name}` must be a JSON object")
    return {name: {k: v for k, v in own.items() if v is not None} for name, own in value.items()}


async def _document(
    files: list[UploadFile], limits: Limits, dpi: int | None
) -> tuple[Document, bytes, list[str]]:
    """One file as it is; several as one document of all their pages (with each page's name)."""
    parts: list[tuple[str, bytes]] = []
    for upload in files:
        data = await read_upload(upload, limits, sum(len(d) for _, d in parts))
        parts.append((upload.filename or "upload", data))
    if len(parts) == 1:
        name, data = parts[0]
        return await anyio.to_thread.run_sync(open_document, data, name, limits, dpi), data, []
    data, page_names = await anyio.to_thread.run_sync(combine, parts, limits, dpi)
    name = f"{parts[0][0]} + {len(parts) - 1} more"
    document = await anyio.to_thread.run_sync(open_document, data, name, limits, dpi)
    return document, data, page_names


@dataclass
class Upload:
    """A checked upload: the document (the caller closes it), its bytes and what to do with it."""

    document: Document
    data: bytes
    backends: list[str]
    options: dict[str, Any]
    boxes: BoxesMode | None
    dpi: int | None
    text_layer: TextLayerMode = "auto"
    decode_seconds: float = 0.0
    backend_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    page_names: list[str] = field(default_factory=list)


async def upload_form(
    request: Request,
    gw: GatewayDep,
    file: Annotated[
        list[UploadFile] | None,
        File(description="image or PDF; several `file` parts: one document of all their pages, in order"),
    ] = None,
    backend: Annotated[str | None, Form(description="a backend name, a comma list, or `all`")] = None,
    prompt: Annotated[str | None, Form(description="prompt, for engines that take one")] = None,
    options: Annotated[
        str | None,
        Form(description="JSON object of engine options; each backend's schema: GET /v1/backends"),
    ] = None,
    backend_options: Annotated[
        str | None,
        Form(description="JSON object: backend name -> its own options, merged over `options` for it"),
    ] = None,
    boxes: Annotated[BoxesMode | None, Form(description="boxes pictures for all, first or no pages")] = None,
    dpi: Annotated[int | None, Form(ge=36, le=600, description="PDF rasterising resolution")] = None,
    text_layer: Annotated[
        TextLayerMode,
        Form(description="PDF pages: `auto` reads a reliable text layer instead of OCR; `never`; `only`"),
    ] = "auto",
) -> Upload:
    """FastAPI dependency: the multipart form of `/v1/ocr` and `/v1/jobs`, checked in the order that
    costs least first (declared size, backends, options, then the file itself)."""
    limits = gw.settings.limits
    if error := declared_too_large(request.headers, limits):
        raise error
    names = gw.router.parse(backend, gw.settings.default_backend)
    parsed = options_from_json(options)
    if prompt:
        parsed["prompt"] = prompt
    parsed = {k: v for k, v in parsed.items() if v is not None}
    own = backend_options_from_json(backend_options, names)
    for name in names:
        gw.router.pool(name).check_options({**parsed, **own.get(name, {})})
    started = time.perf_counter()
    if not file:
        raise InputError("no file sent: use a multipart form with a `file` field")
    document, data, page_names = await _document(file, limits, dpi)
    seconds = time.perf_counter() - started
    return Upload(document, data, names, parsed, boxes, dpi, text_layer, seconds, own, page_names)
