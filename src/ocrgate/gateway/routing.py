"""Sending pages to workers: one pool per backend, bounded queues, timeouts, retry on another replica.

Admission is decided when a request arrives: a backend takes at most (concurrency + queue_size) pages
per healthy replica; past that an interactive request gets `Busy` (429 + Retry-After) instead of
waiting. Job pages wait for a slot instead, they are already accepted. A replica that refuses the
connection or times out is marked down and the page moves to another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from ocrgate.config import BackendConfig, Settings
from ocrgate.documents import Document, PageImage
from ocrgate.errors import BackendError, BackendUnavailable, Busy, OCRGateError, Timeout, error_from_info
from ocrgate.schema import ErrorResponse, PageResult
from ocrgate.wire import RAW_RGB, SECRET_HEADER, FileEvent, encode_page

log = logging.getLogger("ocrgate.routing")
HEALTH_INTERVAL_S = 2.0
_RETRYABLE = (httpx.TransportError,)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def worker_urls(config: BackendConfig) -> list[str]:
    """Where a backend's workers listen: the configured URLs, or one local port per replica."""
    if config.urls:
        return [u.rstrip("/") for u in config.urls]
    if config.port is None:
        return []
    return [f"http://{config.host}:{config.port + i}" for i in range(config.replicas)]


class Replica:
    def __init__(self, url: str, concurrency: int) -> None:
        self.url = url
        # one page more than the worker runs at once: the next page is on the wire while the engine
        # works (the worker decodes it, then waits for its own slot), so the engine never idles
        self.slots = asyncio.Semaphore(concurrency + 1)
        self.load = 0
        self.healthy = False
        self.health: dict[str, Any] | None = None
        self.last_error: str | None = None

    def mark_down(self, reason: str) -> None:
        if self.healthy:
            log.warning("worker %s marked down: %s", self.url, reason)
        self.healthy = False
        self.last_error = reason


