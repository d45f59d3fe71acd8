"""One backend's workers as a pool: admission, the replica a page goes to, retries on another one.

Admission is decided when a request arrives: a backend takes at most (concurrency + queue_size) pages
per healthy replica; past that an interactive request gets `Busy` (429 + Retry-After) instead of
waiting. Job pages wait for a slot instead, they are already accepted. A replica that refuses the
connection or times out is marked down and the page moves to another one. Request options are
checked against the JSON Schema the workers publish (`GET /v1/info`), so the gateway never imports a
backend's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import jsonschema

from ocrgate.config import BackendConfig
from ocrgate.documents import Document, PageImage
from ocrgate.errors import BackendUnavailable, Busy, InvalidOption, OCRGateError, Timeout
from ocrgate.gateway.forward import WorkerClient
from ocrgate.schema import PageResult
from ocrgate.wire import WorkerInfo

log = logging.getLogger("ocrgate.routing")
HEALTH_INTERVAL_S = 2.0
T = TypeVar("T")


def worker_urls(config: BackendConfig) -> list[str]:
    """Where a backend's workers listen: the configured URLs, or one local port per replica."""
    if config.urls:
        return [u.rstrip("/") for u in config.urls]
    if config.port is None:
        return []
    return [f"http://{config.host}:{config.port + i}" for i in range(config.replicas)]


class Replica:
    """One worker of a backend, as the last health check saw it."""

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


def _explained(error: jsonschema.ValidationError) -> str:
    """What is wrong with an option, in the words of the schema branch it came closest to: an optional
    number (`anyOf: [{number, bounds}, {null}]`) out of range says its bound ("5 is greater than the
    maximum of 1"), not jsonschema's "5 is not valid under any of the given schemas"."""
    if not error.context:
        return error.message
    bounds = [sub.message for sub in error.context if sub.validator != "type"]
    if bounds:
        return "; ".join(dict.fromkeys(bounds))
    types: list[str] = []
    for sub in error.context:
        value = sub.validator_value
        types += value if isinstance(value, list) else [value]
    return f"{error.instance!r} is not of type " + " or ".join(repr(t) for t in dict.fromkeys(types))


