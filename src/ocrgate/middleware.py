"""Every ASGI middleware of the gateway and of the standalone web server, each a small pure-ASGI class.

- `RequestID`: one id per request, the client's `X-Request-ID` or a new one, on every answer.
- `UploadLimit`: at most the upload limit of request body is ever read.
- `InternalErrors`: what the app raises unexpectedly is a 500 `internal_error` answer that goes out
  through the other middleware like any answer.
- `FixedHeaders`: headers every response gets (`nosniff`; the web client's Content-Security-Policy on
  pages that are not API answers).
- `RequestMetrics`: requests and errors counted per route and status (Prometheus).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocrgate.config import Limits
from ocrgate.errors import FileTooLarge
from ocrgate.http_errors import REQUEST_ID_HEADER, error_response, internal_error, request_id_of
from ocrgate.schema import new_request_id

# multipart framing around the file: boundaries, headers, the small form fields
MULTIPART_SLACK = 64 * 1024
#: a client's request id taken as it is: 1 to 128 visible ASCII characters (no space, no control)
CLIENT_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode("ascii")


def fastapi_telemetry() -> dict[str, bool]:
    """FastAPI's native OpenTelemetry settings (`FastAPI(telemetry=...)`, FastAPI >= 0.142): on only
    where it is asked for with FastAPI's own switch, `FASTAPI_OTEL_AUTO_CONFIGURE=true`. Left on, it
    checks the global tracer, meter and logger providers on every request: about 3 % of the gateway's
    CPU for a page (py-spy, `bench/profile_gateway.py`); ocrgate's own metrics are Prometheus's."""
    wanted = os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true"
    return {"tracing": wanted, "metrics": wanted, "logs": wanted}


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON (`application/json`, `application/*+json`, any parameters)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def body_limit(limits: Limits, content_type: str | None = None) -> int:
    """The most bytes a request body may have: the file limit plus the framing around it.

    A JSON body carries the file in base64, 4 characters for every 3 bytes (RFC 4648, section 4).
    """
    if is_json(content_type):
        return 4 * -(-limits.max_upload_bytes // 3) + MULTIPART_SLACK
    return limits.max_upload_bytes + MULTIPART_SLACK


def declared_too_large(headers: Headers, limits: Limits) -> FileTooLarge | None:
    """The error for a request whose Content-Length is already over the limit, else None."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit(limits, headers.get("content-type")):
        return FileTooLarge(
            f"the request body has {int(declared):,} bytes; "
            f"the upload limit is {limits.max_upload_bytes:,} bytes"
        )
    return None


class _BodyOverLimit(Exception):
    """Raised into the app from `receive` when the body passes the limit; never leaves the middleware."""


class HTTPMiddleware:
    """Pure ASGI middleware that acts on HTTP requests only (`http`); lifespan and websockets pass."""

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RequestID(HTTPMiddleware):
    """Gives every HTTP request one id and every answer to it an `X-Request-ID` header with that id.

    The id is the request's own `X-Request-ID` when it is `CLIENT_REQUEST_ID` (the first such header;
    anything else, e.g. too long or with a line break, is replaced, never echoed), else a new one
    (`schema.new_request_id`). It is kept in `scope["state"]["request_id"]` (`request.state.request_id`,
    read with `http_errors.request_id_of`) for error bodies, log lines and the unified response. A
    header the app set itself (the 500 answer, sent outside every middleware) is left as it is.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_NAME:
                value = value.strip(b" \t")  # white space around a field value is not part of it
                if CLIENT_REQUEST_ID.fullmatch(value):
                    request_id = value.decode("ascii")
                break
        request_id = request_id or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault(REQUEST_ID_HEADER, request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)


class UploadLimit(HTTPMiddleware):
    """At most `body_limit(limits, content type)` bytes of request body are ever read.

    A declared Content-Length over the limit is refused before a byte is read; a body that grows past
    it while it streams in (chunked, with no length given) is cut off at that point, so neither memory
    nor the multipart spool ever holds more than the limit. Over the limit the app's own answer
    (whatever it made of the interrupted read) is replaced by 413 `file_too_large`, sent at once,
    while the client may still be sending; the server drops the rest of the body as it arrives.
    """

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if error := declared_too_large(Headers(scope=scope), self.limits):
            await self._refuse(scope, receive, send, error)
            return
        max_body = body_limit(self.limits, Headers(scope=scope).get("content-type"))
        received = 0
        over = False
        answered = False

        async def counted_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    over = True
                    raise _BodyOverLimit
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if over:  # the app's reply to the cut-off read is replaced by the 413 below
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _BodyOverLimit:
            pass
        except Exception:
            if not over:
                raise
        if over and not answered:
            message = f"the upload is over the limit of {self.limits.max_upload_bytes:,} bytes"
            await self._refuse(scope, receive, send, FileTooLarge(message))

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: FileTooLarge) -> None:
        response = error_response(error.status, error.code, error.message, request_id=request_id_of(scope))
        await response(scope, receive, send)


class InternalErrors(HTTPMiddleware):
    """Answers an exception that escapes the app before its answer started with 500 `internal_error`
    (`http_errors.internal_error`: logged with its traceback once, the request id in body and log).

    Starlette answers such an exception in its outermost layer, outside every middleware added to the
    app, and then raises it again for the server to log a second time; answered here instead, the 500
    is counted by `RequestMetrics` and gets the fixed headers, CORS and the request id like any answer.
    An exception after the answer started is raised on: the server closes the connection, and the
    client sees a cut-off answer, never a wrong one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if started:
                raise
            await internal_error(scope, exc)(scope, receive, send)


class FixedHeaders(HTTPMiddleware):
    """Adds `headers` to every response, and `page_headers` to those whose path is not an API path."""

    def __init__(
        self,
        app: ASGIApp,
        headers: Mapping[str, str],
        page_headers: Mapping[str, str] | None = None,
        api_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.headers = dict(headers)
        self.page_headers = dict(page_headers or {})
        self.api_prefixes = api_prefixes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_page = not str(scope.get("path", "")).startswith(self.api_prefixes) if self.api_prefixes else True

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    response_headers.setdefault(key, value)
                if is_page:
                    for key, value in self.page_headers.items():
                        response_headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestMetrics(HTTPMiddleware):
    """Calls `count(route_path, status)` once per HTTP response (`other` for unmatched paths)."""

    def __init__(self, app: ASGIApp, count: Callable[[str, int], None]) -> None:
        self.app = app
        self.count = count

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                self.count(str(getattr(route, "path", "other")), int(message["status"]))
            await send(message)

        await self.app(scope, receive, counted_send)
