"""The gateway's HTTP middleware, folded into one pure-ASGI layer: each request passes one `send`
wrapper and one `receive` wrapper instead of one of each per concern (issue 18: the six layers it
replaces cost about a tenth of the gateway's CPU time for a small page, py-spy,
`bench/profile_gateway.py`).

Its concerns, outermost first, in the order of the separate layers they were:

1. the request id (`middleware.request_id_for`): in `scope["state"]["request_id"]` and as
   `X-Request-ID` on every answer, the 413, 500 and 503 below included;
2. the request counted per route and status (`Metrics.count_answer`), every answer included, and
   with `[gateway] access_log` one log line for it (`access_line`);
3. the fixed headers (`middleware.FixedHeaderSet`: `nosniff`, the web client's policy on pages);
4. CORS, when `[gateway] cors_origins` is set (Starlette's `CORSMiddleware`, between 3 and 5, so the
   413, 500 and 503 are readable cross-origin);
5. the stop (`gateway.shutdown`): 503 `shutting_down` to a request that comes once it has begun, and
   to one it cancelled before its answer started;
6. unexpected errors: what the app raises before its answer started is a 500 `internal_error`
   (`http_errors.internal_error`), which goes out through 1-4 like any answer; raised after it
   started, it is raised on and the server cuts the connection;
7. the upload limit (`middleware.body_limit`): a declared Content-Length over it is refused before a
   byte is read; a body that grows past it while it streams in is cut off at that point and the app's
   answer replaced by 413 `file_too_large`, sent at once; a body that stops coming for
   `limits.body_idle_timeout_s`, or comes slower than `limits.body_min_rate_bytes_s` on average once
   that many seconds of grace are over (Apache's `mod_reqtimeout` rule: the deadline moves a second
   for every that many bytes), is answered 408 `request_timeout` (`BodyTimeout`, raised into the app
   from `receive`) with `Connection: close`, so a client that stalls or trickles cannot hold its
   request open, and what it sends later is not read as a next request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocrgate.config import Limits
from ocrgate.errors import BodyTimeout, FileTooLarge, OCRGateError
from ocrgate.gateway.shutdown import STOPPING_HEADERS, Drain, stopping_error
from ocrgate.http_errors import REQUEST_ID_HEADER, error_response, internal_error, request_id_of
from ocrgate.middleware import (
    FixedHeaderSet,
    add_missing_headers,
    body_limit,
    declared_too_large,
    request_id_for,
)

_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode("ascii")
access_log = logging.getLogger("ocrgate.access")
#: the request headers the upload limit reads (`declared_too_large`)
_LIMIT_HEADERS = {b"content-length": "content-length", b"content-type": "content-type"}
#: on the 408 for a body that did not come in time (RFC 9110, 15.5.9: the server closes the connection)
_CLOSE = [(b"connection", b"close")]


class _BodyOverLimit(Exception):
    """Raised into the app from `receive` when the body passes the limit; never leaves the middleware."""


def _too_slow(received: int, seconds: float, limits: Limits) -> str:
    return (
        f"the request's body came too slowly ({received:,} bytes in {seconds:.1f} s; the least is "
        f"{limits.body_min_rate_bytes_s:g} bytes a second after the first {limits.body_idle_timeout_s:g} s)"
    )


def route_of(scope: Scope) -> str:
    """The path template of the route that answered (`/v1/jobs/{job_id}`), `other` for unmatched paths."""
    return str(getattr(scope.get("route"), "path", "other"))


def limit_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The first Content-Length and Content-Type of raw request headers, by lowercase name: what
    `declared_too_large` and `body_limit` read, in one pass."""
    found: dict[str, str] = {}
    for name, value in headers:
        key = _LIMIT_HEADERS.get(name)
        if key is not None and key not in found:
            found[key] = value.decode("latin-1")
    return found


def access_line(scope: Scope, status: int, seconds: float) -> None:
    """Logs one answer at INFO on `ocrgate.access`: `127.0.0.1:50412 "POST /v1/ocr" 422 3.1 ms
    request_id=...` (the path without its query, which may carry a job's options; `seconds` until the
    answer's start)."""
    client = scope.get("client")
    where = f"{client[0]}:{client[1]}" if client else "-"
    request_id = scope.get("state", {}).get("request_id", "-")
    # a path decoded from %0A holds a line break: escaped, so one answer stays one line
    method, path = scope.get("method", "-"), repr(scope.get("path", "-"))[1:-1]
    access_log.info(
        '%s "%s %s" %d %.1f ms request_id=%s', where, method, path, status, 1000 * seconds, request_id
    )


