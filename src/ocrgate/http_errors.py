"""One error shape for every HTTP answer: `{success: false, request_id, error: {code, message}}`, never
a trace; the request's id (`middleware.RequestID`) in the body and in the `X-Request-ID` header."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from ocrgate.errors import Busy, OCRGateError
from ocrgate.schema import ErrorInfo, ErrorResponse

log = logging.getLogger("ocrgate.http")

REQUEST_ID_HEADER = "X-Request-ID"


def request_id_of(scope: Scope) -> str | None:
    """The id `middleware.RequestID` gave this request (`request.state.request_id`); None without it."""
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    """The error body; with `request_id`, in the body and as the `X-Request-ID` header (the 500 answer
    is sent outside every middleware, so it carries the header itself)."""
    body = ErrorResponse(request_id=request_id, error=ErrorInfo(code=code, message=message))
    if request_id is not None:
        headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OCRGateError)
    async def _typed(request: Request, exc: OCRGateError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
        return error_response(exc.status, exc.code, exc.message, headers, request_id_of(request.scope))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'request'}: {err.get('msg')}"
            for err in exc.errors()
        )
        return error_response(
            422, "invalid_request", problems or "invalid request", request_id=request_id_of(request.scope)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        return error_response(exc.status_code, code, str(exc.detail), headers, request_id_of(request.scope))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request_id_of(request.scope)
        log.exception("unexpected error on %s %s (request %s)", request.method, request.url.path, request_id)
        where = f"the server log, request {request_id}" if request_id else "the server log"
        message = f"internal error ({type(exc).__name__}); see {where}"
        return error_response(500, "internal_error", message, request_id=request_id)
