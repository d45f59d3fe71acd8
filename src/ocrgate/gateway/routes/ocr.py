"""`POST /v1/ocr`: a document through one backend (unified response) or several (compare), now.

The body is a multipart form (`file`, `backend`, `format`, ...), or JSON: the Mistral OCR convention
(`model`, `document`) or the seed's `{"image": <base64>, "backend": ...}` (`routes/mistral.py`).
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request, Response

from ocrgate.gateway.formatting import FORMAT_RESPONSES, check_backends, file_response, requested_format
from ocrgate.gateway.recognize import recognize_now
from ocrgate.gateway.routes import mistral
from ocrgate.gateway.routes.direct import DirectRoute
from ocrgate.gateway.routes.errors import ERRORS
from ocrgate.gateway.state import gateway, owner
from ocrgate.gateway.uploads import checked_upload, openapi_body
from ocrgate.http_errors import request_id_of
from ocrgate.middleware import is_json
from ocrgate.mistral.models import MistralOCRResponse
from ocrgate.schema import CompareResponse, ErrorResponse, OCRResponse

#: served as `DirectRoute`s (`routes.direct.mount_first`): the endpoint reads its request and returns the
#: `Response` itself; `response_model` and `openapi_extra` are there for the OpenAPI document
router = APIRouter(tags=["ocr"], route_class=DirectRoute)


@router.post(
    "/v1/ocr",
    response_model=OCRResponse | CompareResponse | MistralOCRResponse,
    responses={**ERRORS, 403: {"model": ErrorResponse}, **FORMAT_RESPONSES},
    openapi_extra=mistral.with_json_bodies(openapi_body()),
)
async def ocr(request: Request) -> Response:
    """Recognise an image or PDF with one backend (unified response) or several (compare); with
    `format` (or `Accept`), the result as markdown, text, ALTO, hOCR or a searchable PDF.

    A JSON body speaks the Mistral OCR convention (`{"model", "document": {"type": "document_url",
    ...}}` -> `{"pages": [{"markdown", "images", "dimensions"}], "usage_info"}`) or the seed's
    (`{"image": <base64>, "backend"}` -> the unified response).
    """
    # the gateway, the caller's key and the Accept header looked up here, not as FastAPI dependencies
    # or parameters: solving them cost each request about a tenth of the gateway's own CPU time (py-spy,
    # bench/profile_gateway.py)
    gw = await gateway(request)
    await owner(request, gw)
    if is_json(request.headers.get("content-type")):
        answer = await mistral.answer(request, gw)
        return answer if isinstance(answer, Response) else await json_answer(answer)
    upload = await checked_upload(request, gw)
    try:
        wanted = requested_format(upload.format, request.headers.get("accept"))
        check_backends(wanted, upload.backends)
        if wanted != "json" and upload.boxes is None:
            upload.boxes = "none"  # files carry no boxes pictures
        result = await recognize_now(gw, upload, request_id=request_id_of(request.scope))
        if wanted != "json":
            return await anyio.to_thread.run_sync(file_response, result, wanted, upload.document)
    finally:
        upload.document.close()
    return await json_answer(result)


async def json_answer(result: OCRResponse | CompareResponse) -> Response:
    """`result` as JSON, serialised once by pydantic: FastAPI would validate the response it is handed
    again against `response_model` and then serialise it (1.3 ms for a page with its boxes picture,
    0.14 ms this way). A document of several pages is serialised in a thread, off the event loop."""
    if isinstance(result, OCRResponse) and len(result.pages) <= 1:
        body = result.model_dump_json()
    else:
        body = await anyio.to_thread.run_sync(result.model_dump_json)
    return Response(body, media_type="application/json")
