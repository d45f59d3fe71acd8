"""Forwarding: the HTTP calls the gateway makes to its workers, and what their answers mean.

A worker answers a page with a `PageResult`, a whole file with NDJSON `FileEvent` lines, errors with
`ErrorResponse`. Whatever it sends is read as those models; a malformed answer is the backend's
failure (`BackendError`), a refused connection or a timeout the worker's (`BackendUnavailable`,
`Timeout`), so the pool can try another replica.

The calls go out on aiohttp (`WorkerConnections`): a page costs the gateway about 0.25 ms of CPU
there against 0.8-1.0 ms through httpx (the same loopback worker, 2,000 calls one at a time, on the
build machine; `bench/overhead.py` measures the whole path).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import anyio
from pydantic import BaseModel, ValidationError

from ocrgate.documents import Document, PageImage
from ocrgate.errors import BackendError, BackendUnavailable, OCRGateError, Timeout, error_from_info
from ocrgate.http_errors import REQUEST_ID_HEADER
from ocrgate.schema import ErrorResponse, PageResult
from ocrgate.wire import SECRET_HEADER, FileEvent, WorkerInfo, page_body

M = TypeVar("M", bound=BaseModel)
#: an idle connection to a worker is dropped after this many seconds: under uvicorn's own keep-alive
#: (5 s by default), so the gateway never sends a page on a connection the worker is closing
KEEPALIVE_S = 4.0
#: connections for health checks and self-descriptions, apart from the pages'
CONTROL_CONNECTIONS = 64
CONTROL_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 10.0


class WorkerConnections:
    """The gateway's connection pools to its workers: pages and files on `limit` keep-alive
    connections, health checks and self-descriptions on `CONTROL_CONNECTIONS` of their own, so that
    a full page pool never makes a worker look dead. `open` and `close` run on the event loop that
    uses them (the app's lifespan)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pages: aiohttp.ClientSession | None = None
        self._control: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._pages is None:
            self._pages = self._session(self.limit)
            self._control = self._session(CONTROL_CONNECTIONS)

    @staticmethod
    def _session(limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, keepalive_timeout=KEEPALIVE_S)
        return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))

    @property
    def pages(self) -> aiohttp.ClientSession:
        if self._pages is None:
            raise RuntimeError("the worker connections are not open yet (WorkerConnections.open)")
        return self._pages

    @property
    def control(self) -> aiohttp.ClientSession:
        if self._control is None:
            raise RuntimeError("the worker connections are not open yet (WorkerConnections.open)")
        return self._control

    async def close(self) -> None:
        for session in (self._pages, self._control):
            if session is not None:
                await session.close()
        self._pages = self._control = None


