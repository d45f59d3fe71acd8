"""A deadline on a request's headers, for every server ocrgate runs (gateway, workers, web client).

uvicorn times out a keep-alive connection between requests (`timeout_keep_alive`), but it waits
without end for a connection's first request and for the rest of a request's headers once they
began: a client that opens connections and sends nothing, or a few bytes of headers now and then
(the "slowloris" pattern), holds them, and their file descriptors, for ever. `protocol_class` gives
uvicorn's own HTTP protocol (httptools when installed, else h11; `uvicorn.Config(http=...)`, its
documented way to choose one) with one timer more per connection: from its opening, and from the
first byte of each request after the first, the headers must be complete within `timeout_s`, else
the connection is answered 408 `request_timeout` (the error body and headers of every other error,
`timeout_answer`) and closed. Once the headers are in, the request is the app's (the gateway bounds
a body that stops coming or trickles, `limits.body_idle_timeout_s` and `limits.body_min_rate_bytes_s`);
between requests uvicorn's keep-alive timeout applies as before.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from ocrgate.http_errors import REQUEST_ID_HEADER
from ocrgate.schema import new_request_id

_MESSAGE = "the request's headers did not come in time ({:g} s)"


def timeout_answer(timeout_s: float, request_id: str) -> bytes:
    """The raw HTTP/1.1 408 the connection gets: the error body and headers of every other answer
    (`X-Request-ID`, a new id, as in the body: the app never saw the request; `nosniff`), and
    `Connection: close`."""
    error = {"code": "request_timeout", "message": _MESSAGE.format(timeout_s)}
    body = json.dumps({"success": False, "request_id": request_id, "error": error}, separators=(",", ":"))
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nx-content-type-options: nosniff\r\n"
        f"{REQUEST_ID_HEADER.lower()}: {request_id}\r\nconnection: close\r\n\r\n"
    )
    return (head + body).encode("ascii")


class _HeaderDeadline:
    """Mixin over a uvicorn HTTP protocol (it uses the protocol's `loop`, `transport` and `cycle`: the
    request being answered, None before the first).

    A request only notes when its headers began (`_since`, the loop's clock); one timer per
    connection checks that note when it fires and then sets itself again for when the headers would
    be late. Arming a timer for every request alone took 0.75 % of the gateway's py-spy samples for a
    small page (`bench/profile_gateway.py`, 2 cores), its cancelling more.
    """

    timeout_s: float
    _since: float | None = None  # when the headers being awaited began; None while none are awaited
    _timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _check(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:  # gone, or upgraded
            return
        left = self.timeout_s
        if self._since is not None and self._between_requests():
            left = self._since + self.timeout_s - self.loop.time()
            if left <= 0:
                self.transport.write(timeout_answer(self.timeout_s, new_request_id()))
                self.transport.close()
                return
        self._timer = self.loop.call_later(left, self._check)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._since = self.loop.time()
        self._timer = self.loop.call_later(self.timeout_s, self._check)

    def data_received(self, data: bytes) -> None:
        if self._since is None and self._between_requests():  # these bytes begin a request's headers
            self._since = self.loop.time()
        super().data_received(data)  # type: ignore[misc]
        if not self._between_requests():  # its headers are complete: the app has the request
            self._since = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)  # type: ignore[misc]


def protocol_class(timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, as uvicorn's `auto` picks, else h11) with the
    header deadline of `timeout_s` seconds (> 0), for `uvicorn.Config(http=...)`."""
    base: type[Any] = H11Protocol
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools not installed (or hidden): h11, as uvicorn's `auto` falls back
        pass
    else:
        base = HttpToolsProtocol
    attributes = {"timeout_s": timeout_s}
    return type(f"HeaderDeadline{base.__name__}", (_HeaderDeadline, base), attributes)
