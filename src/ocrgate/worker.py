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
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from ocrgate import __version__
from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.config import Limits
from ocrgate.devices import DeviceInfo, device_info
from ocrgate.documents import open_document
from ocrgate.errors import BackendUnavailable, InvalidOption, OCRGateError, Unauthorized, UnsupportedType
from ocrgate.http_errors import install_error_handlers
from ocrgate.schema import BackendHealth, ErrorInfo, PageResult
from ocrgate.wire import (
    HEARTBEAT_S,
    NDJSON,
    SECRET_HEADER,
    FileEvent,
    WorkerInfo,
    decode_page,
    options_from_json,
)

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

    async def ready(self) -> None:
        await anyio.to_thread.run_sync(self.loaded.wait)
        if self.load_error:
            raise BackendUnavailable(f"backend {self.backend.name} failed to load: {self.load_error}")

    async def file_events(
        self, data: bytes, media_type: str, sizes: list[tuple[int, int]], options: BackendOptions
    ) -> AsyncIterator[bytes]:
        """Run `ocr_file` in a thread; yield its progress (or a heartbeat), then its pages or error."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[FileEvent] = asyncio.Queue()
        last = FileEvent(done=0, total=len(sizes))

        def progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(events.put_nowait, FileEvent(done=done, total=total))

        async with self.slots:
            self.inflight += 1
            work = asyncio.ensure_future(
                anyio.to_thread.run_sync(self.backend.ocr_file, data, media_type, sizes, options, progress)
            )
            try:
                yield last.line()
                while not work.done():
                    with contextlib.suppress(TimeoutError):
                        last = await asyncio.wait_for(events.get(), timeout=HEARTBEAT_S)
                    yield last.line()
                try:
                    pages = work.result()
                except OCRGateError as exc:
                    yield FileEvent(error=exc.info()).line()
                except Exception as exc:  # the engine's own failure, reported in the stream
                    log.exception("backend %s failed on a file", self.backend.name)
                    message = f"backend {self.backend.name} failed: {type(exc).__name__}: {exc}"
                    yield FileEvent(error=ErrorInfo(code="backend_error", message=message)).line()
                else:
                    self.pages_done += len(pages)
                    yield FileEvent(done=len(pages), total=len(sizes), pages=pages).line()
            finally:
                self.inflight -= 1


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

    @app.get("/v1/info", response_model=WorkerInfo)
    def info() -> WorkerInfo:
        """What this worker's backend reads and accepts (the gateway validates options with it)."""
        return WorkerInfo(
            backend=backend.name,
            engine_version=backend.engine_version(),
            ocrgate_version=__version__,
            options_schema=backend.options_model.model_json_schema(),
            file_types=sorted(backend.file_types),
            max_batch=backend.max_batch,
            concurrency=concurrency,
            limits=limits,
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
        await state.ready()
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

    @app.post("/v1/ocr/file", dependencies=[Depends(check_secret)])
    async def ocr_file(
        request: Request,
        name: Annotated[str, Query(max_length=255)] = "upload",
        dpi: Annotated[int | None, Query(ge=36, le=600)] = None,
        options: Annotated[str | None, Query(description="JSON object of backend options")] = None,
    ) -> StreamingResponse:
        """The original upload, for backends that read files natively; NDJSON `FileEvent` lines back."""
        if not backend.file_types:
            raise InvalidOption(f"backend {backend.name} reads page images only; send pages to /v1/ocr")
        parsed = backend.parse_options(options_from_json(options))
        body = await request.body()
        document = await anyio.to_thread.run_sync(open_document, body, name, limits, dpi)
        try:
            if document.media_type not in backend.file_types:
                raise UnsupportedType(f"backend {backend.name} does not read {document.media_type} files")
            sizes = await anyio.to_thread.run_sync(document.page_sizes)
        finally:
            document.close()
        await state.ready()
        return StreamingResponse(
            state.file_events(body, document.media_type, sizes, parsed), media_type=NDJSON
        )

    return app
