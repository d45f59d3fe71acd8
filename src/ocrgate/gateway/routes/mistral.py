"""JSON bodies of `POST /v1/ocr`: Mistral's OCR convention, and the seed's `{"image", "backend"}`.

Mistral's convention (what the `mistralai` SDK's `client.ocr.process` and LiteLLM's `ocr()` send):
`{"model": <backend, comma list or "all">, "document": {"type": "document_url", "document_url":
"data:application/pdf;base64,..."} | {"type": "image_url", "image_url": ...}, "pages": [...], ...}`
answered in Mistral's response shape (`ocrgate.mistral.translate`). The seed's body is answered
with the unified response, as the multipart form is. Both go through the same checks, admission
and flow as the form (`checked_backends`, `recognize_now`), and fail with the same typed errors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import anyio
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from ocrgate.documents import Document, open_document
from ocrgate.errors import InvalidRequest, PageUnreadable
from ocrgate.gateway.fetch import fetch_document
from ocrgate.gateway.form import bare_file_name
from ocrgate.gateway.recognize import recognize_now
from ocrgate.gateway.state import Gateway
from ocrgate.gateway.uploads import Upload, checked_backends
from ocrgate.http_errors import request_id_of
from ocrgate.mistral.inputs import decode_base64, decode_data_url, is_data_url, select_pages
from ocrgate.mistral.models import (
    DocumentURLChunk,
    FileChunk,
    ImageURLChunk,
    MistralOCRRequest,
    SeedOCRRequest,
)
from ocrgate.mistral.translate import Shape, crop_figures, to_mistral
from ocrgate.schema import CompareResponse, OCRResponse

M = TypeVar("M", bound=BaseModel)
#: request bodies this module reads itself; `gateway.openapi` documents them as components
JSON_MODELS: tuple[type[BaseModel], ...] = (MistralOCRRequest, SeedOCRRequest)
#: the JSON media type of `POST /v1/ocr`, beside its multipart form
JSON_CONTENT: dict[str, Any] = {
    "application/json": {
        "schema": {"oneOf": [{"$ref": f"#/components/schemas/{m.__name__}"} for m in JSON_MODELS]}
    }
}


def with_json_bodies(openapi_extra: dict[str, Any]) -> dict[str, Any]:
    """A route's `openapi_extra` whose request body also takes the JSON bodies read here."""
    body = dict(openapi_extra.get("requestBody", {}))
    body["content"] = {**body.get("content", {}), **JSON_CONTENT}
    return {**openapi_extra, "requestBody": body}


DEFAULT_IMAGE_DPI = 72
UNSUPPORTED = ("bbox_annotation_format", "document_annotation_format", "document_annotation_prompt")


async def answer(request: Request, gw: Gateway) -> JSONResponse | OCRResponse | CompareResponse:
    """A JSON body of `POST /v1/ocr`, answered in its own convention."""
    body = await _json_body(request)
    request_id = request_id_of(request.scope)
    if "document" in body:
        return await _mistral(gw, _parsed(MistralOCRRequest, body), request_id)
    if "image" in body:
        return await _seed(gw, _parsed(SeedOCRRequest, body), request_id)
    raise InvalidRequest(
        'a JSON body needs `document` (Mistral\'s OCR convention: {"model": "rapidocr", "document": '
        '{"type": "document_url", "document_url": "data:application/pdf;base64,..."}}) or `image` '
        "(base64, with `backend`); or send a multipart form with a `file` field"
    )


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()  # within the upload limit (gateway.middleware)
    try:
        value = await anyio.to_thread.run_sync(json.loads, raw)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("the JSON body must be an object")
    return value


def _parsed(model: type[M], body: dict[str, Any]) -> M:
    """`body` as `model`; a 422 `invalid_request` naming every bad field, as for a bad form."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc


def _refuse_unsupported(request: MistralOCRRequest) -> None:
    if isinstance(request.document, FileChunk):
        raise InvalidRequest(
            "document type `file` (a file stored at Mistral) is not supported: send the document as a "
            "data: URL"
        )
    for field in UNSUPPORTED:
        if getattr(request, field) is not None:
            raise InvalidRequest(f"{field}: annotations are not supported by ocrgate")
    if request.table_format is not None:
        raise InvalidRequest(
            "table_format: only null is supported (tables stay in the markdown, as HTML where the engine "
            "gives HTML)"
        )
    if request.confidence_scores_granularity == "word":
        raise InvalidRequest("confidence_scores_granularity: `word` is not supported; use `page` or `block`")


async def _document_bytes(gw: Gateway, document: DocumentURLChunk | ImageURLChunk) -> tuple[bytes, str]:
    """The bytes a request's `document` names (a data: URL, or an allowed http(s) URL), and a name."""
    limits = gw.settings.limits
    if isinstance(document, DocumentURLChunk):
        url, name, field = document.document_url, document.document_name, "document_url"
    else:
        image_url = document.image_url
        url, name, field = (image_url if isinstance(image_url, str) else image_url.url), None, "image_url"
    if is_data_url(url):
        _declared, data = await anyio.to_thread.run_sync(decode_data_url, url, limits.max_upload_bytes)
        return data, bare_file_name(name or "") or "document"
    if urlsplit(url).scheme.lower() in ("http", "https"):
        data = await fetch_document(url, gw.settings.gateway, limits)
        return data, bare_file_name(name or unquote(urlsplit(url).path.rsplit("/", 1)[-1])) or "document"
    raise InvalidRequest(f"{field}: expected a data: URL (data:<type>;base64,<data>) or an http(s) URL")


