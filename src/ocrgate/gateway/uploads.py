"""The upload form every route that takes a file shares: the file (or, for a job, several: one document
of all their pages, `ocrgate.gateway.pageset`) opened as a Document, the fields typed, the backends
it names and the options checked against their published schemas (shared ones, and each backend's
own). The body itself is read by `gateway.form`, under its limits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocrgate.config import Limits
from ocrgate.documents import Document, open_document, sniff
from ocrgate.errors import (
    BackendUnavailable,
    InputError,
    InvalidOption,
    InvalidRequest,
)
from ocrgate.formats import Format, FormatName
from ocrgate.gateway.form import FilePart, Form, read_form
from ocrgate.gateway.formatting import FORMAT_DESCRIPTION
from ocrgate.gateway.pageset import PageSet, combine, set_name
from ocrgate.gateway.state import Gateway, GatewayDep
from ocrgate.render import BoxesMode
from ocrgate.schema import TextLayerMode
from ocrgate.wire import options_from_json

#: a PNG or JPEG upload up to this size has its headers read on the event loop: one frame, no pixels
#: decoded (`image_files.image_frames`), about 0.1 ms, less than a hand-off to a thread and back costs
#: the loop under load (py-spy, `bench/profile_gateway.py`); larger files, PDFs and multi-page images
#: (TIFF frames, a PDF's pages) are opened in a thread
INLINE_OPEN_BYTES = 1 << 20
#: `file` parts a job's form may hold: a set of pages read as one document
MAX_SET_FILES = 100


class UploadFields(BaseModel):
    """The form's fields besides the file, as sent (text), checked here."""

    model_config = ConfigDict(extra="ignore")

    backend: str | None = Field(default=None, description="a backend name, a comma list, or `all`")
    prompt: str | None = Field(default=None, description="prompt, for engines that take one")
    options: str | None = Field(
        default=None, description="JSON object of engine options; each backend's schema: GET /v1/backends"
    )
    backend_options: str | None = Field(
        default=None, description="JSON object: backend name -> its own options, merged over `options` for it"
    )
    boxes: BoxesMode | None = Field(default=None, description="boxes pictures for all, first or no pages")
    dpi: int | None = Field(default=None, ge=36, le=600, description="PDF rasterising resolution")
    text_layer: TextLayerMode | None = Field(
        default=None,
        description="PDF pages: `auto` reads a reliable text layer instead of OCR; `never` has the engine "
        "read every page; `only`. Default: `auto` for one backend, `never` when several are compared",
    )
    format: FormatName | None = Field(default=None, description=FORMAT_DESCRIPTION + " (`/v1/ocr` only)")


FIELD_NAMES = tuple(UploadFields.model_fields)
#: fields of `UploadFields` that `POST /v1/jobs` refuses (422 `invalid_request`), with where they belong
JOB_REFUSED = {
    "format": "`format` is not a field of POST /v1/jobs: a job's result is written in a format when it is "
    "fetched, with GET /v1/jobs/{id}/result?format=md (or txt, alto, hocr, pdf, json)",
}


def default_text_layer(backends: list[str]) -> TextLayerMode:
    """The `text_layer` of a request that sets none: `never` when it compares several backends (a
    comparison is about the engines, so each one reads every page; with `auto` every engine would hand
    back the same text layer and agree), else `auto`. Requests and jobs alike."""
    return "never" if len(backends) > 1 else "auto"


class UploadForm(UploadFields):
    """The multipart form of `POST /v1/ocr` and `POST /v1/jobs` (for the OpenAPI document)."""

    file: bytes = Field(description="image or PDF", json_schema_extra={"format": "binary"})


