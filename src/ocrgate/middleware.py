"""The ASGI middleware of the workers and of the standalone web server, each a small pure-ASGI class, and
the pieces of each concern that the gateway's one folded layer (`gateway.middleware`) shares with them.

- `RequestID`: one id per request, the client's `X-Request-ID` or a new one (`request_id_for`), on
  every answer.
- `InternalErrors`: what the app raises unexpectedly is a 500 `internal_error` answer that goes out
  through the other middleware like any answer.
- `FixedHeaders`: headers every response gets (`nosniff`; the web client's Content-Security-Policy on
  pages that are not API answers: `FixedHeaderSet`).
- the upload limit's arithmetic: `body_limit`, `declared_too_large`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocrgate.config import Limits
from ocrgate.errors import FileTooLarge
from ocrgate.http_errors import REQUEST_ID_HEADER, internal_error
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


def declared_too_large(headers: Mapping[str, str], limits: Limits) -> FileTooLarge | None:
    """The error for a request whose Content-Length is already over the limit, else None. `headers`:
    the request's (`Headers`, or any mapping of lowercase names)."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit(limits, headers.get("content-type")):
        return FileTooLarge(
            f"the request body has {int(declared):,} bytes; "
            f"the upload limit is {limits.max_upload_bytes:,} bytes"
        )
    return None


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


def request_id_for(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The id of a request with these raw (lowercase-named) headers: its first `X-Request-ID` when that
    is `CLIENT_REQUEST_ID` once the white space around it is stripped, else a new one
    (`schema.new_request_id`); an id that is not sane (too long, a line break) is replaced, never echoed."""
    for name, value in headers:
        if name == _REQUEST_ID_NAME:
            value = value.strip(b" \t")  # white space around a field value is not part of it
            if CLIENT_REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()


def encoded_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """`headers` as ASGI raw headers (names lowercase, latin-1), for `add_missing_headers`."""
    return [(key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in headers.items()]


def add_missing_headers(message: Message, headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Appends to an `http.response.start` message each of `headers` (raw, `encoded_headers`) whose name
    it does not have yet: what `MutableHeaders.setdefault` does for each, in one pass over the message."""
    raw = message.get("headers")
    if not isinstance(raw, list):
        raw = message["headers"] = list(raw or ())
    present = {name.lower() for name, _ in raw}
    for name, value in headers:
        if name not in present:
            raw.append((name, value))
            present.add(name)


class RequestID(HTTPMiddleware):
    """Gives every HTTP request one id and every answer to it an `X-Request-ID` header with that id.

    The id is `request_id_for(the request's headers)`. It is kept in `scope["state"]["request_id"]`
    (`request.state.request_id`, read with `http_errors.request_id_of`) for error bodies, log lines and
    the unified response. A header the app set itself (the 500 answer, sent outside every middleware)
    is left as it is.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_for(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        stamp = [(_REQUEST_ID_NAME, request_id.encode("ascii"))]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing_headers(message, stamp)
            await send(message)

        await self.app(scope, receive, send_with_id)


class InternalErrors(HTTPMiddleware):
    """Answers an exception that escapes the app before its answer started with 500 `internal_error`
    (`http_errors.internal_error`: logged with its traceback once, the request id in body and log).

    Starlette answers such an exception in its outermost layer, outside every middleware added to the
    app, and then raises it again for the server to log a second time; answered here instead, the 500
    is counted in the metrics and gets the fixed headers, CORS and the request id like any answer.
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


class FixedHeaderSet:
    """Headers every response gets (`headers`), and those an answer to a path outside `api_prefixes`
    gets as well (`page_headers`), encoded once; `for_path(path)` -> the raw headers for
    `add_missing_headers`. A name in both is set from `headers`."""

    def __init__(
        self,
        headers: Mapping[str, str],
        page_headers: Mapping[str, str] | None = None,
        api_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.api = encoded_headers(headers)
        self.page = self.api + encoded_headers(page_headers or {})
        self.api_prefixes = api_prefixes

    def for_path(self, path: str) -> list[tuple[bytes, bytes]]:
        if self.api_prefixes and path.startswith(self.api_prefixes):
            return self.api
        return self.page


class FixedHeaders(HTTPMiddleware):
    """Adds `headers` to every response, and `page_headers` to those whose path is not an API path
    (`FixedHeaderSet`); a header the app set itself is kept."""

    def __init__(
        self,
        app: ASGIApp,
        headers: Mapping[str, str],
        page_headers: Mapping[str, str] | None = None,
        api_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.fixed = FixedHeaderSet(headers, page_headers, api_prefixes)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        stamp = self.fixed.for_path(str(scope.get("path", "")))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing_headers(message, stamp)
            await send(message)

        await self.app(scope, receive, send_with_headers)
