"""The gateway's connections to workers: enough for every page the pools let in flight, and health
checks on connections of their own (a full page pool once made two busy GPU workers look dead:
`PoolTimeout` on /health, both marked down; bench/records/two_gpu.md)."""

from __future__ import annotations

import asyncio

from ocrgate.config import BackendConfig, Settings
from ocrgate.gateway.routing import Router, connection_limit


def test_the_page_pool_holds_every_page_in_flight_and_health_has_its_own() -> None:
    small = Settings(backends={"rapidocr": BackendConfig(port=5002)})
    assert connection_limit(small) == 512
    gpus = BackendConfig(port=5000, replicas=2, concurrency=256)
    remote = BackendConfig(urls=["http://a:1", "http://b:1", "http://c:1"], concurrency=100)
    settings = Settings(backends={"deepseek-ocr": gpus, "mineru": remote})
    assert connection_limit(settings) == 2 * 257 + 3 * 101 + 64

    async def build() -> None:
        router = Router(settings)
        try:
            await router.connections.open()
            assert router.connection_limit == connection_limit(settings)
            workers = router.pools["deepseek-ocr"].workers
            assert workers.connections is router.connections
            pages, control = router.connections.pages, router.connections.control
            assert control is not pages
            assert pages.connector is not None and pages.connector.limit == connection_limit(settings)
        finally:
            await router.close()

    asyncio.run(build())
