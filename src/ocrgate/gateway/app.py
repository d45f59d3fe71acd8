"""The gateway's HTTP API: OCR, compare, jobs, backends, health, metrics."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, Response, UploadFile
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sse_starlette import EventSourceResponse

from ocrgate import __version__
from ocrgate.backends import registry
from ocrgate.backends.base import options_from_json
from ocrgate.config import Limits, Settings
from ocrgate.errors import NotFound
from ocrgate.gateway.auth import APIKeys
from ocrgate.gateway.metrics import Metrics
from ocrgate.gateway.routing import Router
from ocrgate.gateway.runner import JobRunner, job_result, job_status
from ocrgate.gateway.service import check_options, compare_document, parse_backends, recognize_document
from ocrgate.gateway.uploads import UploadLimit, check_content_length, open_upload
from ocrgate.http_errors import install_error_handlers
from ocrgate.jobs import NewJob, open_store
from ocrgate.pipeline import new_request_id
from ocrgate.render import BoxesMode
from ocrgate.schema import CompareResponse, ErrorResponse, JobStatus, OCRResponse
from ocrgate.web_server import web_csp

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
CSP = web_csp()
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 415, 422, 429, 502, 503, 504, 507)
}


class BackendInfo(BaseModel):
    name: str
    healthy: bool
    workers: list[dict[str, Any]]
    queue_depth: int
    capacity: int


def _options(prompt: str | None, options: str | None) -> dict[str, Any]:
    parsed = options_from_json(options)
    if prompt:
        parsed["prompt"] = prompt
    return parsed


def create_gateway_app(settings: Settings) -> FastAPI:
    registry.configure(settings.backends)
    router = Router(settings)
    store = open_store(settings.gateway)
    runner = JobRunner(store, router, settings)
    metrics = Metrics()
    auth = APIKeys(settings.gateway.api_keys)
    limits = settings.limits

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await router.start()
        await runner.start()
        yield
        await runner.close()
        await router.close()
        store.close()

    app = FastAPI(
        title="ocrgate",
        version=__version__,
        description="One gateway in front of several OCR engines.",
        lifespan=lifespan,
    )
    app.state.settings, app.state.router, app.state.store, app.state.runner = settings, router, store, runner
    install_error_handlers(app)
    app.add_middleware(UploadLimit, limits=limits)  # bodies over the limit are cut off while they stream
    if settings.gateway.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.gateway.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
            expose_headers=["Retry-After"],
        )

    @app.middleware("http")
    async def count_requests(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not request.url.path.startswith(("/v1/", "/docs", "/redoc", "/openapi.json")):
            response.headers.setdefault("Content-Security-Policy", CSP)
        route = request.scope.get("route")
        metrics.requests.labels(getattr(route, "path", "other"), str(response.status_code)).inc()
        if response.status_code >= 400:
            metrics.errors.labels(str(response.status_code)).inc()
        return response

    @app.post("/v1/ocr", response_model=OCRResponse | CompareResponse, responses=ERRORS)
    async def ocr(
        request: Request,
        owner: str | None = Depends(auth),
        file: Annotated[UploadFile | None, File(description="image or PDF")] = None,
        backend: Annotated[str | None, Form(description="a name, a comma list, or `all`")] = None,
        prompt: Annotated[str | None, Form()] = None,
        options: Annotated[str | None, Form(description="JSON object of engine options")] = None,
        boxes: Annotated[BoxesMode, Form()] = "all",
        dpi: Annotated[int | None, Form(ge=36, le=600)] = None,
    ) -> OCRResponse | CompareResponse:
        """Recognise an image or PDF with one backend (unified response) or several (compare)."""
        check_content_length(request, limits)
        names = parse_backends(backend, router, settings.default_backend)
        opts = check_options(names, _options(prompt, options))
        document, _data, decode = await open_upload(file, limits, dpi)
        request_id = new_request_id()
        started = time.perf_counter()
        try:
            if len(names) == 1:
                result = await recognize_document(
                    router.pool(names[0]), document, opts, boxes, settings, request_id
                )
                result.timings.decode += decode
                result.processing_time = result.timings.total = result.timings.total + decode
                metrics.pages.labels(names[0], "done").inc(document.page_count)
                return result
            compared = await compare_document(router, names, document, opts, boxes, settings, request_id)
            compared.processing_time += decode
            return compared
        finally:
            document.close()
            for name in names:
                metrics.latency.labels(name).observe(time.perf_counter() - started + decode)

    @app.post("/v1/jobs", status_code=202, response_model=JobStatus, responses=ERRORS)
    async def submit_job(
        request: Request,
        owner: str | None = Depends(auth),
        file: Annotated[UploadFile | None, File()] = None,
        backend: Annotated[str | None, Form()] = None,
        prompt: Annotated[str | None, Form()] = None,
        options: Annotated[str | None, Form()] = None,
        boxes: Annotated[BoxesMode, Form()] = "first",
        dpi: Annotated[int | None, Form(ge=36, le=600)] = None,
    ) -> JobStatus:
        """Accept a document for background processing; 202 with the job's id and progress."""
        check_content_length(request, limits)
        names = parse_backends(backend, router, settings.default_backend)
        opts = check_options(names, _options(prompt, options))
        document, data, _ = await open_upload(file, limits, dpi)
        document.close()
        job = store.create_job(
            NewJob(
                data=data,
                name=document.name,
                media_type=document.media_type,
                backends=names,
                options=opts,
                boxes=boxes,
                page_count=document.page_count,
                owner=owner,
                ttl_s=settings.gateway.job_ttl_s,
                dpi=dpi,
            )
        )
        runner.schedule(job.id)
        return job_status(store, job)

    def _job(job_id: str, owner: str | None):  # type: ignore[no-untyped-def]
        job = store.get_job(job_id, owner)
        if job is None:
            raise NotFound(f"no job {job_id!r} (it may have expired)")
        return job

    @app.get("/v1/jobs", response_model=list[JobStatus])
    def list_jobs(owner: str | None = Depends(auth), limit: int = 50) -> list[JobStatus]:
        return [job_status(store, job) for job in store.list_jobs(owner, limit=min(max(limit, 1), 500))]

    @app.get("/v1/jobs/{job_id}", response_model=JobStatus, responses=ERRORS)
    def get_job(job_id: str, owner: str | None = Depends(auth)) -> JobStatus:
        job = _job(job_id, owner)
        return job_status(store, job, runner.progress(job.id))

    @app.get("/v1/jobs/{job_id}/result", response_model=OCRResponse | CompareResponse, responses=ERRORS)
    def get_job_result(job_id: str, owner: str | None = Depends(auth)) -> OCRResponse | CompareResponse:
        return job_result(store, _job(job_id, owner))

    @app.get("/v1/jobs/{job_id}/events", responses=ERRORS)
    async def job_events(job_id: str, owner: str | None = Depends(auth)) -> EventSourceResponse:
        """Server-sent events: one `page` event per finished page, then one `job` event at the end."""
        _job(job_id, owner)

        async def stream() -> AsyncIterator[dict[str, str]]:
            async for event in runner.events(job_id):
                yield {"event": event.event, "data": event.model_dump_json()}

        return EventSourceResponse(stream(), ping=10)

    @app.delete("/v1/jobs/{job_id}", response_model=JobStatus, responses=ERRORS)
    async def cancel_job(job_id: str, owner: str | None = Depends(auth)) -> JobStatus:
        _job(job_id, owner)
        await runner.cancel(job_id)
        return job_status(store, _job(job_id, owner))

    @app.get("/v1/backends", response_model=list[BackendInfo])
    def backends(_owner: str | None = Depends(auth)) -> list[BackendInfo]:
        infos = []
        for name, pool in router.pools.items():
            metrics.queue_depth.labels(name).set(pool.pending)
            workers = [
                {
                    "url": r.url,
                    "healthy": r.healthy,
                    "load": r.load,
                    "error": r.last_error,
                    "health": r.health,
                }
                for r in pool.replicas
            ]
            infos.append(
                BackendInfo(
                    name=name,
                    healthy=bool(pool.healthy),
                    workers=workers,
                    queue_depth=pool.pending,
                    capacity=pool.capacity,
                )
            )
        return infos

    @app.get("/v1/limits", response_model=Limits)
    def get_limits() -> Limits:
        """What one upload may weigh and hold (the web client shows these before upload)."""
        return limits

    @app.get("/health")
    def health() -> dict[str, Any]:
        states = {name: bool(pool.healthy) for name, pool in router.pools.items()}
        status = (
            "healthy"
            if states and all(states.values())
            else ("degraded" if any(states.values()) else "unhealthy")
        )
        return {
            "status": status,
            "backends": states,
            "version": __version__,
            "timestamp": time.time(),
            "pid": os.getpid(),
        }

    @app.get("/metrics")
    def prometheus() -> Response:
        for name, pool in router.pools.items():
            metrics.queue_depth.labels(name).set(pool.pending)
            metrics.healthy_workers.labels(name).set(len(pool.healthy))
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    if (WEB_DIR / "index.html").is_file():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

        @app.get("/", include_in_schema=False)
        def index() -> FileResponse:
            return FileResponse(WEB_DIR / "index.html")

    else:

        @app.get("/", include_in_schema=False)
        def index_redirect() -> RedirectResponse:
            return RedirectResponse("/docs")

    return app