class WorkerClient:
    """Calls to the workers of one backend (`name`) on `connections`, with the gateway's shared secret."""

    def __init__(self, name: str, connections: WorkerConnections, secret: str | None) -> None:
        self.name = name
        self.connections = connections
        self.secret = secret

    def _headers(self, content_type: str | None = None, request_id: str | None = None) -> dict[str, str]:
        headers = {"content-type": content_type} if content_type else {}
        if self.secret:
            headers[SECRET_HEADER] = self.secret
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        return headers

    async def health(self, url: str) -> tuple[int, dict[str, Any]]:
        """The worker's `/health` status code and JSON; `aiohttp.ClientError`, TimeoutError or
        ValueError when unreadable."""
        timeout = aiohttp.ClientTimeout(total=CONTROL_TIMEOUT_S)
        async with self.connections.control.get(f"{url}/health", timeout=timeout) as response:
            status, body = response.status, json.loads(await response.read())
        if not isinstance(body, dict):
            raise ValueError("the health answer is not a JSON object")
        return status, body

    async def info(self, url: str) -> WorkerInfo:
        """The worker's self-description (`GET /v1/info`); BackendError when it gives none."""
        timeout = aiohttp.ClientTimeout(total=CONTROL_TIMEOUT_S)
        try:
            async with self.connections.control.get(
                f"{url}/v1/info", headers=self._headers(), timeout=timeout
            ) as response:
                status, content = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendUnavailable(f"worker {url} unreachable: {type(exc).__name__}") from exc
        if status != 200:
            raise BackendError(f"worker {url} does not describe itself (GET /v1/info: {status})")
        return self._answer(url, WorkerInfo, content)

    async def page(
        self,
        url: str,
        page: PageImage,
        options: Mapping[str, Any],
        timeout_s: float,
        boxes: bool = False,
        request_id: str | None = None,
    ) -> PageResult:
        """One page to the worker at `url`: the upload's own bytes, or raw pixels packed in a thread
        (`wire.page_body`: 1.5 ms and 6 MB for an A4 page, off the event loop); `boxes`: the worker
        makes the preview for the boxes picture too (`PageResult.page_preview`). `timeout_s` bounds the
        whole call; `request_id` is sent as `X-Request-ID`, so the worker's log lines and errors carry it."""
        if page.encoded is not None:
            body, content_type, params = page_body(page)
        else:
            body, content_type, params = await anyio.to_thread.run_sync(page_body, page)
        if options:
            params["options"] = json.dumps(options)
        if boxes:
            params["boxes"] = "true"
        timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=CONNECT_TIMEOUT_S)
        try:
            async with self.connections.pages.post(
                f"{url}/v1/ocr",
                data=body,
                params=params,
                headers=self._headers(content_type, request_id),
                timeout=timeout,
            ) as response:
                status, content = response.status, await response.read()
        except TimeoutError as exc:
            raise Timeout(f"backend {self.name} took longer than {timeout_s:g} s on one page") from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(f"worker {url} unreachable: {type(exc).__name__}") from exc
        if status == 200:
            return self._answer(url, PageResult, content)
        raise self._error(url, status, content)

    async def file(
        self,
        url: str,
        document: Document,
        options: Mapping[str, Any],
        timeout_s: float,
        progress: Callable[[int, int], None] | None = None,
        request_id: str | None = None,
    ) -> list[PageResult]:
        """The original upload to the worker at `url`; `timeout_s` bounds each silence of its stream;
        `request_id` as for `page`."""
        params = {"name": document.name}
        if not document.auto_dpi:  # else the worker rasterises as ocrgate does by default (small pages up)
            params["dpi"] = str(document.dpi)
        if options:
            params["options"] = json.dumps(options)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=timeout_s)
        try:
            async with self.connections.pages.post(
                f"{url}/v1/ocr/file",
                data=document.data,
                params=params,
                headers=self._headers(document.media_type, request_id),
                timeout=timeout,
            ) as response:
                if response.status != 200:
                    raise self._error(url, response.status, await response.read())
                async for line in ndjson_lines(response.content):
                    if not line.strip():
                        continue
                    event = self._answer(url, FileEvent, line)
                    if event.error is not None:
                        raise self._typed(error_from_info(event.error))
                    if event.pages is not None:
                        return event.pages
                    if progress and event.done is not None and event.total is not None:
                        progress(event.done, event.total)
        except TimeoutError as exc:
            raise Timeout(f"backend {self.name} was silent for more than {timeout_s:g} s") from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(f"worker {url} unreachable: {type(exc).__name__}") from exc
        raise BackendUnavailable(f"worker {url} ended its answer without the pages")

    @staticmethod
    def _answer(url: str, model: type[M], content: bytes) -> M:
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


async def ndjson_lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The lines of a streamed NDJSON body as they complete, without their line feed, however long
    (a whole file's pages come as one line, often megabytes: aiohttp's own `readline` copies a long
    line once per chunk)."""
    pending = bytearray()
    async for chunk in stream.iter_any():
        searched = len(pending)
        pending += chunk
        while (end := pending.find(b"\n", searched)) >= 0:
            yield bytes(pending[:end])
            del pending[: end + 1]
            searched = 0
    if pending:
        yield bytes(pending)
