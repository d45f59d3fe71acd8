"""The web client against a gateway with `api_keys`, in a real browser: the key is asked for on the first
401, a wrong one is refused, the right one is kept for the tab and sent on every /v1 call (the job's event
stream and its downloads included), and the "API key" button forgets it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.gateway.cluster import Cluster
from tests.gateway.test_gateway import pdf_of
from tests.web.conftest import ARTIFACTS, BACKENDS, CHROMIUM

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (Debian's chromium; `.ci/run` installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect

KEY = "k3y-for-the-browser-test"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[Cluster]:
    running = Cluster(
        tmp_path_factory.mktemp("keyed"), {"tesseract": {}}, gateway={"api_keys": [KEY]}
    ).start()
    yield running
    assert running.stop() == []


@pytest.fixture
def tab(browser: Any, keyed: Cluster) -> Iterator[tuple[Any, list[tuple[str, str | None]]]]:
    """A fresh tab on the keyed gateway and the (url, X-API-Key) of every /v1 request it sends."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    errors: list[str] = []
    sent: list[tuple[str, str | None]] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "request", lambda r: sent.append((r.url, r.headers.get("x-api-key"))) if "/v1/" in r.url else None
    )
    yield page, sent
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def enter(page: Any, key: str) -> None:
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    page.fill("#key-input", key)
    dialog.get_by_role("button", name="Use this key").click()


def test_the_key_is_asked_for_kept_and_sent_everywhere(
    tab: tuple[Any, list[tuple[str, str | None]]], keyed: Cluster, phototest: Path, tmp_path: Path
) -> None:
    page, sent = tab
    page.goto(keyed.url + "/")
    expect(page.locator("#key-note")).to_contain_text("needs an API key")
    page.screenshot(path=str(ARTIFACTS / "api-key.png"))
    enter(page, "not-the-key")
    expect(page.locator("#key-note")).to_contain_text("refused")
    enter(page, KEY)
    expect(page.locator("#key-dialog")).to_be_hidden()
    expect(page.locator(BACKENDS)).to_have_count(1)
    expect(page.locator("#limits")).to_contain_text("MiB per upload")
    expect(page.locator("#key-button")).to_have_text("API key ✓")

    # a job: its event stream, page pictures and downloads carry the key
    pdf = tmp_path / "keyed.pdf"
    pdf.write_bytes(pdf_of(Image.open(phototest).convert("RGB"), 2))
    page.set_input_files("#file", str(pdf))
    page.click("#submit")
    expect(page.locator("#job-status")).to_contain_text("completed — 2 / 2 pages", timeout=90_000)
    expect(page.locator("#result .page-detail img.page-image").first).to_have_attribute(
        "src", re.compile("^blob:")
    )
    with page.expect_download() as saved:
        page.locator('#result .job-downloads button[data-format="md"]').click()
    assert saved.value.suggested_filename == "keyed.md"
    assert "quick" in Path(saved.value.path()).read_text().lower()
    paths = {re.sub(r"/v1/jobs/[^/?]+", "/v1/jobs/ID", url.split(keyed.url, 1)[1]) for url, _ in sent}
    assert {
        "/v1/jobs/ID/events",
        "/v1/jobs/ID/pages/0/image",
        "/v1/jobs/ID/result?format=md&backend=tesseract",
    } <= paths
    after = sent[[key for _, key in sent].index(KEY) :]
    assert all(key == KEY for _, key in after), [u for u, k in after if k != KEY]

    # kept for the tab: a reload asks nothing
    page.reload()
    expect(page.locator(BACKENDS)).to_have_count(1)
    expect(page.locator("#key-dialog")).to_be_hidden()
    expect(page.locator("#job-status")).to_contain_text("completed — 2 / 2 pages")

    # the button forgets it; the next call asks again
    page.click("#key-button")
    page.locator("#key-dialog").get_by_role("button", name="Forget the key").click()
    expect(page.locator("#key-button")).to_have_text("API key")
    assert page.evaluate("sessionStorage.length") == 0
    page.click("#refresh")
    expect(page.locator("#key-note")).to_contain_text("needs an API key")
    page.locator("#key-dialog").get_by_role("button", name="Cancel").click()
    expect(page.locator("#message")).to_have_attribute("data-code", "unauthorized")


def test_enter_in_the_key_field_uses_the_key(
    tab: tuple[Any, list[tuple[str, str | None]]], keyed: Cluster
) -> None:
    """Enter is the dialog's default action, "Use this key"; it neither forgets nor drops the key."""
    page, _ = tab
    page.goto(keyed.url + "/")
    expect(page.locator("#key-note")).to_contain_text("needs an API key")
    page.fill("#key-input", KEY)
    page.press("#key-input", "Enter")
    expect(page.locator("#key-dialog")).to_be_hidden()
    expect(page.locator(BACKENDS)).to_have_count(1)
    expect(page.locator("#key-button")).to_have_text("API key ✓")
    assert page.evaluate("sessionStorage.getItem('ocrgate.api-key')") == KEY
    expect(page.locator("#message")).not_to_contain_text("Could not list the backends")

    # opened again from the button: Enter keeps the key shown, Forget still forgets on its own click
    page.click("#key-button")
    expect(page.locator("#key-input")).to_have_value(KEY)
    page.press("#key-input", "Enter")
    expect(page.locator("#key-dialog")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('ocrgate.api-key')") == KEY
    page.click("#key-button")
    page.locator("#key-dialog").get_by_role("button", name="Forget the key").click()
    expect(page.locator("#key-button")).to_have_text("API key")
    assert page.evaluate("sessionStorage.length") == 0
