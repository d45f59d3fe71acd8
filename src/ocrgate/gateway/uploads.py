"""The upload form every route that takes a file shares: the file, read within its limit and opened
as a Document, the backends it names and the options checked against their published schemas."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, File, Form, Request, UploadFile

from ocrgate.config import Limits
from ocrgate.documents import Document, open_document
from ocrgate.errors import FileTooLarge, InputError
from ocrgate.gateway.state import Gateway, GatewayDep
from ocrgate.middleware import declared_too_large
from ocrgate.render import BoxesMode
from ocrgate.textlayer import TextLayerMode
from ocrgate.wire import options_from_json

CHUNK = 1 << 20


async def read_upload(upload: UploadFile | None, limits: Limits) -> bytes:
    """The file part's bytes; FileTooLarge as soon as they pass the limit."""
    if upload is None:
        raise InputError("no file sent: use a multipart form with a `file` field")
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limits.max_upload_bytes:
            raise FileTooLarge(f"the file is over the limit of {limits.max_upload_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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


@dataclass
class UploadFields:
    """The multipart form's fields as sent, not yet checked (all None for a body that is not a form)."""

    file: UploadFile | None
    backend: str | None
    prompt: str | None
    options: str | None
    boxes: BoxesMode | None
    dpi: int | None
    text_layer: TextLayerMode = "auto"


async def upload_fields(
    file: Annotated[UploadFile | None, File(description="image or PDF")] = None,
    backend: Annotated[str | None, Form(description="a backend name, a comma list, or `all`")] = None,
    prompt: Annotated[str | None, Form(description="prompt, for engines that take one")] = None,
    options: Annotated[
        str | None,
        Form(description="JSON object of engine options; each backend's schema: GET /v1/backends"),
    ] = None,
    boxes: Annotated[BoxesMode | None, Form(description="boxes pictures for all, first or no pages")] = None,
    dpi: Annotated[int | None, Form(ge=36, le=600, description="PDF rasterising resolution")] = None,
    text_layer: Annotated[
        TextLayerMode,
        Form(description="PDF pages: `auto` reads a reliable text layer instead of OCR; `never`; `only`"),
    ] = "auto",
) -> UploadFields:
    """FastAPI dependency: the multipart form of `/v1/ocr` and `/v1/jobs`, as sent."""
    return UploadFields(file, backend, prompt, options, boxes, dpi, text_layer)


def checked_backends(
    gw: Gateway, backend: str | None, options: dict[str, Any], prompt: str | None
) -> tuple[list[str], dict[str, Any]]:
    """The backends named (one, a comma list or `all`; default: the configured default) and the
    options (the prompt among them), checked against each backend's published schema."""
    names = gw.router.parse(backend, gw.settings.default_backend)
    if prompt:
        options = {**options, "prompt": prompt}
    options = {k: v for k, v in options.items() if v is not None}
    for name in names:
        gw.router.pool(name).check_options(options)
    return names, options


async def checked_upload(request: Request, gw: Gateway, fields: UploadFields) -> Upload:
    """The form checked in the order that costs least first (declared size, backends, options, then
    the file itself); typed InputErrors for anything unusable."""
    limits = gw.settings.limits
    if error := declared_too_large(request.headers, limits):
        raise error
    names, parsed = checked_backends(gw, fields.backend, options_from_json(fields.options), fields.prompt)
    started = time.perf_counter()
    data = await read_upload(fields.file, limits)
    name = (fields.file.filename if fields.file else None) or "upload"
    document = await anyio.to_thread.run_sync(open_document, data, name, limits, fields.dpi)
    seconds = time.perf_counter() - started
    return Upload(document, data, names, parsed, fields.boxes, fields.dpi, fields.text_layer, seconds)


async def upload_form(
    request: Request, gw: GatewayDep, fields: Annotated[UploadFields, Depends(upload_fields)]
) -> Upload:
    """FastAPI dependency: the multipart form, checked (`checked_upload`)."""
    return await checked_upload(request, gw, fields)
