"""The upload form every route that takes a file shares: the file (or, for a job, several: one document
of all their pages, `ocrgate.gateway.pageset`), read within its limit and opened as a Document, the
backends it names and the options checked against their published schemas (shared ones, and each
backend's own).

The multipart body is read here, with Starlette's parser (`UploadParser`) under the gateway's own rules,
so that every field gets a typed answer: a field over `limits.max_field_bytes` is a 413
`field_too_large`, a second `file` part of `POST /v1/ocr` a 422 `invalid_request` ("one file per
request"; a job takes up to `MAX_SET_FILES`), a part that
names its file only by RFC 5987's `filename*=UTF-8''...` is a file all the same (RFC 7578 forbids that
form, python-multipart ignores it, clients still send it), and the `%22`, `%0D`, `%0A` with which
browsers escape quotes and line breaks in `filename="..."` (the WHATWG HTML form encoding) are decoded.
"""

from __future__ import annotations

import email.message
import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from ocrgate.config import Limits
from ocrgate.documents import Document, open_document, sniff
from ocrgate.errors import (
    BackendUnavailable,
    FieldTooLarge,
    FileTooLarge,
    InputError,
    InvalidOption,
    InvalidRequest,
)
from ocrgate.formats import Format
from ocrgate.gateway.formatting import FORMAT_DESCRIPTION
from ocrgate.gateway.pageset import PageSet, combine, set_name
from ocrgate.gateway.state import Gateway, GatewayDep
from ocrgate.middleware import declared_too_large
from ocrgate.render import BoxesMode
from ocrgate.schema import TextLayerMode
from ocrgate.wire import options_from_json

CHUNK = 1 << 20
#: a PNG or JPEG upload up to this size has its headers read on the event loop: one frame, no pixels
#: decoded (`image_files.image_frames`), about 0.1 ms, less than a hand-off to a thread and back costs
#: the loop under load (py-spy, `bench/profile_gateway.py`); larger files, PDFs and multi-page images
#: (TIFF frames, a PDF's pages) are opened in a thread
INLINE_OPEN_BYTES = 1 << 20
MAX_FORM_FIELDS = 32
#: `file` parts a job's form may hold: a set of pages read as one document
MAX_SET_FILES = 100
#: how browsers escape a file name inside `filename="..."` (WHATWG HTML, multipart/form-data encoding)
BROWSER_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n"}


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
    format: Format | None = Field(default=None, description=FORMAT_DESCRIPTION + " (`/v1/ocr` only)")


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


def file_name(disposition: bytes) -> str | None:
    """The file name a part's Content-Disposition gives, decoded: RFC 5987's `filename*` when there is
    one (RFC 6266 prefers it), else `filename` with the browsers' `%22`/`%0D`/`%0A` escapes undone."""
    if b"filename" not in disposition.lower():  # a form field, not a file: nothing to parse
        return None
    try:
        text = disposition.decode("utf-8")
    except UnicodeDecodeError:
        text = disposition.decode("latin-1")
    message = email.message.Message()
    try:
        message["content-disposition"] = text
        params = message.get_params(header="content-disposition") or []
    except Exception:  # whatever the header holds, the name is just not known
        return None
    plain = extended = None
    for key, value in params[1:]:
        if key.lower() != "filename":
            continue
        if isinstance(value, tuple):
            extended = email.utils.collapse_rfc2231_value(value)
        else:
            plain = value
    if extended is not None:
        return extended
    if plain is None:
        return None
    for escape, char in BROWSER_ESCAPES.items():
        plain = plain.replace(escape, char).replace(escape.lower(), char)
    return plain


