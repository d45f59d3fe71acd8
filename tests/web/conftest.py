"""The browser tests' shared pieces: one real gateway (rapidocr + tesseract) for the whole session, Debian's
chromium driven by Playwright, and a fresh tab per test that fails the test on any uncaught page error.

The project never downloads a browser of its own: without /usr/bin/chromium the browser tests skip.
Screenshots land in test-artifacts/web/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.cluster import REPO, Cluster

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "web"
HL = re.compile(r"\bhl\b")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BACKENDS = '#backend-list input[name="backend"]'


def sync_api() -> Any:
    """playwright.sync_api, or a skip where chromium or playwright is missing."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (Debian's chromium; `.ci/run` installs it)")
    api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    api.expect.set_options(timeout=60_000)
    return api


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("web"), {"rapidocr": {}, "tesseract": {}}).start()
    yield running
    assert running.stop() == []


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    api = sync_api()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, cluster: Cluster) -> Iterator[Any]:
    api = sync_api()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(60_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(cluster.url + "/")
    api.expect(tab.locator(BACKENDS)).to_have_count(2)
    yield tab
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def choose(page: Any, *backends: str) -> None:
    """Tick exactly these backends."""
    for box in page.locator(BACKENDS).all():
        box.set_checked(box.get_attribute("value") in backends)
