"""`/docs` works without network: Debian's chromium, driven by Playwright, loads the gateway's Swagger UI
with every request to anywhere but the gateway blocked, lists the API's operations, and the page breaks
none of its Content-Security-Policy. Without /usr/bin/chromium (or playwright) these tests skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import noop_cluster
from tests.web.conftest import ARTIFACTS, sync_api


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = noop_cluster(tmp_path_factory.mktemp("docs"))
    yield running
    assert running.stop() == []


def test_docs_load_offline_and_list_the_operations(cluster: Cluster, browser: Any) -> None:
    """The session's browser (one Playwright per session: a second would meet the first's event loop)."""
    api = sync_api()
    blocked: list[str] = []
    console: list[str] = []
    requested: list[str] = []

    def only_the_gateway(route: Any) -> None:
        url = route.request.url
        requested.append(url)
        if url.startswith(cluster.url + "/") or url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        context.set_default_timeout(60_000)
        context.route("**/*", only_the_gateway)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.goto(cluster.url + "/docs")
        operations = page.locator(".opblock-summary-path")
        api.expect(operations.first).to_be_visible()
        paths = set(operations.all_inner_texts())
        page.locator(".opblock-summary", has_text="/v1/ocr").first.click()  # open one: its form
        page.locator(".try-out__btn").first.click()
        api.expect(page.locator("input[type=file]").first).to_be_attached()
        api.expect(page.locator(".execute").first).to_be_visible()
        page.locator(".opblock-summary", has_text="/health").first.click()
        api.expect(page.locator(".opblock-body .highlight-code").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "docs_offline.png"), full_page=False)
    finally:
        context.close()
    assert {"/v1/ocr", "/v1/jobs", "/v1/jobs/{job_id}/events", "/health"} <= {
        p.replace("\u200b", "") for p in paths
    }, paths
    assert blocked == [], f"the docs page asked for resources elsewhere: {blocked}"
    assert errors == [], errors
    assert not [m for m in console if "Content Security Policy" in m], console
    assert any(url.endswith("/docs/static/swagger-ui-bundle.js") for url in requested), requested


def test_docs_assets_come_from_the_gateway_with_a_strict_policy(cluster: Cluster) -> None:
    page = httpx.get(f"{cluster.url}/docs", timeout=10)
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        answer = httpx.get(f"{cluster.url}/docs/static/{asset}", timeout=10)
        assert answer.status_code == 200 and len(answer.content) > 100_000
    assert httpx.get(f"{cluster.url}/redoc", timeout=10).status_code == 404  # dropped: it needs a CDN
    assert Path(ARTIFACTS).is_dir()
