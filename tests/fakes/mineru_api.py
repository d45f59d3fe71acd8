"""A fake `mineru-api` (MinerU 4.0.12's V1 task API) that answers with recorded MinerU outputs.

    python -m tests.fakes.mineru_api --port P --fixtures tests/fixtures/mineru [--tier standard]

Same routes, status codes, query/form field names, response shapes and error shapes as the real
server (`mineru/parser/task_api.py`, `mineru/parser/api_server.py` in the mineru 4.0.12 wheel; the
contract test compares this app's OpenAPI with the real one): `GET /v1/health`, `POST /v1/tasks`
(202), `GET /v1/tasks/{id}`, `GET /v1/tasks/{id}/result`, `DELETE /v1/tasks/{id}`,
`POST /v1/file_parse`. It checks what it is sent the way MinerU does (multipart `files`, options
in the query string, unknown names refused, tier/output formats/page range checked) and "parses"
by looking the upload's sha256 up in the fixtures' `index.json` (images also by the sha256 of their
RGB pixels, `pixels:<sha>`, so a page re-encoded as PNG is still known); an unknown upload fails the
task like a parse failure does. A task runs for `--seconds-per-page` per page; like the real server its
status is `running` with `progress.completed` 0 until it is `completed`. A page range returns the
fixture's pages in that range (the real MinerU may then rank titles a little differently);
`markdown` is always the whole document's, and `zip` output is not made.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pypdfium2 as pdfium
import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from ocrgate.backends.mineru.page_range import format_pages, select_pages
from ocrgate.errors import InvalidOption

VERSION = "4.0.12"
FORMATS = ("markdown", "middle_json", "structured_content", "zip")
SERVER_TIERS = {
    "flash": ["flash"],
    "basic": ["flash", "basic"],
    "standard": ["flash", "basic", "standard", "advanced"],
}
TERMINAL = {"completed", "partial", "failed", "canceled"}
_RANGE = re.compile(r"\s*(r?[1-9][0-9]*)(\s*-\s*(r?[1-9][0-9]*))?\s*")


class UploadTaskOptions(BaseModel):
    """MinerU's query-string options for uploads (`task_api.UploadTaskOptions`), extra names refused."""

    model_config = ConfigDict(extra="forbid")
    tier: Literal["flash", "basic", "standard", "advanced"] | None = None
    ocr_mode: Literal["auto", "txt", "ocr"] = "auto"
    page_range: str = ""
    output_formats: list[str] = Field(default_factory=lambda: ["markdown"])
    filename: str | None = Field(default=None, min_length=1)
    sha256sum: str | None = Field(default=None, pattern=r"^[a-f0-9]{64}$")


class ErrorDetail(BaseModel):
    type: str
    code: str | None = None
    message: str
    param: str | None = None


class JobProgress(BaseModel):
    completed: int = 0
    failed: int = 0
    total: int = 0


class OutputFileRef(BaseModel):
    file_id: str
    bytes: int


class JobFileResult(BaseModel):
    file_id: str | None = None
    name: str
    page_range: str
    status: Literal["queued", "running", "completed", "failed"]
    parse: dict[str, Any] | None = None
    output_files: dict[str, OutputFileRef | None] | None = None
    error: ErrorDetail | None = None


class TaskStatusResponse(BaseModel):
    task_id: str
    status: Literal["queued", "running", "completed", "partial", "failed", "canceled"]
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    tier: str
    output_formats: list[str]
    access_level: Literal["anonymous", "registered"]
    progress: JobProgress | None = None
    files: list[JobFileResult]
    links: dict[str, str]
    status_url: str
    result_url: str


class TaskFileContent(JobFileResult):
    content: dict[str, Any] = Field(default_factory=dict)


class TaskResultResponse(TaskStatusResponse):
    files: list[TaskFileContent]  # type: ignore[assignment]


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, code: str = "invalid_request", param: str | None = None
    ) -> None:
        kind = "engine_error" if status == 503 else "invalid_request_error" if status < 500 else "api_error"
        self.status, self.detail = status, ErrorDetail(type=kind, code=code, message=message, param=param)


@dataclass
class Job:
    id: str
    tier: str
    formats: list[str]
    page_range: str
    ocr_mode: str
    name: str
    data: bytes
    created: float = field(default_factory=time.time)
    finish_at: float = 0.0
    status: str = "running"
    file: dict[str, Any] = field(default_factory=dict)
    content: dict[str, Any] = field(default_factory=dict)


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pages_of(data: bytes) -> int:
    try:
        return len(pdfium.PdfDocument(data))
    except pdfium.PdfiumError:
        return 1


def _pixels_sha256(data: bytes) -> str:
    """An image is also known by its RGB pixels (a page re-encoded as PNG keeps them)."""
    try:
        return hashlib.sha256(Image.open(io.BytesIO(data)).convert("RGB").tobytes()).hexdigest()
    except (OSError, ValueError, Image.DecompressionBombError):
        return ""