class BackendPool:
    """The replicas of one backend and the pages waiting for them."""

    def __init__(
        self, name: str, config: BackendConfig, client: httpx.AsyncClient, secret: str | None
    ) -> None:
        self.name = name
        self.config = config
        self.client = client
        self.secret = secret
        self.replicas = [Replica(url, config.concurrency) for url in worker_urls(config)]
        self.pending = 0
        self._changed = asyncio.Event()

    @property
    def healthy(self) -> list[Replica]:
        return [r for r in self.replicas if r.healthy]

    @property
    def window(self) -> int:
        """Pages one request keeps in flight: one per free slot across the healthy replicas."""
        return max(1, len(self.healthy) * self.config.concurrency)

    @property
    def capacity(self) -> int:
        return len(self.healthy) * (self.config.concurrency + self.config.queue_size)

    def admit(self, pages: int) -> None:
        """Refuse at once when `pages` more would overflow the backend's queue."""
        if not self.healthy:
            raise BackendUnavailable(self._down_message())
        if self.pending + pages > self.capacity:
            raise Busy(
                f"backend {self.name} is busy ({self.pending} pages queued, capacity {self.capacity}); "
                "retry later or submit a job",
                retry_after=max(1, round(self.pending / max(1, len(self.healthy)))),
            )

    def _down_message(self) -> str:
        if not self.replicas:
            return f"backend {self.name} has no workers configured"
        reasons = sorted({r.last_error for r in self.replicas if r.last_error})
        detail = f": {'; '.join(reasons)}" if reasons else ""
        return f"backend {self.name} has no healthy worker{detail}"

    @contextlib.contextmanager
    def reserved(self, pages: int = 1) -> Iterator[None]:
        """Count `pages` as waiting for this backend until the block ends."""
        self.pending += pages
        try:
            yield
        finally:
            self.pending -= pages

    @contextlib.contextmanager
    def admitted(self, pages: int) -> Iterator[None]:
        """`admit`, and hold the place at once: no other request can take it before these pages run."""
        self.admit(pages)
        with self.reserved(pages):
            yield

    async def _pick(self, tried: set[str], wait_s: float) -> Replica:
        """The healthy replica with the least load that this page has not tried yet."""
        deadline = time.monotonic() + wait_s
        while True:
            candidates = [r for r in self.healthy if r.url not in tried] or (
                self.healthy if len(tried) >= len(self.replicas) else []
            )
            if candidates:
                return min(candidates, key=lambda r: r.load)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendUnavailable(self._down_message())
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, HEALTH_INTERVAL_S))

    def reads_files(self, media_type: str) -> bool:
        """Whether this backend takes the original upload of this type instead of page images."""
        from ocrgate.backends import registry

        return media_type in registry.get(self.name).file_types

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"content-type": content_type}
        if self.secret:
            headers[SECRET_HEADER] = self.secret
        return headers

    async def _on_some_replica(
        self, call: Callable[[Replica], Awaitable[T]], retries: int, wait_for_worker_s: float, reserved: bool
    ) -> T:
        """`call` on the least-loaded healthy replica; on timeout or a dead worker, on another one."""
        tried: set[str] = set()
        last: OCRGateError | None = None
        with contextlib.nullcontext() if reserved else self.reserved():
            for _attempt in range(retries + 1):
                replica = await self._pick(tried, wait_for_worker_s)
                tried.add(replica.url)
                replica.load += 1
                try:
                    async with replica.slots:
                        return await call(replica)
                except (Timeout, BackendUnavailable) as exc:
                    last = exc
                    replica.mark_down(exc.message)
                finally:
                    replica.load -= 1
        assert last is not None
        raise last

    async def run_page(
        self,
        page: PageImage,
        options: dict[str, Any],
        timeout_s: float,
        retries: int,
        wait_for_worker_s: float = 0,
        reserved: bool = False,
    ) -> PageResult:
        """Recognise one page on some replica; moves to another replica on transport errors.

        `reserved`: the page's place was already held by `admitted` (requests); jobs' pages take one here.
        """
        body, params = encode_page(page)
        if options:
            params["options"] = json.dumps(options)
        headers = self._headers(RAW_RGB)

        async def call(replica: Replica) -> PageResult:
            try:
                response = await self.client.post(
                    f"{replica.url}/v1/ocr", content=body, params=params, headers=headers, timeout=timeout_s
                )
            except httpx.TimeoutException as exc:
                raise Timeout(f"backend {self.name} took longer than {timeout_s:g} s on one page") from exc
            except _RETRYABLE as exc:
                raise BackendUnavailable(f"worker {replica.url} unreachable: {type(exc).__name__}") from exc
            if response.status_code == 200:
                return self._answer(replica, PageResult, response.content)
            raise self._error(replica, response.status_code, response.content)

        return await self._on_some_replica(call, retries, wait_for_worker_s, reserved)

    async def run_file(
        self,
        document: Document,
        options: dict[str, Any],
        timeout_s: float,
        retries: int,
        progress: Callable[[int, int], None] | None = None,
        wait_for_worker_s: float = 0,
        reserved: bool = False,
    ) -> list[PageResult]:
        """The original upload to a backend that reads files; `timeout_s` bounds each silence."""
        params = {"name": document.name, "dpi": str(document.dpi)}
        if options:
            params["options"] = json.dumps(options)
        headers = self._headers(document.media_type)
        url_timeout = httpx.Timeout(timeout_s, connect=10.0)

        async def call(replica: Replica) -> list[PageResult]:
            try:
                async with self.client.stream(
                    "POST",
                    f"{replica.url}/v1/ocr/file",
                    content=document.data,
                    params=params,
                    headers=headers,
                    timeout=url_timeout,
                ) as response:
                    if response.status_code != 200:
                        raise self._error(replica, response.status_code, await response.aread())
                    async for line in response.aiter_lines():
                        if not line.strip():
                            continue
                        event = self._answer(replica, FileEvent, line)
                        if event.error is not None:
                            raise self._typed(error_from_info(event.error))
                        if event.pages is not None:
                            return event.pages
                        if progress and event.done is not None and event.total is not None:
                            progress(event.done, event.total)
            except httpx.TimeoutException as exc:
                raise Timeout(f"backend {self.name} was silent for more than {timeout_s:g} s") from exc
            except _RETRYABLE as exc:
                raise BackendUnavailable(f"worker {replica.url} unreachable: {type(exc).__name__}") from exc
            raise BackendUnavailable(f"worker {replica.url} ended its answer without the pages")

        return await self._on_some_replica(call, retries, wait_for_worker_s, reserved)

    def _answer(self, replica: Replica, model: type[M], content: bytes | str) -> M:
        """A worker's answer read as `model`; a malformed one is the backend's failure, not ours."""
        try:
            return model.model_validate_json(content)
        except ValidationError as exc:
            raise BackendError(
                f"worker {replica.url} sent a malformed answer: {exc.errors()[0]['msg']}"
            ) from exc

    def _error(self, replica: Replica, status: int, content: bytes) -> OCRGateError:
        try:
            error = error_from_info(ErrorResponse.model_validate_json(content).error)
        except ValueError:
            error = BackendError(f"worker {replica.url} answered HTTP {status}")
        return self._typed(error)

    def _typed(self, error: OCRGateError) -> OCRGateError:
        """BackendUnavailable stays (another replica may do better); an untyped 5xx is the engine's."""
        if type(error) is OCRGateError:
            return BackendError(f"backend {self.name} failed: {error.message}")
        return error

    async def check_health(self) -> None:
        async def one(replica: Replica) -> None:
            try:
                response = await self.client.get(f"{replica.url}/health", timeout=5)
                replica.health = response.json()
                ok = response.status_code == 200 and replica.health.get("status") == "healthy"
                if ok:
                    replica.healthy, replica.last_error = True, None
                else:
                    replica.mark_down(
                        replica.health.get("error") or replica.health.get("status", "unhealthy")
                    )
            except (httpx.HTTPError, ValueError) as exc:
                replica.mark_down(f"health check failed: {type(exc).__name__}")

        await asyncio.gather(*(one(r) for r in self.replicas))
        self._changed.set()


class Router:
    """Every configured backend's pool, and the loop that keeps their health current."""

    def __init__(self, settings: Settings) -> None:
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=128)
        self.client = httpx.AsyncClient(limits=limits, timeout=settings.limits.page_timeout_s)
        secret = settings.gateway.worker_secret
        self.pools = {
            name: BackendPool(name, config, self.client, secret)
            for name, config in settings.backends.items()
            if config.enabled
        }
        self._task: asyncio.Task[None] | None = None

    def pool(self, name: str) -> BackendPool:
        from ocrgate.backends import registry

        if name not in self.pools:
            registry.get(name)  # UnknownBackend for names nobody knows
            raise BackendUnavailable(f"backend {name!r} is not configured on this gateway")
        return self.pools[name]

    async def start(self) -> None:
        await self.check_all()
        self._task = asyncio.create_task(self._watch())

    async def check_all(self) -> None:
        await asyncio.gather(*(p.check_health() for p in self.pools.values()))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            try:
                await self.check_all()
            except Exception:  # the watcher must outlive any one bad answer
                log.exception("health check round failed")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()
