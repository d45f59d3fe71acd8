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
    """The error body; with `request_id`, in the body and as the `X-Request-ID` header (so that an
    answer sent outside `middleware.RequestID` carries it too)."""
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
        # the last resort, outside every middleware: what the app raises is answered by
        # `middleware.InternalErrors` already; this answers a middleware's own failure
        return internal_error(request.scope, exc)


def internal_error(scope: Scope, exc: Exception) -> JSONResponse:
    """The 500 `internal_error` answer to `exc`, which the code did not expect: logged with its traceback
    (logger `ocrgate.http`), the request's method, path and id in the log line, the id (not the
    trace) in the message."""
    request_id = request_id_of(scope)
    log.error(
        "unexpected error on %s %s (request %s)",
        scope.get("method"),
        scope.get("path"),
        request_id,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    where = f"the server log, request {request_id}" if request_id else "the server log"
    message = f"internal error ({type(exc).__name__}); see {where}"
    return error_response(500, "internal_error", message, request_id=request_id)