async def answer_error(
    scope: Scope, receive: Receive, send: Send, error: OCRGateError, headers: dict[str, str] | None = None
) -> None:
    """Sends `error` as the error body (`http_errors.error_response`), the request id in it."""
    response = error_response(error.status, error.code, error.message, headers, request_id_of(scope))
    await response(scope, receive, send)


class GatewayMiddleware:
    """The gateway's one middleware layer (the module says what it does, and in what order).

    `count(route, status)` is called once per answer, and `access(scope, status, seconds)` (when
    given: `access_line`) too; `cors`, when given, are `CORSMiddleware`'s keyword arguments
    (`allow_origins`, ...).
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: Limits,
        drain: Drain,
        count: Callable[[str, int], None],
        fixed: FixedHeaderSet,
        cors: dict[str, Any] | None = None,
        access: Callable[[Scope, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.drain = drain
        self.count = count
        self.fixed = fixed
        self.access = access
        self.guarded: ASGIApp = CORSMiddleware(self._guarded, **cors) if cors else self._guarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        stamp = [*self.fixed.for_path(str(scope.get("path", ""))), (_REQUEST_ID_NAME, request_id.encode())]
        access, started = self.access, time.perf_counter()

        async def send_stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing_headers(message, stamp)
                self.count(route_of(scope), int(message["status"]))
                if access is not None:
                    access(scope, int(message["status"]), time.perf_counter() - started)
            await send(message)

        await self.guarded(scope, receive, send_stamped)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The stop, unexpected errors and the upload limit (5-7), inside CORS."""
        if self.drain.begun:
            await answer_error(scope, receive, send, stopping_error(), STOPPING_HEADERS)
            return
        declared = limit_headers(scope["headers"])
        if error := declared_too_large(declared, self.limits):
            await answer_error(scope, receive, send, error)
            return
        max_body = body_limit(self.limits, declared.get("content-type"))
        received = 0
        over = False  # the body passed the limit: whatever the app answers after is dropped
        started = False  # an answer started going out (the app's, or one made here)
        body_done = False  # the body's last part came: no more waiting bounded by the idle limit
        timed_out = False  # the body did not come in time: the answer closes the connection

        idle, rate = self.limits.body_idle_timeout_s, self.limits.body_min_rate_bytes_s
        loop = asyncio.get_running_loop()
        body_started = loop.time()

        async def receive_counted() -> Message:
            nonlocal received, over, body_done, timed_out
            if body_done:  # what is left to receive is the client going away, which may take any time
                return await receive()
            wait = idle
            if rate:  # the body's deadline: the grace, and a second more for every `rate` bytes come
                wait = min(wait, body_started + idle + received / rate - loop.time())
                if wait <= 0:
                    timed_out = True
                    raise BodyTimeout(_too_slow(received, loop.time() - body_started, self.limits))
            try:
                async with asyncio.timeout(wait):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                if wait < idle and received:  # before any byte the two deadlines are one: idle says it
                    raise BodyTimeout(_too_slow(received, loop.time() - body_started, self.limits)) from None
                raise BodyTimeout(f"the request's body stopped coming ({idle:g} s without a byte)") from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > max_body:
                    over = True
                    raise _BodyOverLimit
            return message

        async def send_watched(message: Message) -> None:
            nonlocal started
            if over:
                return
            if message["type"] == "http.response.start":
                started = True
                if timed_out:  # what comes of the body later must not be read as the next request
                    add_missing_headers(message, _CLOSE)
            await send(message)

        task = asyncio.current_task()
        assert task is not None
        self.drain.requests.add(task)
        cut = False
        try:
            try:
                await self.app(scope, receive_counted, send_watched)
            except Exception as exc:
                if over:  # `_BodyOverLimit`, or whatever the app made of it: answered below
                    pass
                elif started:
                    raise
                else:
                    started = True
                    await internal_error(scope, exc)(scope, receive, send)
            if over and not started:
                started = True
                message = f"the upload is over the limit of {self.limits.max_upload_bytes:,} bytes"
                await answer_error(scope, receive, send, FileTooLarge(message))
        except asyncio.CancelledError:
            if task not in self.drain.cut:  # not the stop's: uvicorn's own, or the server going away
                raise
            task.uncancel()
            cut = True
        finally:
            self.drain.requests.discard(task)
        if cut and not started:
            error = stopping_error(cut_after_s=self.drain.grace_s)
            await answer_error(scope, receive, send, error, STOPPING_HEADERS)