def _request_schema() -> dict[str, Any]:
    """The same hand-written OpenAPI input as the real routes (`task_api._request_schema`)."""
    files = {"type": "array", "maxItems": 100, "items": {"type": "string", "format": "binary"}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": ["files"], "properties": {"files": files}}
                }
            },
        },
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in UploadTaskOptions.model_json_schema()["properties"].items()
        ],
    }


def create_app(fixtures: Path, tier: str = "standard", seconds_per_page: float = 0.05) -> FastAPI:
    app = FastAPI(title="MinerU API (fake)", version="1.0.0")
    index: dict[str, Any] = json.loads((fixtures / "index.json").read_text())
    allowed = SERVER_TIERS[tier]
    default_tier = next((t for t in ("standard", "basic") if t in allowed), None)
    jobs: dict[str, Job] = {}

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.detail.model_dump()}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {
                "error": ErrorDetail(
                    type="invalid_request_error",
                    code="invalid_request",
                    message=f"Invalid request: {exc.errors()[0]['msg']}",
                ).model_dump()
            },
            status_code=400,
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {
                "error": ErrorDetail(
                    type="invalid_request_error", code="invalid_request", message=str(exc.detail)
                ).model_dump()
            },
            status_code=exc.status_code,
        )

    def run(job: Job) -> None:
        """What MinerU would have made of the upload, from the fixtures; errors fail the file."""
        job.status = "completed"
        job.file.update(status="completed")
        fixture = index.get(hashlib.sha256(job.data).hexdigest()) or index.get(
            f"pixels:{_pixels_sha256(job.data)}"
        )
        try:
            if fixture is None:
                raise ApiError(500, f"no fixture for this upload ({len(job.data)} bytes)", "parse_failed")
            if job.page_range and not job.name.lower().endswith(".pdf"):
                suffix = job.name.rsplit(".", 1)[-1]
                message = (
                    f"Page range is only supported for PDF files; '{suffix}' uses full-document parsing."
                )
                raise ApiError(400, message, "page_range_invalid", "page_range")
            stem = fixtures / fixture["name"]
            count = _pages_of(job.data) if job.name.lower().endswith(".pdf") else 1
            try:
                keep = set(select_pages(job.page_range, count))
            except InvalidOption as exc:
                raise ApiError(400, exc.message, "page_range_invalid", "page_range") from exc
        except ApiError as exc:
            job.status = "failed"
            job.file.update(status="failed", error=exc.detail.model_dump())
            return
        outputs: dict[str, Any] = {"markdown": (fixtures / f"{fixture['name']}.md").read_text()}
        for fmt, suffix in (
            ("structured_content", ".structured_content.json"),
            ("middle_json", ".middle.json"),
        ):
            path = stem.with_name(stem.name + suffix)
            if path.is_file():
                doc = json.loads(path.read_text())
                doc["pages"] = [p for p in doc["pages"] if p["page_idx"] in keep]
                outputs[fmt] = doc
        job.content = {fmt: outputs[fmt] for fmt in job.formats if fmt in outputs}
        refs = {fmt: None for fmt in FORMATS} | {
            fmt: {"file_id": "file-" + secrets.token_hex(12), "bytes": len(json.dumps(value))}
            for fmt, value in job.content.items()
        }
        job.file.update(
            page_range=format_pages(keep),
            output_files=refs,
            parse={
                "model_used": None,
                "duration_ms": int((job.finish_at - job.created) * 1000),
                "parser_version": VERSION,
            },
        )

    def payload(job: Job, with_content: bool = False) -> dict[str, Any]:
        if job.status == "running" and time.time() >= job.finish_at:
            run(job)
        done = job.status in TERMINAL
        base = f"/v1/tasks/{job.id}"
        file = dict(job.file)
        if with_content:
            file["content"] = job.content if job.status == "completed" else {}
        return {
            "status": job.status,
            "created_at": _iso(job.created),
            "started_at": _iso(job.created),
            "finished_at": _iso(job.finish_at) if done else None,
            "tier": job.tier,
            "output_formats": job.formats,
            "access_level": "anonymous",
            "files": [file],
            "progress": {
                "completed": int(job.status == "completed"),
                "failed": int(job.status == "failed"),
                "total": 1,
            },
            "links": {"self": base, "cancel": base},
            "task_id": job.id,
            "status_url": base,
            "result_url": f"{base}/result",
        }

    async def submit(request: Request, sync: bool) -> Job:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        params = {
            k: v
            for k, v in request.query_params.items()
            if not (sync and k in ("response_format", "wait_timeout"))
        }
        if "output_formats" in params:
            params["output_formats"] = request.query_params.getlist("output_formats")  # type: ignore[assignment]
        try:
            options = UploadTaskOptions.model_validate(params)
        except ValidationError as exc:
            raise ApiError(400, str(exc)) from exc
        if options.page_range.strip() not in ("", "all") and not all(
            _RANGE.fullmatch(p) for p in options.page_range.split(",")
        ):
            raise ApiError(
                400,
                f"Invalid page range {options.page_range!r}: expected a page, an inclusive range, or 'all'",
                "page_range_invalid",
                "page_range",
            )
        if not options.output_formats or any(fmt not in FORMATS for fmt in options.output_formats):
            raise ApiError(400, "Unsupported output format", "unsupported_output_format", "output_formats")
        if media_type != "multipart/form-data":
            raise ApiError(
                415,
                "Use application/json, multipart/form-data or application/octet-stream "
                "(this fake: multipart only)",
            )
        async with request.form() as form:
            files = form.getlist("files")
            if not files or any(key != "files" for key in form) or len(files) != 1:
                raise ApiError(400, "Supply one or more files fields (this fake: exactly one)", param="files")
            upload = files[0]
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ApiError(400, "Every files field must contain a named file", param="files")
            data = await upload.read()
        if not data:
            raise ApiError(400, "Empty files are not supported", param="files")
        job_tier = options.tier or default_tier
        if job_tier is None:
            message = (
                "No basic, standard, or advanced tier available in this server. "
                "Pass tier='flash' explicitly for flash parsing."
            )
            raise ApiError(503, message, "quality_tier_unavailable")
        if job_tier not in allowed:
            raise ApiError(400, f"Tier '{job_tier}' not available in this server")
        job = Job(
            "job_" + secrets.token_hex(12),
            job_tier,
            options.output_formats,
            options.page_range.strip(),
            options.ocr_mode,
            upload.filename,
            data,
        )
        job.finish_at = job.created + seconds_per_page * _pages_of(data)
        job.file = {
            "file_id": "file-" + secrets.token_hex(12),
            "name": upload.filename,
            "page_range": job.page_range,
            "status": "queued",
            "parse": None,
            "output_files": None,
            "error": None,
        }
        jobs[job.id] = job
        return job

    def get_job(task_id: str) -> Job:
        if task_id not in jobs:
            raise ApiError(404, f"Job {task_id} not found", "job_not_found")
        return jobs[task_id]

    def result(job: Job) -> JSONResponse:
        body = payload(job, with_content=True)
        if job.status not in TERMINAL:
            return JSONResponse(payload(job), status_code=202)
        if job.status in ("failed", "canceled"):
            return JSONResponse(payload(job), status_code=409)
        return JSONResponse(body)

    @app.get("/v1/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": VERSION,
            "features": {
                "webhook": False,
                "output_formats": list(FORMATS),
                "sources": ["file_id", "url", "inline"],
            },
        }

    @app.post(
        "/v1/tasks",
        status_code=202,
        response_model=TaskStatusResponse,
        openapi_extra=_request_schema(),
        tags=["Tasks"],
    )
    async def create_task(request: Request) -> JSONResponse:
        job = await submit(request, sync=False)
        return JSONResponse({**payload(job), "status": "queued"}, status_code=202)

    @app.get("/v1/tasks/{task_id}", response_model=TaskStatusResponse, tags=["Tasks"])
    async def get_task(task_id: str) -> JSONResponse:
        return JSONResponse(payload(get_job(task_id)))

    @app.delete("/v1/tasks/{task_id}", tags=["Tasks"])
    async def cancel_task(task_id: str) -> JSONResponse:
        job = get_job(task_id)
        payload(job)
        if job.status in TERMINAL:
            raise ApiError(409, f"Job is {job.status}", "job_already_terminal")
        job.status, job.finish_at = "canceled", time.time()
        return JSONResponse(payload(job))

    @app.get(
        "/v1/tasks/{task_id}/result",
        response_model=None,
        tags=["Tasks"],
        responses={200: {"model": TaskResultResponse}, 202: {"model": TaskStatusResponse}},
    )
    async def get_result(task_id: str, response_format: Literal["json", "zip"] = "json") -> JSONResponse:
        if response_format == "zip":
            raise ApiError(
                400, "Request zip in output_formats when submitting the task", "unsupported_output_format"
            )
        return result(get_job(task_id))

    @app.post(
        "/v1/file_parse",
        response_model=None,
        openapi_extra=_request_schema(),
        tags=["Tasks"],
        responses={200: {"model": TaskResultResponse}, 202: {"model": TaskStatusResponse}},
    )
    async def file_parse(
        request: Request,
        response_format: Literal["json", "zip"] = "json",
        wait_timeout: int = Query(default=300, ge=1, le=3600),
    ) -> JSONResponse:
        if response_format == "zip":
            raise ApiError(
                400, "Request zip in output_formats when submitting the task", "unsupported_output_format"
            )
        job = await submit(request, sync=True)
        await asyncio.sleep(max(0.0, min(job.finish_at - time.time(), wait_timeout)))
        return result(job)

    app.state.jobs = jobs
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fixtures", type=Path, default=Path(__file__).parents[1] / "fixtures" / "mineru")
    parser.add_argument("--tier", choices=sorted(SERVER_TIERS), default="standard")
    parser.add_argument("--seconds-per-page", type=float, default=0.05)
    args = parser.parse_args()
    app = create_app(args.fixtures, args.tier, args.seconds_per_page)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
