"""The upload form every route that takes a file shares: the file, read within its limit and opened
as a Document, the backends it names and the options checked against their published schemas."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import File, Form, Request, UploadFile

from ocrgate.config import Limits
from ocrgate.documents import Document, open_document
from ocrgate.errors import FileTooLarge, InputError
from ocrgate.gateway.state import GatewayDep
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


async def upload_form(
    request: Request,
    gw: GatewayDep,
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
    for name in names:
        gw.router.pool(name).check_options(parsed)
    started = time.perf_counter()
    data = await read_upload(file, limits)
    name = (file.filename if file else None) or "upload"
    document = await anyio.to_thread.run_sync(open_document, data, name, limits, dpi)
    return Upload(document, data, names, parsed, boxes, dpi, text_layer, time.perf_counter() - started)
