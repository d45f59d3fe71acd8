"""The worker: an HTTP process that hosts exactly one backend.

Started by `ocrgate worker --backend NAME --port P [--gpu G]`; the CLI pins CUDA_VISIBLE_DEVICES
before this module (or any engine) is imported. The model loads in the background after start-up,
so `/health` answers at once and says `loading` until it is ready; it answers while pages run too
(from what the backend already knows, in a thread of its own), so a busy worker never looks dead.
A backend that cannot run here is reported by `/health` and one warning line in the log.

Routes: `GET /health` (`WorkerHealth`), `GET /v1/info` (`ocrgate.wire.WorkerInfo`: what the gateway
needs to route and check options), `POST /v1/ocr` (one page image -> `PageResult`) and
`POST /v1/ocr/file` (a whole upload, for backends with `file_types`; NDJSON `FileEvent` lines).

Batching: the worker runs at most `concurrency` pages at once. Pages with equal options that arrive
together go to the backend's `ocr_batch` as one batch of up to min(backend.max_batch, concurrency)
pages; the first page of a batch waits at most `batch_wait_ms` for more (`ocrgate.batching`), and
ceil(concurrency / batch size) batches may run at once. An engine that reads a page at a time
(max_batch 1) thus gets `concurrency` pages at once, with no waiting, as before batching existed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import os
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from ocrgate import __version__
from ocrgate.backends.base import Backend, BackendOptions, WholeFile
from ocrgate.batching import DEFAULT_BATCH_WAIT_MS, MicroBatcher
from ocrgate.config import Limits
from ocrgate.devices import DeviceInfo, device_info
from ocrgate.documents import PageImage, open_document
from ocrgate.environment import EnvironmentCheck
from ocrgate.errors import (
    BackendError,
    BackendUnavailable,
    InvalidOption,
    OCRGateError,
    Unauthorized,
    UnsupportedType,
)
from ocrgate.http_errors import install_error_handlers
from ocrgate.middleware import InternalErrors, RequestID, fastapi_telemetry
from ocrgate.render import page_preview
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
    batch_sizes: dict[str, int] = Field(default_factory=dict, description="batches run so far, by size")
    environment: list[EnvironmentCheck] = Field(
        default_factory=list, description="what the backend needs here, checked in this worker's python"
    )
    pid: int
    python: str
    sys_prefix: str
    version: str = __version__
    error: str | None = None


def batch_size(max_batch: int, concurrency: int) -> int:
    """Pages per batch: the engine's `max_batch`, but never more than the worker runs at once."""
    return max(1, min(max_batch, concurrency))


@dataclass(eq=False)
class PageWork:
    """One page waiting for a batch; `key` is equal for equal options (only those share a batch)."""

    page: PageImage
    options: BackendOptions
    key: str


