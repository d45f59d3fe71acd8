"""The worker: an HTTP process that hosts exactly one backend.

Started by `ocrgate worker --backend NAME --port P [--gpu G]`; the CLI pins CUDA_VISIBLE_DEVICES
before this module (or any engine) is imported. The model loads in the background after start-up,
so `/health` answers at once and says `loading` until it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Header, Query, Request
from pydantic import BaseModel

from ocrgate import __version__
from ocrgate.backends.base import Backend, options_from_json
from ocrgate.config import Limits
from ocrgate.devices import DeviceInfo, device_info
from ocrgate.errors import BackendUnavailable, Unauthorized
from ocrgate.http_errors import install_error_handlers
from ocrgate.schema import BackendHealth, PageResult
from ocrgate.wire import SECRET_HEADER, decode_page

log = logging.getLogger("ocrgate.worker")


class WorkerHealth(BaseModel):
    """The seed's health shape plus what proves isolation: device, python, process."""

    model_config = {"protected_namespaces": ()}

    status: str
    model_loaded: bool
    gpu_available: bool
    backend: str
    timestamp: str
    device: DeviceInfo
    engine: BackendHealth
    inflight: int
    pages_done: int
    pid: int
    python: str
    sys_prefix: str
    version: str = __version__
    error: str | None = None


class WorkerState:
    def __init__(self, backend: Backend, concurrency: int) -> None:
        self.backend = backend
        self.slots = asyncio.Semaphore(concurrency)
        self.inflight = 0
        self.pages_done = 0
        self.load_error: str | None = None
        self.loaded = threading.Event()
        self.device = device_info()

    def load(self) -> None:
        try:
            reason = self.backend.availability()
            if reason:
                raise BackendUnavailable(reason)
            self.backend.load()
            self.device = device_info()
        except Exception as exc:  # reported through /health, never a crash of the worker
            log.exception("backend %s failed to load", self.backend.name)
            self.load_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.loaded.set()


def create_worker_app(
    backend: Backend, limits: Limits | None = None, secret: str | None = None, concurrency: int = 1
) -> FastAPI:
    limits = limits or Limits()
    state = WorkerState(backend, concurrency)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=state.load, name="load-model", daemon=True).start()
        yield
        await anyio.to_thread.run_sync(backend.close)

    app = FastAPI(title=f"ocrgate worker: {backend.name}", version=__version__, lifespan=lifespan)
    install_error_handlers(app)

    def check_secret(given: Annotated[str | None, Header(alias=SECRET_HEADER)] = None) -> None:
        if secret and not hmac.compare_digest((given or "").encode(), secret.encode()):
            raise Unauthorized("this worker only answers its gateway (missing or wrong shared secret)")

    @app.get("/health", response_model=WorkerHealth)
    def health() -> WorkerHealth:
        status = "loading" if not state.loaded.is_set() else "unhealthy" if state.load_error else "healthy"
        return WorkerHealth(
            status=status,
            model_loaded=backend.loaded,
            gpu_available=bool(state.device.gpus),
            backend=backend.name,
            timestamp=datetime.now(UTC).isoformat(),
            device=state.device,
            engine=backend.health(),
            inflight=state.inflight,
            pages_done=state.pages_done,
            pid=os.getpid(),
            python=sys.executable,
            sys_prefix=sys.prefix,
            error=state.load_error,
        )

    @app.post("/v1/ocr", response_model=PageResult, dependencies=[Depends(check_secret)])
    async def ocr(
        request: Request,
        index: Annotated[int, Query(ge=0)] = 0,
        width: Annotated[int | None, Query(gt=0)] = None,
        height: Annotated[int | None, Query(gt=0)] = None,
        options: Annotated[str | None, Query(description="JSON object of backend options")] = None,
    ) -> PageResult:
        parsed = backend.parse_options(options_from_json(options))
        body = await request.body()
        page = await anyio.to_thread.run_sync(
            decode_page, body, request.headers.get("content-type", ""), index, width, height, limits
        )
        await anyio.to_thread.run_sync(state.loaded.wait)
        if state.load_error:
            raise BackendUnavailable(f"backend {backend.name} failed to load: {state.load_error}")
        async with state.slots:
            state.inflight += 1
            try:
                started = time.perf_counter()
                result = await anyio.to_thread.run_sync(backend.ocr_page, page, parsed)
                result.ocr_seconds = result.ocr_seconds or time.perf_counter() - started
            finally:
                state.inflight -= 1
        state.pages_done += 1
        return result

    return app
