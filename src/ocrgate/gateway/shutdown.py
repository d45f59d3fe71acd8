"""Stopping the gateway without breaking what is in flight (SIGTERM, Ctrl-C, `ocrgate serve` stopping).

When the server begins to stop, uvicorn closes the listening socket and asks idle connections to
close; `GatewayServer` then calls `Drain.begin`, and from that moment:

- a request that still arrives (on a connection already open) is answered 503 `shutting_down`;
- requests in flight run on for `[gateway] shutdown_grace_s` seconds; one still running then is
  cancelled and answered 503 `shutting_down` (`gateway.middleware`), instead of uvicorn's plain-text 500
  ("Internal Server Error") and its traceback;
- a job's event stream ends at once with a final `stopping` event (`routes/jobs.py`), since it would
  otherwise hold the stop for the whole grace period.

Jobs are not requests: the job runner stops with the application (lifespan) and the next gateway
requeues their pages. uvicorn's own limit (`timeout_graceful_shutdown`) is set `BACKSTOP_S` past the
grace period, for work that cannot be cancelled at once (a thread that must finish).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

from ocrgate.errors import ShuttingDown
from ocrgate.header_deadline import protocol_class
from ocrgate.heap import keep_large_buffers

log = logging.getLogger("ocrgate.gateway")

#: seconds uvicorn waits past the grace period before it cancels what is left itself
BACKSTOP_S = 5.0
#: uvicorn's exit status when the server could not start (`uvicorn.main.STARTUP_FAILURE`)
STARTUP_FAILURE = 3


class Drain:
    """The gateway's stop, once begun: requests in flight are tracked by their tasks (uvicorn runs each
    in its own) and cancelled together `grace_s` seconds after `begin`; `cut` holds the tasks it
    cancelled, so that the middleware tells that cancellation from any other.

    A task, not an anyio cancel scope per request: entering and leaving one cost the small page 2-3 %
    of the gateway's CPU (py-spy, `bench/profile_gateway.py`)."""

    def __init__(self) -> None:
        self.begun = False
        self.grace_s = 0.0
        self.requests: set[asyncio.Task[Any]] = set()
        self.cut: set[asyncio.Task[Any]] = set()
        self._cut: asyncio.Task[None] | None = None

    def begin(self, grace_s: float) -> None:
        """Refuse new requests from now on; cancel those in flight after `grace_s` seconds. Called once,
        in the server's event loop; a second call does nothing."""
        if self.begun:
            return
        self.begun, self.grace_s = True, grace_s
        log.info("stopping: %d request(s) in flight get %.0f s to finish", len(self.requests), grace_s)
        self._cut = asyncio.get_running_loop().create_task(self._cut_after(grace_s))

    async def _cut_after(self, grace_s: float) -> None:
        await asyncio.sleep(grace_s)
        if self.requests:
            log.warning("grace period over: %d request(s) answered 503", len(self.requests))
        for task in list(self.requests):
            self.cut.add(task)
            task.cancel()


#: the headers of a 503 `shutting_down`: the connection closes; the client may try again in 5 s
STOPPING_HEADERS = {"Connection": "close", "Retry-After": "5"}


def stopping_error(cut_after_s: float | None = None) -> ShuttingDown:
    """The 503 `shutting_down` to a request that came once the stop had begun, or (`cut_after_s`: the
    grace period) to one the stop cancelled before its answer started (`gateway.middleware`)."""
    if cut_after_s is None:
        return ShuttingDown("the gateway is stopping; try again once it is back")
    return ShuttingDown(
        f"the gateway stopped before this request finished (it waited {cut_after_s:g} s); "
        "try again once it is back"
    )


class GatewayServer(uvicorn.Server):
    """uvicorn's server, which tells the gateway's `Drain` when its stop begins."""

    def __init__(self, config: uvicorn.Config, drain: Drain, grace_s: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.grace_s = grace_s

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.drain.begin(self.grace_s)
        await super().shutdown(sockets)


def run_gateway(app: FastAPI, host: str, port: int, grace_s: float) -> None:
    """Serve the gateway `app` (`create_gateway_app`) on host:port until SIGTERM or Ctrl-C, then stop as
    the module says; requests in flight get `grace_s` seconds. Exits with status 3 when the server
    cannot start (the port is taken), as `uvicorn.run` does. The C heap's policy for large buffers is
    set first (`ocrgate.heap`, `[gateway] malloc_*_threshold_bytes`)."""
    gateway = app.state.gateway.settings.gateway
    keep_large_buffers(gateway.malloc_mmap_threshold_bytes, gateway.malloc_trim_threshold_bytes)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=grace_s + BACKSTOP_S,
        http=protocol_class(app.state.gateway.settings.limits.header_timeout_s),
    )
    server = GatewayServer(config, app.state.gateway.drain, grace_s)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