class BackendPool:
    """The replicas of one backend, what they said about themselves, and the pages waiting for them."""

    def __init__(self, name: str, config: BackendConfig, workers: WorkerClient) -> None:
        self.name = name
        self.config = config
        self.workers = workers
        self.replicas = [Replica(url, config.concurrency) for url in worker_urls(config)]
        self.info: WorkerInfo | None = None
        self._validator: jsonschema.protocols.Validator | None = None
        self._no_options_valid = False  # whether the schema takes `{}`, decided once per schema
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

    def reads_whole(self, media_type: str) -> bool:
        """Whether this backend takes the original upload of this type instead of page images."""
        return self.info is not None and media_type in self.info.file_types

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse options the backend's published schema refuses (InvalidOption, 422)."""
        if self.info is None or self._validator is None:
            raise BackendUnavailable(self._down_message() + " (no worker has described its options yet)")
        if not options and self._no_options_valid:  # most requests: the answer is known already
            return
        problems = sorted(self._validator.iter_errors(dict(options)), key=lambda e: list(e.absolute_path))
        if problems:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e.absolute_path) or 'options'}: {_explained(e)}"
                for e in problems[:5]
            )
            raise InvalidOption(f"invalid options for backend {self.name!r}: {detail}")

    def describe(self, info: WorkerInfo) -> None:
        """Take a worker's self-description (the newest one wins)."""
        if info.backend != self.name and self.info is None:
            log.info("backend %s is served by a worker calling itself %r", self.name, info.backend)
        if self.info is None or info.options_schema != self.info.options_schema:
            cls = jsonschema.validators.validator_for(info.options_schema)
            self._validator = cls(info.options_schema)
            self._no_options_valid = self._validator.is_valid({})
        self.info = info

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

    async def on_some_replica(
        self, call: Callable[[str], Awaitable[T]], retries: int, wait_for_worker_s: float, reserved: bool
    ) -> T:
        """`call(url)` on the least-loaded healthy replica; on timeout or a dead worker, on another one.

        `reserved`: the page's place was already held by `admitted` (requests); jobs' pages take one here.
        """
        tried: set[str] = set()
        last: OCRGateError | None = None
        with contextlib.nullcontext() if reserved else self.reserved():
            for _attempt in range(retries + 1):
                replica = await self._pick(tried, wait_for_worker_s)
                tried.add(replica.url)
                replica.load += 1
                try:
                    async with replica.slots:
                        return await call(replica.url)
                except (Timeout, BackendUnavailable) as exc:
                    last = exc
                    replica.mark_down(exc.message)
                finally:
                    replica.load -= 1
        assert last is not None
        raise last

    async def check_health(self) -> None:
        """Ask every replica how it is; learn the backend's self-description from the first that tells."""

        async def one(replica: Replica) -> None:
            try:
                status, replica.health = await self.workers.health(replica.url)
            except Exception as exc:  # unreachable, or not JSON: down, whatever the cause
                replica.mark_down(f"health check failed: {type(exc).__name__}")
                return
            if status != 200 or replica.health.get("status") != "healthy":
                replica.mark_down(replica.health.get("error") or replica.health.get("status", "unhealthy"))
                return
            if self.info is None or not replica.healthy:
                try:
                    self.describe(await self.workers.info(replica.url))
                except OCRGateError as exc:
                    replica.mark_down(exc.message)
                    return
            replica.healthy, replica.last_error = True, None

        await asyncio.gather(*(one(r) for r in self.replicas))
        self._changed.set()

    def recognizer(
        self,
        timeout_s: float,
        retries: int,
        wait_for_worker_s: float = 0.0,
        reserved: bool = False,
        options: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> RemoteRecognizer:
        """This pool as a recognizer of the one flow (`ocrgate.recognizer.Recognizer`); `options` are this
        backend's own request options, merged over the ones the flow gives every backend;
        `request_id` goes to the workers with every call (`X-Request-ID`), so their logs name it."""
        return RemoteRecognizer(
            self, timeout_s, retries, wait_for_worker_s, reserved, options or {}, request_id
        )


class RemoteRecognizer:
    """A backend's workers as a recognizer: pages and files go to some replica, with retries."""

    def __init__(
        self,
        pool: BackendPool,
        timeout_s: float,
        retries: int,
        wait_for_worker_s: float,
        reserved: bool,
        options: Mapping[str, Any],
        request_id: str | None = None,
    ) -> None:
        self.pool = pool
        self.request_id = request_id
        self.name = pool.name
        self.window = pool.window
        self.timeout_s, self.retries = timeout_s, retries
        self.wait_for_worker_s, self.reserved = wait_for_worker_s, reserved
        self.own_options = dict(options)

    def reads_whole(self, media_type: str) -> bool:
        return self.pool.reads_whole(media_type)

    async def page(self, page: PageImage, options: Mapping[str, Any], *, boxes: bool = False) -> PageResult:
        """The page read by some replica; `boxes`: that worker draws the boxes picture too."""
        options = {**options, **self.own_options}

        async def call(url: str) -> PageResult:
            return await self.pool.workers.page(
                url, page, options, self.timeout_s, boxes=boxes, request_id=self.request_id
            )

        return await self.pool.on_some_replica(call, self.retries, self.wait_for_worker_s, self.reserved)

    async def file(
        self,
        document: Document,
        options: Mapping[str, Any],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[PageResult]:
        options = {**options, **self.own_options}

        async def call(url: str) -> list[PageResult]:
            return await self.pool.workers.file(
                url, document, options, self.timeout_s, progress, request_id=self.request_id
            )

        return await self.pool.on_some_replica(call, self.retries, self.wait_for_worker_s, self.reserved)
