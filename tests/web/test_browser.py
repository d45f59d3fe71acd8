"""The web client in a real browser: Debian's chromium driven by Playwright against a real gateway
(fixtures: conftest.py). Reading one page, errors, jobs of a PDF, and engine text that must stay text.

Screenshots land in test-artifacts/web/ (the README's docs/*.png are some of them, scaled down).
"""

from __future__ import annotations

import io
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from tests.gateway.cluster import Cluster
from tests.gateway.test_gateway import pdf_of
from tests.pictures import read_picture
from tests.web.conftest import ARTIFACTS, CHROMIUM, HL, choose

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (Debian's chromium; `.ci/run` installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
sync_api.expect.set_options(timeout=60_000)


def test_page_is_served_with_local_assets_and_limits(page: sync_api.Page, cluster: Cluster) -> None:
    assert page.locator("h1").inner_text() == "ocrgate"
    sync_api.expect(page.locator("#limits")).to_contain_text("MiB per upload")
    sync_api.expect(page.locator("#backend-list")).to_contain_text("healthy")
    # every script and stylesheet comes from the gateway itself
    sources = page.eval_on_selector_all("script[src], link[href]", "els => els.map(e => e.src || e.href)")
    assert sources and all(s.startswith(cluster.url + "/static/") for s in sources)


def test_upload_a_page_shows_markdown_and_boxes(page: sync_api.Page, phototest: Path) -> None:
    choose(page, "rapidocr")
    page.set_input_files("#file", str(phototest))
    page.click("#submit")
    result = page.locator("#result .result")
    sync_api.expect(result.locator(".markdown")).to_contain_text("quick brown", ignore_case=True)
    boxes = result.locator("svg.boxes rect")
    assert boxes.count() >= 1
    assert result.locator("svg.boxes").get_attribute("viewBox") == "0 0 640 480"
    sync_api.expect(result.locator(".timings")).to_contain_text("total")
    page.screenshot(path=str(ARTIFACTS / "single.png"))

    # hovering a box highlights its text, and the other way round
    boxes.first.hover()
    sync_api.expect(result.locator('.block[data-block="0"]')).to_have_class(HL)
    page.screenshot(path=str(ARTIFACTS / "hover.png"))
    page.mouse.move(5, 5)
    sync_api.expect(result.locator('.block[data-block="0"]')).not_to_have_class(HL)
    result.locator('.block[data-block="0"]').hover()
    sync_api.expect(result.locator('rect[data-block="0"]')).to_have_class(HL)

    # the other tabs: raw engine output and JSON, reachable by keyboard
    tab = result.locator('[role="tab"][data-tab="markdown"]')
    tab.focus()
    page.keyboard.press("ArrowRight")
    raw = result.locator('[role="tab"][data-tab="raw"]')
    sync_api.expect(raw).to_have_attribute("aria-selected", "true")
    sync_api.expect(raw).to_be_focused()
    result.locator('[role="tab"][data-tab="json"]').click()
    panel = result.locator('[role="tabpanel"]:visible')
    assert json.loads(panel.inner_text())["width"] == 640


def test_a_sideways_scan_is_shown_upright_and_its_boxes_picture_downloads(
    page: sync_api.Page, phototest: Path, tmp_path: Path
) -> None:
    """A page read turned (`rotated: 90`) is shown as read, under its upright boxes, and the "Boxes
    picture" button saves the server's picture (fetching a data: URL is refused by the page's CSP)."""
    sideways = tmp_path / "sideways.png"
    Image.open(phototest).rotate(270, expand=True).save(sideways)  # the content lies turned 90 clockwise
    choose(page, "rapidocr")
    page.set_input_files("#file", str(sideways))
    page.click("#submit")
    result = page.locator("#result .result")
    sync_api.expect(result.locator(".flag")).to_contain_text("rotated: 90")
    assert result.locator("svg.boxes").get_attribute("viewBox") == "0 0 640 480"
    shown = result.locator("img.page-image").first
    sync_api.expect(shown).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shown.element_handle())
    size = shown.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size == [640, 480], size  # the upload turned upright, not the 480 x 640 file stretched
    page.screenshot(path=str(ARTIFACTS / "sideways.png"))
    with page.expect_download() as saved:
        result.get_by_role("button", name="Boxes picture").click()
    assert saved.value.suggested_filename.endswith(".boxes.svg")
    picture = read_picture(Path(saved.value.path()).read_text(encoding="utf-8"))
    assert picture.media_type == "image/jpeg" and (picture.width, picture.height) == (640, 480)  # as read


