"""`POST /v1/ocr`: a document through one backend (unified response) or several (compare), now.

The body is a multipart form (`file`, `backend`, ...), or JSON: the Mistral OCR convention
(`model`, `document`) or the seed's `{"image": <base64>, "backend": ...}` (`routes/mistral.py`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocrgate.gateway.recognize import recognize_now
from ocrgate.gateway.routes import mistral
from ocrgate.gateway.routes.errors import ERRORS
from ocrgate.gateway.state import GatewayDep, OwnerDep
from ocrgate.gateway.uploads import checked_upload, openapi_body
from ocrgate.middleware import is_json
from ocrgate.mistral.models import MistralOCRResponse
from ocrgate.schema import CompareResponse, ErrorResponse, OCRResponse

router = APIRouter(tags=["ocr"])


@router.post(
    "/v1/ocr",
    response_model=OCRResponse | CompareResponse | MistralOCRResponse,
    responses={**ERRORS, 403: {"model": ErrorResponse}},
    openapi_extra=mistral.with_json_bodies(openapi_body()),
)
async def ocr(
    request: Request,
    gw: GatewayDep,
    _owner: OwnerDep,
) -> OCRResponse | CompareResponse | JSONResponse:
    """Recognise an image or PDF with one backend (unified response) or several (compare).

    A JSON body speaks the Mistral OCR convention (`{"model", "document": {"type": "document_url",
    ...}}` -> `{"pages": [{"markdown", "images", "dimensions"}], "usage_info"}`) or the seed's
    (`{"image": <base64>, "backend"}` -> the unified response).
    """
    if is_json(request.headers.get("content-type")):
        return await mistral.answer(request, gw)
    upload = await checked_upload(request, gw)
    try:
        return await recognize_now(gw, upload)
    finally:
        upload.document.close()
