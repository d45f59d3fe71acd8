"""Python client for the gateway, sync (`OCRGateClient`) and async (`AsyncOCRGateClient`).

    from ocrgate.client import OCRGateClient
    with OCRGateClient("http://127.0.0.1:8080") as client:
        result = client.ocr("page.png", backend="rapidocr")
        pdf = client.ocr_as("scan.png", "pdf", backend="tesseract")    # bytes of a searchable PDF
        compared = client.compare("page.png", ["rapidocr", "tesseract"])
        job = client.submit_job("book.pdf")
        final = client.wait_job(job.id, on_event=lambda e: print(e.progress))

Both classes build the same requests (`_build`) and read the same answers (`_read`); they differ only
in how the bytes travel. Errors come back as the typed `ocrgate.errors` exceptions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
from httpx_sse import aconnect_sse, connect_sse
from pydantic import BaseModel, TypeAdapter

from ocrgate.errors import BackendError, InputError, OCRGateError, ShuttingDown, error_from_info
from ocrgate.schema import CompareResponse, ErrorResponse, JobEvent, JobStatus, OCRResponse

FileInput = str | Path | bytes
Model = TypeVar("Model", bound=BaseModel)
_ANY_RESULT: TypeAdapter[OCRResponse | CompareResponse] = TypeAdapter(OCRResponse | CompareResponse)
_JOB_LIST: TypeAdapter[list[JobStatus]] = TypeAdapter(list[JobStatus])


def _file(file: FileInput, filename: str | None) -> tuple[str, bytes]:
    if isinstance(file, bytes):
        return filename or "upload", file
    path = Path(file)
    return filename or path.name, path.read_bytes()


def _form(
    backend: str | list[str] | None,
    prompt: str | None,
    options: dict[str, Any] | None,
    boxes: str,
    dpi: int | None,
    text_layer: str | None = None,
) -> dict[str, str]:
    form = {"boxes": boxes}
    if backend:
        form["backend"] = backend if isinstance(backend, str) else ",".join(backend)
    if prompt:
        form["prompt"] = prompt
    if options:
        form["options"] = json.dumps(options)
    if dpi:
        form["dpi"] = str(dpi)
    if text_layer is not None:  # None: the gateway's default (`never` for several backends, else `auto`)
        form["text_layer"] = text_layer
    return form


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error: OCRGateError = error_from_info(ErrorResponse.model_validate_json(response.content).error)
    except ValueError:
        error = BackendError(f"HTTP {response.status_code}: {response.text[:200]}")
    error.status = response.status_code
    error.request_id = response.headers.get("x-request-id")
    if "retry-after" in response.headers and hasattr(error, "retry_after"):
        error.retry_after = int(response.headers["retry-after"])
    raise error


def _read(response: httpx.Response, model: type[Model] | TypeAdapter[Any]) -> Any:
    _raise_for(response)
    if isinstance(model, TypeAdapter):
        return model.validate_json(response.content)
    return model.model_validate_json(response.content)


def _content(response: httpx.Response) -> bytes:
    _raise_for(response)
    return response.content


#: the server-sent events a job stream carries (`ping` comments are left out)
JOB_EVENTS = ("page", "progress", "job")


def _stopped(data: str) -> ShuttingDown:
    """The error for a job stream the gateway's stop ended (its `stopping` event): the job goes on
    once the gateway is back; follow it again then."""
    try:
        message = str(json.loads(data)["message"])
    except (ValueError, KeyError, TypeError):
        message = "the gateway is stopping"
    return ShuttingDown(message)


class _Base:
    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self.timeout = timeout

    @staticmethod
    def _upload(
        file: FileInput,
        filename: str | None,
        backend: str | list[str] | None,
        prompt: str | None,
        options: dict[str, Any] | None,
        boxes: str,
        dpi: int | None,
        text_layer: str | None = None,
    ) -> dict[str, Any]:
        data = _form(backend, prompt, options, boxes, dpi, text_layer)
        return {"files": {"file": _file(file, filename)}, "data": data}

    @staticmethod
    def _result_params(fmt: str, backend: str | None) -> dict[str, str]:
        return {"format": fmt, **({"backend": backend} if backend else {})}


class OCRGateClient(_Base):
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        timeout: float = 600,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout)
        self.http = httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> OCRGateClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def ocr(
        self,
        file: FileInput,
        backend: str | None = None,
        *,
        prompt: str | None = None,
        options: dict[str, Any] | None = None,
        boxes: str = "all",
        dpi: int | None = None,
        text_layer: str | None = None,
        filename: str | None = None,
    ) -> OCRResponse:
        """One backend (default: the gateway's default) on one image or PDF."""
        body = self._upload(file, filename, backend, prompt, options, boxes, dpi, text_layer)
        return _read(self.http.post("/v1/ocr", **body), OCRResponse)

    def compare(
        self,
        file: FileInput,
        backends: list[str] | str = "all",
        *,
        prompt: str | None = None,
        options: dict[str, Any] | None = None,
        boxes: str = "all",
        dpi: int | None = None,
        text_layer: str | None = None,
        filename: str | None = None,
    ) -> CompareResponse:
        """Several backends on the same document, with their pairwise agreement."""
        body = self._upload(file, filename, backends, prompt, options, boxes, dpi, text_layer)
        return _read(self.http.post("/v1/ocr", **body), CompareResponse)

    def ocr_as(
        self,
        file: FileInput,
        fmt: str,
        backend: str | None = None,
        *,
        prompt: str | None = None,
        options: dict[str, Any] | None = None,
        boxes: str = "none",
        dpi: int | None = None,
        text_layer: str | None = None,
        filename: str | None = None,
    ) -> bytes:
        """One backend on one image or PDF, written as `fmt` (json, md, txt, alto, hocr, pdf): the
        file's bytes."""
        body = self._upload(file, filename, backend, prompt, options, boxes, dpi, text_layer)
        body["data"]["format"] = fmt
        return _content(self.http.post("/v1/ocr", **body))

    def check(self, backend: str | list[str] | None = None, options: dict[str, Any] | None = None) -> None:
        """Have the gateway check backend names and options, without a document: it checks them
        before the file and answers `bad_input` (no file sent) when they are right. Raises the typed
        error a request with them would get (UnknownBackend, InvalidOption, Unauthorized, ...)."""
        answer = self.http.post("/v1/ocr", data=_form(backend, None, options, "none", None))
        try:
            _raise_for(answer)
        except InputError as exc:
            if exc.code == InputError.code:
                return
            raise
        raise BackendError(f"{self.base_url} accepted a request without a file: not an ocrgate gateway?")

    def submit_job(
        self,
        file: FileInput,
        backend: str | list[str] | None = None,
        *,
        prompt: str | None = None,
        options: dict[str, Any] | None = None,
        boxes: str = "first",
        dpi: int | None = None,
        text_layer: str | None = None,
        filename: str | None = None,
    ) -> JobStatus:
        body = self._upload(file, filename, backend, prompt, options, boxes, dpi, text_layer)
        return _read(self.http.post("/v1/jobs", **body), JobStatus)

    def job(self, job_id: str) -> JobStatus:
        return _read(self.http.get(f"/v1/jobs/{job_id}"), JobStatus)

    def jobs(self) -> list[JobStatus]:
        return _read(self.http.get("/v1/jobs"), _JOB_LIST)

    def job_result(self, job_id: str) -> OCRResponse | CompareResponse:
        return _read(self.http.get(f"/v1/jobs/{job_id}/result"), _ANY_RESULT)

    def job_result_as(self, job_id: str, fmt: str, backend: str | None = None) -> bytes:
        """An ended job's result written as `fmt`, of `backend` when the job ran several."""
        params = self._result_params(fmt, backend)
        return _content(self.http.get(f"/v1/jobs/{job_id}/result", params=params))

    def cancel_job(self, job_id: str) -> JobStatus | None:
        """`DELETE /v1/jobs/{id}`: a queued or running job is cancelled (its status comes back); an
        ended one is deleted with its upload and results (None comes back)."""
        answer = self.http.delete(f"/v1/jobs/{job_id}")
        return None if answer.status_code == 204 else _read(answer, JobStatus)

    def job_events(self, job_id: str) -> Iterator[JobEvent]:
        """Finished pages (and whole-file engines' progress) as they come, then the job's end; raises
        ShuttingDown when the gateway stops first (the job goes on once it is back: follow it again)."""
        with connect_sse(self.http, "GET", f"/v1/jobs/{job_id}/events", timeout=None) as source:
            if not source.response.is_success:  # a streamed error body: read it for its typed error
                source.response.read()
            _raise_for(source.response)
            for sse in source.iter_sse():
                if sse.event in JOB_EVENTS:
                    yield JobEvent.model_validate_json(sse.data)
                elif sse.event == "stopping":
                    raise _stopped(sse.data)

    def wait_job(
        self, job_id: str, on_event: Callable[[JobEvent], None] | None = None
    ) -> OCRResponse | CompareResponse:
        """Follow the job's events to its end and return its result."""
        for event in self.job_events(job_id):
            if on_event:
                on_event(event)
        return self.job_result(job_id)

    def backends(self) -> list[dict[str, Any]]:
        response = self.http.get("/v1/backends")
        _raise_for(response)
        return response.json()

    def health(self) -> dict[str, Any]:
        return self.http.get("/health").json()


class AsyncOCRGateClient(_Base):
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        timeout: float = 600,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout)
        self.http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncOCRGateClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def ocr(
        self,
        file: FileInput,
        backend: str | None = None,
        *,
        prompt: str | None = None,
        options: dict[str, Any] | None = None,
        boxes: str = "all",
        dpi: int | None = None,
        text_layer: str | None = None,
        filename: str | None = None,
    ) -> OCRResponse:
        body = self._upload(file, filename, backend, prompt, options, boxes, dpi, text_layer)
        return _read(await self.http.post("/v1/ocr", **body), OCRResponse)

    async def compare(
        self,
        file: FileInput,
        backends: list[str] | str = "all",
        *,
        prompt: str | None = None,
        options: dict[str, Any] | None = None,
        boxes: str = "all",
        dpi: int | None = None,
        text_layer: str | None = None,
        filename: str | None = None,
    ) -> CompareResponse:
        body = self._upload(file, filename, backends, prompt, options, boxes, dpi, text_layer)
        return _read(await self.http.post("/v1/ocr", **body), CompareResponse)

    async def ocr_as(
        self,
        file: FileInput,
        fmt: str,
        backend: str | None = None,
        *,
        prompt: str | None = None,
        options: dict[str, Any] | None = None,
        boxes: str = "none",
        dpi: int | None = None,
        text_layer: str | None = None,
        filename: str | None = None,
    ) -> bytes:
        body = self._upload(file, filename, backend, prompt, options, boxes, dpi, text_layer)
        body["data"]["format"] = fmt
        return _content(await self.http.post("/v1/ocr", **body))

    async def submit_job(
        self,
        file: FileInput,
        backend: str | list[str] | None = None,
        *,
        prompt: str | None = None,
        options: dict[str, Any] | None = None,
        boxes: str = "first",
        dpi: int | None = None,
        text_layer: str | None = None,
        filename: str | None = None,
    ) -> JobStatus:
        body = self._upload(file, filename, backend, prompt, options, boxes, dpi, text_layer)
        return _read(await self.http.post("/v1/jobs", **body), JobStatus)

    async def job(self, job_id: str) -> JobStatus:
        return _read(await self.http.get(f"/v1/jobs/{job_id}"), JobStatus)

    async def job_result(self, job_id: str) -> OCRResponse | CompareResponse:
        return _read(await self.http.get(f"/v1/jobs/{job_id}/result"), _ANY_RESULT)

    async def job_result_as(self, job_id: str, fmt: str, backend: str | None = None) -> bytes:
        params = self._result_params(fmt, backend)
        return _content(await self.http.get(f"/v1/jobs/{job_id}/result", params=params))

    async def cancel_job(self, job_id: str) -> JobStatus:
        return _read(await self.http.delete(f"/v1/jobs/{job_id}"), JobStatus)

    async def job_events(self, job_id: str) -> AsyncIterator[JobEvent]:
        async with aconnect_sse(self.http, "GET", f"/v1/jobs/{job_id}/events", timeout=None) as source:
            if not source.response.is_success:  # a streamed error body: read it for its typed error
                await source.response.aread()
            _raise_for(source.response)
            async for sse in source.aiter_sse():
                if sse.event in JOB_EVENTS:
                    yield JobEvent.model_validate_json(sse.data)
                elif sse.event == "stopping":
                    raise _stopped(sse.data)

    async def wait_job(
        self, job_id: str, on_event: Callable[[JobEvent], None] | None = None
    ) -> OCRResponse | CompareResponse:
        async for event in self.job_events(job_id):
            if on_event:
                on_event(event)
        return await self.job_result(job_id)