def _page_dpi(document: Document) -> Callable[[int], int]:
    """Each page image's resolution: a PDF page's rasterising dpi (`Document.page_dpi`: a small page
    gets more than the document's), an image's own (72 when it has none); no pixels are made."""

    def page_dpi(index: int) -> int:
        try:
            dpi = document.page_dpi(index)
        except PageUnreadable:  # a page that failed: answered empty, at the document's dpi
            dpi = document.dpi
        return round(dpi) if dpi else DEFAULT_IMAGE_DPI

    return page_dpi


async def _mistral(gw: Gateway, request: MistralOCRRequest, request_id: str | None) -> JSONResponse:
    _refuse_unsupported(request)
    assert not isinstance(request.document, FileChunk)
    names, options = checked_backends(gw, gw.backends_named(request.model), request.options, request.prompt)
    started = time.perf_counter()
    data, name = await _document_bytes(gw, request.document)
    limits = gw.settings.limits
    document = await anyio.to_thread.run_sync(open_document, data, name, limits, request.dpi)
    shape = Shape(
        include_image_base64=bool(request.include_image_base64),
        image_limit=request.image_limit,
        image_min_size=request.image_min_size,
        extract_header=request.extract_header,
        extract_footer=request.extract_footer,
        include_blocks=request.include_blocks,
        confidence=request.confidence_scores_granularity,  # type: ignore[arg-type]  # word refused above
    )
    try:
        pages = select_pages(request.pages, document.page_count)
        seconds = time.perf_counter() - started
        upload = Upload(document, data, names, options, "none", request.dpi, decode_seconds=seconds)
        result = await recognize_now(gw, upload, pages, request_id)
        crops = {}
        if shape.include_image_base64:
            responses = result.results if isinstance(result, CompareResponse) else {result.backend: result}
            crops = await anyio.to_thread.run_sync(
                crop_figures, lambda index: document.page(index).image, responses, shape
            )
        answer = to_mistral(result, shape, dpi=_page_dpi(document), doc_size_bytes=len(data), crops=crops)
    finally:
        document.close()
    return JSONResponse(answer.model_dump(mode="json", exclude_none=True))


async def _seed(
    gw: Gateway, request: SeedOCRRequest, request_id: str | None
) -> OCRResponse | CompareResponse:
    names, options = checked_backends(gw, gw.backends_named(request.backend), request.options, request.prompt)
    limits = gw.settings.limits
    started = time.perf_counter()
    max_bytes = limits.max_upload_bytes
    if is_data_url(request.image):
        _declared, data = await anyio.to_thread.run_sync(decode_data_url, request.image, max_bytes)
    else:
        data = await anyio.to_thread.run_sync(decode_base64, request.image, max_bytes, "image")
    name = bare_file_name(request.filename or "") or "upload"
    document = await anyio.to_thread.run_sync(open_document, data, name, limits, request.dpi)
    seconds = time.perf_counter() - started
    upload = Upload(document, data, names, options, request.boxes, request.dpi, decode_seconds=seconds)
    try:
        return seed_shaped(await recognize_now(gw, upload, request_id=request_id))
    finally:
        document.close()


def seed_shaped(result: OCRResponse | CompareResponse) -> OCRResponse | CompareResponse:
    """`result` as the seed answered: page 1's boxes picture also in the top-level `boxes_image` (of
    each engine's response, in a comparison). Only the seed's body gets this copy; elsewhere the
    picture is in its page alone, so an answer carries each picture once."""
    for response in result.results.values() if isinstance(result, CompareResponse) else (result,):
        first = response.pages[0] if response.pages else None
        response.boxes_image = first.boxes_image if first is not None and first.index == 0 else None
    return result