class UploadParser(MultiPartParser):
    """Starlette's multipart parser with typed errors for oversized fields and a second file, and file
    names decoded by `file_name`."""

    def __init__(self, *args: Any, file_parts: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.file_parts = 0
        self.most_files = file_parts

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        if part.file is None and len(part.data) + end - start > self.max_part_size:
            raise FieldTooLarge(
                f"the form field {part.field_name!r} is over the limit of {self.max_part_size:,} bytes"
            )
        super().on_part_data(data, start, end)

    def on_headers_finished(self) -> None:
        part = self._current_part
        name = file_name(part.content_disposition or b"")
        if name is not None and b"filename" not in parse_options_header(part.content_disposition)[1]:
            part.content_disposition += b'; filename="upload"'  # only filename*: a file part all the same
        super().on_headers_finished()
        if part.file is None:
            return
        if name is not None:
            part.file.filename = name
        if part.field_name == "file":
            self.file_parts += 1
            if self.file_parts > self.most_files:
                if self.most_files == 1:
                    raise InvalidRequest("one file per request: the form has more than one `file` part")
                raise InvalidRequest(f"at most {self.most_files} `file` parts make one set of pages")


async def read_form(request: Request, limits: Limits, file_parts: int = 1) -> FormData:
    """The request's form (multipart, at most `file_parts` files; or URL-encoded, fields only; empty
    for any other body); typed errors for what it breaks."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):  # no file: fields to check
        try:
            return await request.form(
                max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=limits.max_field_bytes
            )
        except MultiPartException as exc:
            raise InputError(f"malformed form: {exc.message}") from exc
    if not content_type.startswith("multipart/form-data"):
        return FormData()
    parser = UploadParser(
        request.headers,
        request.stream(),
        max_files=file_parts + 1,  # one more: the parser's own check says which part was too many
        max_fields=MAX_FORM_FIELDS,
        max_part_size=limits.max_field_bytes,
        file_parts=file_parts,
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:  # no boundary, a part without a name, too many parts
        raise InputError(f"malformed multipart form: {exc.message}") from exc
    except ClientDisconnect as exc:
        raise InputError("the client went away before the form was sent") from exc


async def read_upload(upload: UploadFile | str | None, limits: Limits, already: int = 0) -> bytes:
    """The file part's bytes; FileTooLarge as soon as they and the `already` read bytes of the same
    upload pass the limit."""
    if upload is None:
        raise InputError("no file sent: use a multipart form with a `file` field")
    if isinstance(upload, str):
        raise InvalidRequest("`file` must be a file part (its Content-Disposition names a filename)")
    chunks: list[bytes] = []
    size = already
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limits.max_upload_bytes:
            raise FileTooLarge(f"the upload is over the limit of {limits.max_upload_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_fields(form: FormData, refused: Mapping[str, str] | None = None) -> UploadFields:
    """The text fields as `UploadFields` (empty ones count as absent); 422 `invalid_request` otherwise,
    also for a field the form does not take (an engine option such as `layout` sent as its own field
    would otherwise be ignored without a word: engine options go in `options`), for a field sent
    twice, and for a field of `refused` (field name -> the message that says where it belongs),
    whatever its value."""
    values: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in form.multi_items():
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
        if isinstance(value, UploadFile):
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
    files: list[UploadFile | str], limits: Limits, dpi: int | None
) -> tuple[Document, PageSet | None]:
    """One file as it is; several as one document of all their pages (and the `PageSet` it was made
    from: each page's name, the pages that cannot be read)."""
    if not files:
        raise InputError("no file sent: use a multipart form with a `file` field")
    parts: list[tuple[str, bytes]] = []
    for upload in files:
        data = await read_upload(upload, limits, sum(len(d) for _, d in parts))
        name = upload.filename if isinstance(upload, UploadFile) else None
        parts.append((name or "upload", data))
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
    backend: str | None,
    options: dict[str, Any],
    prompt: str | None,
    own: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """The backends named (one, a comma list or `all`; default: the configured default) and the
    options (the prompt among them), checked against each backend's published schema (with that
    backend's `own` options over them) and, as they travel to the workers, against
    `limits.max_options_bytes`."""
    limits = gw.settings.limits
    names = gw.router.parse(backend, gw.settings.default_backend)
    if prompt:
        options = {**options, "prompt": prompt}
    options = {k: v for k, v in options.items() if v is not None}
    if len(json.dumps(options)) > limits.max_options_bytes:
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
    """The request's multipart form, checked in the order that costs least first (declared size,
    fields (`refused` ones: `check_fields`), backends, options, then the file itself)."""
    limits = gw.settings.limits
    if error := declared_too_large(request.headers, limits):
        raise error
    form = await read_form(request, limits, file_parts)
    try:
        fields = check_fields(form, refused)
        names = gw.router.parse(fields.backend, gw.settings.default_backend)
        own = backend_options_from_json(fields.backend_options, names, limits)
        names, parsed = checked_backends(
            gw, fields.backend, options_from_json(fields.options, limits), fields.prompt, own
        )
        started = time.perf_counter()
        document, pages = await _document(form.getlist("file"), limits, fields.dpi)
    finally:
        await form.close()
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