def openapi_body(leave_out: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The routes' `openapi_extra`: their request body, as FastAPI would describe `Form`/`File` fields
    (without the fields of `leave_out`)."""
    schema = UploadForm.model_json_schema()
    for name in leave_out or {}:
        schema["properties"].pop(name, None)
    schema["required"] = ["file"]
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def check_fields(form: Form, refused: Mapping[str, str] | None = None) -> UploadFields:
    """The text fields as `UploadFields` (empty ones count as absent); 422 `invalid_request` otherwise,
    also for a field the form does not take (an engine option such as `layout` sent as its own field
    would otherwise be ignored without a word: engine options go in `options`), for a field sent
    twice, and for a field of `refused` (field name -> the message that says where it belongs),
    whatever its value."""
    values: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in form:
        if key == "file":
            continue
        if refused and key in refused:
            raise InvalidRequest(refused[key])
        if key not in UploadFields.model_fields:
            taken = ", ".join(f"`{name}`" for name in FIELD_NAMES)
            raise InvalidRequest(
                f"the form has no field {key!r}; it takes `file`, {taken}. Engine options go in "
                "`options` as a JSON object; each engine's are listed at GET /v1/backends"
            )
        if isinstance(value, FilePart):
            raise InvalidRequest(f"`{key}` must be a text field, not a file")
        if key in seen:  # which one would count is a guess: say so rather than take the last
            several = " (several backends go in one, comma-separated: `rapidocr,tesseract`)"
            raise InvalidRequest(
                f"the form has `{key}` twice; each field once" + (several if key == "backend" else "")
            )
        seen.add(key)
        if value != "":
            values[key] = value
    try:
        return UploadFields.model_validate(values)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


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
    format: Format | None = None
    backend_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    page_names: list[str] = field(default_factory=list)
    #: a set's pages that cannot be read (`pageset.PageSet.unreadable`): index from 0 -> reason
    unreadable_pages: dict[int, str] = field(default_factory=dict)


def backend_options_from_json(
    text: str | None, names: list[str], limits: Limits
) -> dict[str, dict[str, Any]]:
    """The `backend_options` field: a JSON object of backend name -> that backend's own options object.

    InvalidOption for anything else, or for a name that is not one of the request's `names`.
    """
    value = options_from_json(text, limits)
    for name, own in value.items():
        if name not in names:
            raise InvalidOption(f"`backend_options` names {name!r}, which is not one of the chosen backends")
        if not isinstance(own, dict):
            raise InvalidOption(f"`backend_options.{name}` must be a JSON object")
    return {name: {k: v for k, v in own.items() if v is not None} for name, own in value.items()}


async def _document(
    files: list[str | FilePart], limits: Limits, dpi: int | None
) -> tuple[Document, PageSet | None]:
    """One file as it is; several as one document of all their pages (and the `PageSet` it was made
    from: each page's name, the pages that cannot be read)."""
    if not files:
        raise InputError("no file sent: use a multipart form with a `file` field")
    parts: list[tuple[str, bytes]] = []
    for upload in files:
        if isinstance(upload, str):
            raise InvalidRequest("`file` must be a file part (its Content-Disposition names a filename)")
        parts.append((upload.filename or "upload", upload.data))
    if len(parts) == 1:
        name, data = parts[0]
        if len(data) <= INLINE_OPEN_BYTES and sniff(data) in ("image/png", "image/jpeg"):
            return open_document(data, name, limits, dpi), None  # see INLINE_OPEN_BYTES
        return await anyio.to_thread.run_sync(open_document, data, name, limits, dpi), None
    pages = await anyio.to_thread.run_sync(combine, parts, limits, dpi)
    name = set_name(parts[0][0], len(parts) - 1)
    return await anyio.to_thread.run_sync(open_document, pages.data, name, limits, dpi), pages


def checked_backends(
    gw: Gateway,
    names: list[str],
    options: dict[str, Any],
    prompt: str | None,
    own: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """The backends `names` (`Gateway.backends_named`) and the options (the prompt among them),
    checked against each backend's published schema (with that backend's `own` options over them) and,
    as they travel to the workers, against `limits.max_options_bytes`."""
    limits = gw.settings.limits
    if prompt:
        options = {**options, "prompt": prompt}
    options = {k: v for k, v in options.items() if v is not None}
    if options and len(json.dumps(options)) > limits.max_options_bytes:
        raise InvalidOption(
            f"`options` and `prompt` are over the limit of {limits.max_options_bytes:,} bytes"
        )
    for name in names:
        try:
            gw.router.pool(name).check_options({**options, **(own or {}).get(name, {})})
        except BackendUnavailable:
            if len(names) == 1:
                raise  # a comparison answers with the engines that are up (`recognize.recognize_now`)
    return names, options


async def job_form(request: Request, gw: GatewayDep) -> Upload:
    """FastAPI dependency: the multipart form of `/v1/jobs` (`UploadForm` without `format`: `JOB_REFUSED`;
    several `file` parts: one set of pages), checked as `checked_upload` checks it."""
    return await checked_upload(request, gw, file_parts=MAX_SET_FILES, refused=JOB_REFUSED)


async def checked_upload(
    request: Request, gw: Gateway, file_parts: int = 1, refused: Mapping[str, str] | None = None
) -> Upload:
    """The request's multipart form, checked in the order that costs least first (the declared size
    was, by the gateway's middleware; then fields (`refused` ones: `check_fields`), backends, options,
    and the file itself)."""
    limits = gw.settings.limits
    form = await read_form(request, limits, file_parts)
    fields = check_fields(form, refused)
    names = gw.backends_named(fields.backend)
    own = backend_options_from_json(fields.backend_options, names, limits)
    names, parsed = checked_backends(gw, names, options_from_json(fields.options, limits), fields.prompt, own)
    started = time.perf_counter()
    document, pages = await _document([value for key, value in form if key == "file"], limits, fields.dpi)
    seconds = time.perf_counter() - started
    return Upload(
        document,
        document.data,
        names,
        parsed,
        fields.boxes,
        fields.dpi,
        fields.text_layer or default_text_layer(names),
        seconds,
        fields.format,
        own,
        pages.names if pages else [],
        pages.unreadable if pages else {},
    )