def shown_page(page: sync_api.Page) -> tuple[list[int], str, Image.Image]:
    """The result's page picture: its natural [width, height], its src, and how it looks on screen (the
    boxes drawn over it hidden), in grey."""
    result = page.locator("#result .result")
    shown = result.locator("img.page-image").first
    sync_api.expect(shown).to_have_attribute("src", re.compile(r"^(blob|data):"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shown.element_handle())
    size = shown.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    result.locator("svg.boxes").evaluate("svg => { svg.style.visibility = 'hidden'; }")
    look = Image.open(io.BytesIO(shown.screenshot())).convert("L")
    return size, shown.get_attribute("src") or "", look


@pytest.mark.parametrize(
    ("kind", "turned", "flags"),
    [("WEBP", 90, []), ("JPEG", 90, []), ("WEBP", 270, ["rotated: 180"]), ("JPEG", 270, ["rotated: 180"])],
)
def test_an_upload_turned_by_exif_is_shown_upright(
    page: sync_api.Page, phototest: Path, tmp_path: Path, kind: str, turned: int, flags: list[str]
) -> None:
    """A 480 x 640 file whose EXIF orientation 6 says "turn 90 clockwise" is read as a 640 x 480 page.
    Stored turned 90 counter-clockwise (PIL's rotate(90)) it is then upright; stored turned 90 clockwise
    (rotate(270)) it is upside down, and read turned (`rotated: 180`). Chromium applies the orientation
    to a JPEG, so the upload is shown (turned as read); not to a WebP, so the viewer shows the server's
    boxes picture instead of the sideways file under the upright boxes."""
    exif = Image.Exif()
    exif[0x0112] = 6
    upload = tmp_path / f"exif6.{kind.lower()}"
    sideways = Image.open(phototest).convert("RGB").rotate(turned, expand=True)
    sideways.save(upload, kind, exif=exif, quality=95)
    assert Image.open(upload).size == (480, 640)
    choose(page, "rapidocr")
    page.set_input_files("#file", str(upload))
    page.click("#submit")
    result = page.locator("#result .result")
    sync_api.expect(result.locator(".markdown")).to_contain_text("quick brown", ignore_case=True)
    assert result.locator("svg.boxes").get_attribute("viewBox") == "0 0 640 480"
    assert result.locator(".flag").all_inner_texts() == flags
    size, src, look = shown_page(page)
    look.save(ARTIFACTS / f"exif6-{turned}.{kind.lower()}.png")
    assert size == [640, 480], size
    assert src.startswith("blob:" if kind == "JPEG" else "data:image/svg+xml"), src[:40]
    upright = Image.open(phototest).convert("L").resize(look.size)
    difference = ImageStat.Stat(ImageChops.difference(look, upright)).mean[0]
    assert difference < 20, difference  # upright, whole (the WebP shown as it came differs by 40 or more)


def test_the_boxes_picture_shows_the_page_under_its_boxes(
    browser: Any, cluster: Cluster, phototest: Path
) -> None:
    """The server's boxes picture (an SVG over the upload) drawn by the browser at its own size: the
    page's pixels where it has no outline, each block's outline in its kind's colour."""
    answer = httpx.post(
        f"{cluster.url}/v1/ocr",
        files={"file": ("phototest.png", phototest.read_bytes(), "image/png")},
        data={"backend": "rapidocr", "boxes": "first"},
        timeout=300,
    )
    answer.raise_for_status()
    picture = answer.json()["pages"][0]["boxes_image"]
    tab = browser.new_page(viewport={"width": 640, "height": 480})
    try:
        source = "data:image/svg+xml;charset=utf-8," + urllib.parse.quote(picture)
        tab.set_content(f'<body style="margin:0"><img src="{source}"></body>')
        tab.wait_for_function("document.images[0].complete && document.images[0].naturalWidth === 640")
        shot = Image.open(io.BytesIO(tab.screenshot())).convert("RGB")
    finally:
        tab.close()
    shot.save(ARTIFACTS / "boxes-picture.png")
    upload = Image.open(phototest).convert("RGB")
    outlines = read_picture(picture).outlines
    assert len(outlines) >= 2
    for x0, y0, x1, y1, colour in outlines:
        wanted = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        edge = shot.getpixel((round((x0 + x1) / 2), round(y1)))  # the middle of its bottom edge
        assert max(abs(a - b) for a, b in zip(edge, wanted, strict=True)) <= 8, (edge, wanted)
        inside = (round(x0) + 4, round(y0) + 4, round(x1) - 4, round(y1) - 4)
        shown, page = shot.crop(inside).convert("L"), upload.crop(inside).convert("L")
        assert ImageStat.Stat(ImageChops.difference(shown, page)).mean[0] < 2  # the page, unscaled


def test_pdf_job_progress_pages_and_reload(page: sync_api.Page, phototest: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "three.pdf"
    pdf.write_bytes(pdf_of(Image.open(phototest).convert("RGB"), 3))
    page.evaluate(
        """() => {
        const bar = document.getElementById('job-progress');
        window.__progress = [];
        new MutationObserver(() => window.__progress.push([bar.value, bar.max]))
          .observe(bar, {attributes: true});
    }"""
    )
    choose(page, "rapidocr")
    page.set_input_files("#file", str(pdf))
    sync_api.expect(page.locator("#file-info")).to_contain_text("runs as a job")
    page.click("#submit")
    sync_api.expect(page.locator("#job")).to_be_visible()
    assert "job=" in page.url.split("#", 1)[1]
    sync_api.expect(page.locator("#job-status")).to_contain_text("completed — 3 / 3 pages", timeout=90_000)
    sync_api.expect(page.locator("#result .page-strip .strip-item.done")).to_have_count(3)
    values = page.evaluate("window.__progress")
    assert values[-1] == [3, 3]
    seen = [v for v, _ in values]
    assert seen == sorted(seen) and len(set(seen)) >= 3, f"progress did not move: {values}"
    detail = page.locator("#result .page-detail .page")
    sync_api.expect(detail.locator(".markdown")).to_contain_text("quick", ignore_case=True)
    sync_api.expect(detail.locator(".timings")).to_contain_text("total")  # the page's own timings
    page.locator('.strip-item[data-page="2"]').click()
    sync_api.expect(page.locator("#result .page-detail .page")).to_have_attribute("data-page", "2")
    assert "page=3" in page.url
    page.screenshot(path=str(ARTIFACTS / "job.png"))

    # coming back to the job's URL shows it again, at the same page
    page.reload()
    sync_api.expect(page.locator("#job-status")).to_contain_text("completed — 3 / 3 pages")
    sync_api.expect(page.locator("#result .page-strip .strip-item")).to_have_count(3)
    sync_api.expect(page.locator("#result .page-detail .page")).to_have_attribute("data-page", "2")
    sync_api.expect(page.locator("#job-cancel")).to_be_disabled()


def test_cancel_a_running_job(page: sync_api.Page, phototest: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "eight.pdf"
    pdf.write_bytes(pdf_of(Image.open(phototest).convert("RGB"), 8))
    choose(page, "rapidocr")
    page.set_input_files("#file", str(pdf))
    page.click("#submit")
    sync_api.expect(page.locator("#job-cancel")).to_be_enabled()
    page.click("#job-cancel")
    sync_api.expect(page.locator("#job-status")).to_contain_text("cancelled")
    sync_api.expect(page.locator("#job-cancel")).to_be_disabled()
    done = page.evaluate("document.getElementById('job-progress').value")
    assert done < 8


def test_unsupported_type_shows_a_clear_message(page: sync_api.Page) -> None:
    choose(page, "rapidocr")
    page.set_input_files(
        "#file", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"just some text, not an image\n"}
    )
    page.click("#submit")
    message = page.locator("#message")
    sync_api.expect(message).to_be_visible()
    sync_api.expect(message).to_have_attribute("data-code", "unsupported_type")
    sync_api.expect(message).to_contain_text("not supported")
    page.screenshot(path=str(ARTIFACTS / "error.png"))


def _answer(status: int, body: dict, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda route: route.fulfill(status=status, json=body, headers=headers)


def test_backend_down_and_busy_messages(page: sync_api.Page, phototest: Path) -> None:
    for status, code, headers in [(503, "backend_unavailable", {}), (429, "busy", {"Retry-After": "7"})]:
        body = {"success": False, "error": {"code": code, "message": "from the test"}}
        page.route("**/v1/ocr", _answer(status, body, headers))
        page.set_input_files("#file", str(phototest))
        page.click("#submit")
        sync_api.expect(page.locator("#message")).to_have_attribute("data-code", code)
        page.unroute("**/v1/ocr")
    sync_api.expect(page.locator("#message")).to_contain_text("Try again in 7 s")


EVIL = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1"> **bold**'


def test_markdown_with_script_and_onerror_does_not_execute(page: sync_api.Page, phototest: Path) -> None:
    crafted = {
        "success": True,
        "request_id": "x",
        "backend": "rapidocr",
        "image_name": "evil.png",
        "markdown": EVIL,
        "source_markdown": EVIL,
        "pages": [
            {
                "index": 0,
                "width": 640,
                "height": 480,
                "markdown": EVIL,
                "flags": [],
                "blocks": [
                    {"kind": "text", "text": EVIL, "bbox": [10, 10, 300, 60]},
                    {
                        "kind": "table",
                        "text": "| a | b |\n|---|---|\n| <script>window.__xss=1</script> | x |",
                        "html": '<table><tr><td onclick="window.__xss=1">cell'
                        '<img src=x onerror="window.__xss=1"></td></tr></table>'
                        "<script>window.__xss=1</script>",
                        "bbox": [10, 100, 300, 200],
                    },
                ],
            }
        ],
        "raw_result": {"rapidocr": [EVIL]},
        "processing_time": 0.1,
        "timings": {"total": 0.1},
    }
    page.route("**/v1/ocr", lambda route: route.fulfill(status=200, json=crafted))
    choose(page, "rapidocr")
    page.set_input_files("#file", str(phototest))
    page.click("#submit")
    markdown = page.locator("#result .markdown")
    sync_api.expect(markdown).to_contain_text("<script>window.__xss=1</script>")
    sync_api.expect(markdown.locator("strong")).to_have_text("bold")
    sync_api.expect(markdown.locator("td").first).to_contain_text("cell")
    page.locator('#result [role="tab"][data-tab="raw"]').click()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#result script").count() == 0
    assert page.locator("#result img[src='x']").count() == 0
    handlers = page.evaluate(
        """() => [...document.querySelectorAll('#result *')]
            .flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on'))"""
    )
    assert handlers == []
    page.screenshot(path=str(ARTIFACTS / "xss.png"))
