"""Forwarding: the HTTP calls the gateway makes to one worker, and what their answers mean.

A worker answers a page with a `PageResult`, a whole file with NDJSON `FileEvent` lines, errors with
`ErrorResponse`. Whatever it sends is read as those models; a malformed answer is the backend's
failure (`BackendError`), a refused connection or a timeout the worker's (`BackendUnavailable`,
`Timeout`), so the pool can try another replica.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from ocrgate.documents import Document, PageImage
from ocrgate.errors import BackendError, BackendUnavailable, OCRGateError, Timeout, error_from_info
from ocrgate.schema import ErrorResponse, PageResult
from ocrgate.wire import SECRET_HEADER, FileEvent, WorkerInfo, page_body

M = TypeVar("M", bound=BaseModel)
_RETRYABLE = (httpx.TransportError,)


class WorkerClient:
    """Calls to the workers of one backend (`name`), with the gateway's shared secret."""

    def __init__(
        self,
        name: str,
        client: httpx.AsyncClient,
        secret: str | None,
        control: httpx.AsyncClient | None = None,
    ) -> None:
        """`client` carries pages and files; `control` (default: the same) health checks and
        self-descriptions, so that a full page pool never makes a worker look dead."""
        self.name = name
        self.client = client
        self.control = control or client
        self.secret = secret

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"content-type": content_type} if content_type else {}
        if self.secret:
            headers[SECRET_HEADER] = self.secret
        return headers

    async def health(self, url: str) -> tuple[int, dict[str, Any]]:
        """The worker's `/health` status code and JSON; `httpx.HTTPError` or ValueError when unreadable."""
        response = await self.control.get(f"{url}/health", timeout=5)
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError("the health answer is not a JSON object")
        return response.status_code, body

    async def info(self, url: str) -> WorkerInfo:
        """The worker's self-description (`GET /v1/info`); BackendError when it gives none."""
        try:
            response = await self.control.get(f"{url}/v1/info", headers=self._headers(), timeout=5)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"worker {url} unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise BackendError(
                f"worker {url} does not describe itself (GET /v1/info: {response.status_code})"
            )
        return self._answer(url, WorkerInfo, response.content)

    async def page(
        self, url: str, page: PageImage, options: Mapping[str, Any], timeout_s: float, boxes: bool = False
    ) -> PageResult:
        """One page to the worker at `url`: the upload's own bytes, or raw pixels packed in a thread
        (`wire.page_body`: 1.5 ms and 6 MB for an A4 page, off the event loop); `boxes`: the worker
        draws the boxes picture too (`PageResult.boxes_image`)."""
        if page.encoded is not None:
            body, content_type, params = page_body(page)
        else:
            body, content_type, params = await anyio.to_thread.run_sync(page_body, page)
        if options:
            params["options"] = json.dumps(options)
        if boxes:
            params["boxes"] = "true"
        try:
            response = await self.client.post(
                f"{url}/v1/ocr",
                content=body,
                params=params,
                headers=self._headers(content_type),
                timeout=timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise Timeout(f"backend {self.name} took longer than {timeout_s:g} s on one page") from exc
        except _RETRYABLE as exc:
            raise BackendUnavailable(f"worker {url} unreachable: {type(exc).__name__}") from exc
        if response.status_code == 200:
            return self._answer(url, PageResult, response.content)
        raise self._error(url, response.status_code, response.content)

    async def file(
        self,
        url: str,
        document: Document,
        options: Mapping[str, Any],
        timeout_s: float,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[PageResult]:
        """The original upload to the worker at `url`; `timeout_s` bounds each silence of its stream."""
        params = {"name": document.name, "dpi": str(document.dpi)}
        if options:
            params["options"] = json.dumps(options)
        try:
            async with self.client.stream(
                "POST",
                f"{url}/v1/ocr/file",
                content=document.data,
                params=params,
                headers=self._headers(document.media_type),
                timeout=httpx.Timeout(timeout_s, connect=10.0),
            ) as response:
                if response.status_code != 200:
                    raise self._error(url, response.status_code, await response.aread())
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = self._answer(url, FileEvent, line)
                    if event.error is not None:
                        raise self._typed(error_from_info(event.error))
                    if event.pages is not None:
                        return event.pages
                    if progress and event.done is not None and event.total is not None:
                        progress(event.done, event.total)
        except httpx.TimeoutException as exc:
            raise Timeout(f"backend {self.name} was silent for more than {timeout_s:g} s") from exc
        except _RETRYABLE as exc:
            raise BackendUnavailable(f"worker {url} unreachable: {type(exc).__name__}") from exc
        raise BackendUnavailable(f"worker {url} ended its answer without the pages")

    @staticmethod
    def _answer(url: str, model: type[M], content: bytes | str) -> M:
        """A worker's answer read as `model`; a malformed one is the backend's failure, not ours."""
        try:
            return model.model_validate_json(content)
        except ValidationError as exc:
            raise BackendError(f"worker {url} sent a malformed answer: {exc.errors()[0]['msg']}") from exc

    def _error(self, url: str, status: int, content: bytes) -> OCRGateError:
        try:
            error = error_from_info(ErrorResponse.model_validate_json(content).error)
        except ValueError:
            error = BackendError(f"worker {url} answered HTTP {status}")
        return self._typed(error)

    def _typed(self, error: OCRGateError) -> OCRGateError:
        """BackendUnavailable stays (another replica may do better); an untyped 5xx is the engine's."""
        if type(error) is OCRGateError:
            return BackendError(f"backend {self.name} failed: {error.message}")
        return error
