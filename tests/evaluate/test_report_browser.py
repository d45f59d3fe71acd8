"""The eval report in a real browser (Debian's chromium via Playwright): self-contained, and a page
link of the head-to-head opens that page's diff.

Without /usr/bin/chromium these tests skip. The screenshot lands in test-artifacts/eval/ (the README's
docs/eval-report*.png were taken the same way from `ocrgate eval --backends rapidocr,tesseract
--limit 12` on ../shared/eval).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.evaluate.conftest import ReportRun
from tests.gateway.cluster import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "eval"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (Debian's chromium; `.ci/run` installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield launched
        launched.close()


def test_report_is_self_contained_and_links_pages_to_their_diff(
    browser: sync_api.Browser, report_run: ReportRun
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    fetched: list[str] = []

    def route(request: sync_api.Route) -> None:
        fetched.append(request.request.url)
        request.abort()

    context.route("http*://**/*", route)  # nothing may come from the network
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((report_run.out / "report.html").as_uri())
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.src.slice(0, 22), e.naturalWidth])")
    assert images and all(src.startswith("data:image/") and width > 0 for src, width in images)
    details = page.locator("details#p-docling_multi_page_p3")
    assert not details.evaluate("e => e.open")
    page.locator('table.h2h a[href="#p-docling_multi_page_p3"]').click()
    sync_api.expect(details.locator(".diff").first).to_be_visible()  # the link opened the page's diff
    assert "pdf (text layer)" in details.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    context.close()
    assert fetched == [] and errors == []