class WorkerState:
    def __init__(self, backend: Backend, concurrency: int, batch_wait_ms: float) -> None:
        self.backend = backend
        self.concurrency = concurrency
        self.batch_wait_ms = batch_wait_ms
        self.batch_size = batch_size(backend.max_batch, concurrency)
        self.capacity = max(backend.capacity, self.batch_size)
        if self.capacity > concurrency:
            log.warning(
                "backend %s works on %d pages at once (batches of %d) but this worker runs %d at once "
                "(concurrency): the engine is never full; set concurrency = %d",
                backend.name,
                self.capacity,
                backend.max_batch,
                concurrency,
                self.capacity,
            )
        self.slots = asyncio.Semaphore(concurrency)
        self.batcher: MicroBatcher[PageWork, PageResult] | None = None
        self.health_threads = anyio.CapacityLimiter(2)  # /health never queues behind pages for a thread
        self.inflight = 0
        self.pages_done = 0
        self.load_error: str | None = None
        self.loaded = threading.Event()
        self.device = device_info()

    def start(self) -> None:
        """Start the batch runners and load the model in the background."""
        self.batcher = MicroBatcher(
            self.run_batch,
            self.batch_size,
            self.batch_wait_ms,
            name=f"{self.backend.name}-batches",
            runners=math.ceil(self.concurrency / self.batch_size),
            key=lambda work: work.key,
        )
        threading.Thread(target=self.load, name="load-model", daemon=True).start()

    def stop(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        self.backend.close()

    def load(self) -> None:
        name = self.backend.name
        try:
            reason = self.backend.unavailable()
            if reason:
                raise BackendUnavailable(reason)
            self.backend.load()
            self.device = device_info()
        except BackendUnavailable as exc:  # expected where the engine is missing: one line, no traceback
            log.warning("backend %s cannot run here: %s", name, exc.message)
            self.load_error = f"{type(exc).__name__}: {exc.message}"
        except Exception as exc:  # reported through /health, never a crash of the worker
            log.exception("backend %s failed to load", name)
            self.load_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.loaded.set()

    async def ready(self) -> None:
        await anyio.to_thread.run_sync(self.loaded.wait)
        if self.load_error:
            raise BackendUnavailable(f"backend {self.backend.name} failed to load: {self.load_error}")

    def run_batch(self, works: list[PageWork]) -> list[PageResult]:
        """A batch runner's call: the pages (equal options) through `ocr_batch`; page times default to
        the batch's wall time."""
        started = time.perf_counter()
        results = self.backend.ocr_batch([work.page for work in works], works[0].options)
        if len(results) != len(works):
            raise BackendError(
                f"backend {self.backend.name} answered {len(results)} pages for a batch of {len(works)}"
            )
        seconds = time.perf_counter() - started
        for result in results:
            result.ocr_seconds = result.ocr_seconds or seconds
        return results

    async def recognise(self, page: PageImage, options: BackendOptions) -> PageResult:
        """`page` through the next batch of pages with the same options."""
        assert self.batcher is not None, "the worker has not started"
        async with self.slots:
            self.inflight += 1
            try:
                work = PageWork(page, options, options.model_dump_json())
                result = await asyncio.wrap_future(self.batcher.submit_future(work))
            finally:
                self.inflight -= 1
        self.pages_done += 1
        return result

    def info(self, limits: Limits) -> WorkerInfo:
        backend = self.backend
        return WorkerInfo(
            backend=backend.name,
            engine_version=backend.engine_version(),
            ocrgate_version=__version__,
            options_schema=backend.options_schema(),
            file_types=sorted(backend.file_types),
            max_batch=self.batch_size,
            concurrency=self.concurrency,
            capacity=self.capacity,
            limits=limits,
        )

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
                anyio.to_thread.run_sync(
                    self.backend.ocr_file, WholeFile(data, media_type, sizes), options, progress
                )
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
    backend: Backend,
    limits: Limits | None = None,
    secret: str | None = None,
    concurrency: int = 1,
    batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
) -> FastAPI:
    """The worker's ASGI app for `backend`: `concurrency` pages at once, batched as the module doc says."""
    limits = limits or Limits()
    state = WorkerState(backend, concurrency, batch_wait_ms)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()
        yield
        await anyio.to_thread.run_sync(state.stop)

    app = FastAPI(
        title=f"ocrgate worker: {backend.name}",
        version=__version__,
        lifespan=lifespan,
        telemetry=fastapi_telemetry(),
    )
    install_error_handlers(app)
    app.add_middleware(InternalErrors)  # a 500 logged once, with the request id
    app.add_middleware(RequestID)  # its errors and log lines name the request, as the gateway's do

    def check_secret(given: Annotated[str | None, Header(alias=SECRET_HEADER)] = None) -> None:
        if secret and not hmac.compare_digest((given or "").encode(), secret.encode()):
            raise Unauthorized("this worker only answers its gateway (missing or wrong shared secret)")

    def checked() -> tuple[BackendHealth, list[EnvironmentCheck]]:
        return backend.health(), backend.environment()

    @app.get("/health", response_model=WorkerHealth)
    async def health() -> WorkerHealth:
        engine, environment = await anyio.to_thread.run_sync(checked, limiter=state.health_threads)
        status = "loading" if not state.loaded.is_set() else "unhealthy" if state.load_error else "healthy"
        return WorkerHealth(
            status=status,
            model_loaded=backend.loaded,
            gpu_available=bool(state.device.gpus),
            backend=backend.name,
            timestamp=datetime.now(UTC).isoformat(),
            device=state.device,
            engine=engine,
            inflight=state.inflight,
            pages_done=state.pages_done,
            batch_sizes=state.batcher.stats() if state.batcher else {},
            environment=environment,
            pid=os.getpid(),
            python=sys.executable,
            sys_prefix=sys.prefix,
            error=state.load_error,
        )

    @app.get("/v1/info", response_model=WorkerInfo)
    def info() -> WorkerInfo:
        """What this worker is: backend, engine version, options schema, file types, batch, limits."""
        return state.info(limits)

    @app.post("/v1/ocr", response_model=PageResult, dependencies=[Depends(check_secret)])
    async def ocr(
        request: Request,
        index: Annotated[int, Query(ge=0)] = 0,
        width: Annotated[int | None, Query(gt=0)] = None,
        height: Annotated[int | None, Query(gt=0)] = None,
        options: Annotated[str | None, Query(description="JSON object of backend options")] = None,
        boxes: Annotated[
            bool, Query(description="also a preview for the boxes picture (`page_preview`)")
        ] = False,
    ) -> Response:
        """One page: raw RGB (`width`, `height`) or an image file (decoded here, as the gateway's intake
        would: a damaged one gets the same typed 4xx). `boxes`: the preview the boxes picture shows is
        made here, where the pixels are, and sent with the result."""
        parsed = backend.parse_options(options_from_json(options))
        body = await request.body()
        page = await anyio.to_thread.run_sync(
            decode_page, body, request.headers.get("content-type", ""), index, width, height, limits
        )
        await state.ready()
        result = await state.recognise(page, parsed)
        if boxes:
            result.page_preview = await anyio.to_thread.run_sync(page_preview, result, page.image)
        # serialised once by pydantic: FastAPI would validate the result again against the response model
        return Response(result.model_dump_json(), media_type="application/json")

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
