"""The web client on its own port: `ocrgate web` serves it, the gateway allows its origin (CORS)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.cluster import REPO, Cluster, free_ports


@pytest.fixture(scope="module")
def web_and_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Cluster]]:
    port = free_ports(1)
    origin = f"http://127.0.0.1:{port}"
    cluster = Cluster(tmp_path_factory.mktemp("cors"), {"tesseract": {}}, gateway={"cors_origins": [origin]})
    cluster.start()
    web = subprocess.Popen(
        [sys.executable, "-m", "ocrgate", "web", "--port", str(port), "--api", cluster.url], cwd=REPO
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(origin, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield origin, cluster
    finally:
        web.terminate()
        web.wait(10)
        cluster.stop()


def test_standalone_client_points_at_the_gateway(web_and_gateway: tuple[str, Cluster]) -> None:
    origin, cluster = web_and_gateway
    index = httpx.get(origin)
    assert f'<meta name="ocrgate-api" content="{cluster.url}">' in index.text
    assert f"connect-src 'self' {cluster.url}" in index.headers["content-security-policy"]
    assert httpx.get(f"{origin}/static/app.js").status_code == 200
    icon = httpx.get(f"{origin}/favicon.ico")  # browsers ask for it on every page load
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_gateway_allows_that_origin_and_only_it(
    web_and_gateway: tuple[str, Cluster], phototest: Path
) -> None:
    origin, cluster = web_and_gateway
    allowed = httpx.get(f"{cluster.url}/v1/backends", headers={"Origin": origin})
    assert allowed.headers["access-control-allow-origin"] == origin
    other = httpx.get(f"{cluster.url}/v1/backends", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
