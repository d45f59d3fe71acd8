"""Which backends a request names, and the pools that serve them, kept healthy by a watch loop.

The gateway knows backends only by name and by what their workers say about themselves (`GET
/health`, `GET /v1/info`): it never imports a backend's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ocrgate.backends import registry
from ocrgate.config import Settings
from ocrgate.errors import BackendUnavailable, InvalidOption, UnknownBackend
from ocrgate.gateway.forward import WorkerClient, WorkerConnections
from ocrgate.gateway.pool import HEALTH_INTERVAL_S, BackendPool

log = logging.getLogger("ocrgate.routing")


def connection_limit(settings: Settings) -> int:
    """Connections the gateway may hold to workers: every page the pools let in flight at once (a
    replica's `concurrency` + 1), and room to spare; at least 512."""
    pages = sum(
        (len(config.urls) or config.replicas) * (config.concurrency + 1)
        for config in settings.backends.values()
        if config.enabled
    )
    return max(512, pages + 64)


class Router:
    """Every configured backend's pool, and the loop that keeps their health current."""

    def __init__(self, settings: Settings) -> None:
        self.connection_limit = connection_limit(settings)
        # pages on `connection_limit` connections; health and self-descriptions on their own, never
        # queued behind pages
        self.connections = WorkerConnections(self.connection_limit)
        secret = settings.gateway.worker_secret
        self.pools = {
            name: BackendPool(name, config, WorkerClient(name, self.connections, secret))
            for name, config in settings.backends.items()
            if config.enabled
        }
        self._task: asyncio.Task[None] | None = None

    def pool(self, name: str) -> BackendPool:
        if name not in self.pools:
            if name not in registry.names():
                served = ", ".join(sorted(self.pools)) or "none"
                raise UnknownBackend(f"unknown backend {name!r}; this gateway serves: {served}")
            raise BackendUnavailable(f"backend {name!r} is not configured on this gateway")
        return self.pools[name]

    def parse(self, value: str | None, default: str) -> list[str]:
        """`rapidocr`, `rapidocr,tesseract` or `all` (every configured backend) -> checked names."""
        text = (value or default).strip()
        names = list(self.pools) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            raise InvalidOption("no backend named; give one name, a comma list, or `all`")
        for name in names:
            self.pool(name)
        return list(dict.fromkeys(names))

    async def start(self) -> None:
        await self.connections.open()
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
        await self.connections.close()
