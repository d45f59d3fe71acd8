"""A job in the web client, in a real browser against a real gateway (fixtures: conftest.py): its result
downloaded in every format the job result endpoint serves, each page's own timings, the recent jobs after a
cancel, a long file name on a narrow screen, keyboard focus after *Recognise*, and the page's icon.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pypdfium2
import pytest
from PIL import Image

from tests.gateway.cluster import Cluster
from tests.gateway.test_gateway import pdf_of
from tests.web.conftest import ARTIFACTS, CHROMIUM, choose

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (Debian's chromium; `.ci/run` installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect

DONE = "#job-status"


def run_job(page: sync_api.Page, pdf: Path, pages: int, *backends: str) -> str:
    """Upload `pdf` as a job of `backends`, wait until it completed; its id."""
    choose(page, *backends)
    page.set_input_files("#file", str(pdf))
    page.click("#submit")
    expect(page.locator(DONE)).to_contain_text(f"completed — {pages} / {pages} pages", timeout=120_000)
    return re.search(r"job=([^&]+)", page.url).group(1)  # type: ignore[union-attr]


def pdf_file(tmp_path: Path, phototest: Path, pages: int, name: str = "scan.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(pdf_of(Image.open(phototest).convert("RGB"), pages))
    return path


def page_timings(cluster: Cluster, job_id: str) -> dict[tuple[str, int], float]:
    """Each page's own total seconds, by (backend, page), from the job's event stream."""
    return {(e["backend"], e["index"]): e["timings"]["total"] for e in cluster.page_events(job_id)}


def test_a_finished_job_downloads_in_every_format(
    page: sync_api.Page, phototest: Path, tmp_path: Path
) -> None:
    run_job(page, pdf_file(tmp_path, phototest, 2), 2, "rapidocr")
    downloads = page.locator("#result .job-downloads")
    expected = {
        "md": "scan.md",
        "txt": "scan.txt",
        "json": "scan.json",
        "alto": "scan.alto.xml",
        "hocr": "scan.hocr",
        "pdf": "scan.ocr.pdf",
    }
    files: dict[str, bytes] = {}
    for fmt, name in expected.items():
        button = downloads.locator(f'button[data-format="{fmt}"]')
        expect(button).to_be_enabled()
        with page.expect_download() as saved:
            button.click()
        assert saved.value.suggested_filename == name
        files[fmt] = Path(saved.value.path()).read_bytes()
    assert "quick" in files["md"].decode().lower() and "quick" in files["txt"].decode().lower()
    result = json.loads(files["json"])
    assert result["backend"] == "rapidocr" and len(result["pages"]) == 2
    alto = ET.fromstring(files["alto"])
    assert len([e for e in alto.iter() if e.tag.endswith("}String")]) >= 10
    assert b"ocrx_word" in files["hocr"]
    pdf = pypdfium2.PdfDocument(files["pdf"])
    try:
        assert len(pdf) == 2 and "quick" in pdf[0].get_textpage().get_text_range().lower()
    finally:
        pdf.close()

    # the shown page's boxes picture: the job's stem, as the other downloads (not `scan.pdf.p1...`)
    with page.expect_download() as saved:
        page.locator("#result .page-head").get_by_role("button", name="Boxes picture").click()
    assert saved.value.suggested_filename == "scan.p1.boxes.png"
    shown = re.search(r"(\d+)×(\d+) px", page.locator("#result .page-head").inner_text())
    assert shown and Image.open(saved.value.path()).size == (
        int(shown[1]),
        int(shown[2]),
    )  # the page's pixels


def test_downloads_of_a_two_engine_job_name_the_engine(
    page: sync_api.Page, phototest: Path, tmp_path: Path
) -> None:
    run_job(page, pdf_file(tmp_path, phototest, 1), 1, "rapidocr", "tesseract")
    downloads = page.locator("#result .job-downloads")
    downloads.locator("select.download-backend").select_option("tesseract")
    with page.expect_download() as saved:
        downloads.locator('button[data-format="hocr"]').click()
    assert saved.value.suggested_filename == "scan.tesseract.hocr"
    assert b"tesseract" in Path(saved.value.path()).read_bytes().lower()  # hOCR names its engine


def test_each_page_shows_its_own_timings(
    page: sync_api.Page, cluster: Cluster, phototest: Path, tmp_path: Path
) -> None:
    job_id = run_job(page, pdf_file(tmp_path, phototest, 3), 3, "rapidocr")
    own = page_timings(cluster, job_id)
    summed = httpx.get(f"{cluster.url}/v1/jobs/{job_id}/result", timeout=30).json()["timings"]["total"]
    for index in (0, 2):
        page.locator(f'.strip-item[data-page="{index}"]').click()
        head = page.locator(f'#result .page-detail .page[data-page="{index}"] .page-head')
        total = head.locator(".timings div", has_text="total").locator("dd")
        expect(total).to_have_text(f"{own['rapidocr', index]:.2f} s")
    assert summed > max(own.values())  # the job's own sum is not what a page shows


def test_recent_jobs_follow_a_cancel(page: sync_api.Page, phototest: Path, tmp_path: Path) -> None:
    choose(page, "rapidocr")
    page.set_input_files("#file", str(pdf_file(tmp_path, phototest, 8, "long.pdf")))
    page.click("#submit")
    page.wait_for_url(re.compile(r"job="))
    expect(page.locator("#job-cancel")).to_be_enabled()
    job_id = re.search(r"job=([^&]+)", page.url).group(1)  # type: ignore[union-attr]
    entry = page.locator("#recent-list li", has=page.locator(f'[data-job="{job_id}"]'))
    expect(entry.locator(".badge")).to_have_text(re.compile("queued|running"))
    page.click("#job-cancel")
    expect(page.locator("#job-status")).to_contain_text("cancelled")
    expect(entry.locator(".badge")).to_have_text("cancelled")


def test_a_long_file_name_fits_a_narrow_screen(page: sync_api.Page, phototest: Path, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 420, "height": 800})
    name = "quarterly_report_of_the_regional_office_scanned_at_the_front_desk_" * 3 + ".pdf"
    run_job(page, pdf_file(tmp_path, phototest, 1, name), 1, "rapidocr")
    expect(page.locator("#recent-list")).to_contain_text("quarterly_report")
    page.screenshot(path=str(ARTIFACTS / "narrow.png"), full_page=True)
    wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"the page scrolls sideways: {wide[0]} px wide in a {wide[1]} px window"


def focused(page: sync_api.Page) -> str:
    return page.evaluate(
        "(() => { const e = document.activeElement; return `${e.tagName}:${e.textContent}`; })()"
    )


def test_focus_moves_to_the_result_heading(page: sync_api.Page, phototest: Path, tmp_path: Path) -> None:
    choose(page, "rapidocr")
    page.set_input_files("#file", str(phototest))
    page.focus("#submit")
    page.keyboard.press("Enter")
    expect(page.locator("#result .result .markdown")).to_contain_text("quick", ignore_case=True)
    expect(page.locator("#result h2").first).to_be_focused()
    assert focused(page).startswith("H2:phototest.png")

    # a job: its heading, as soon as the job is shown
    page.set_input_files("#file", str(pdf_file(tmp_path, phototest, 2)))
    page.focus("#submit")
    page.keyboard.press("Enter")
    expect(page.locator("#result .jobview h2")).to_be_focused()
    expect(page.locator(DONE)).to_contain_text("completed — 2 / 2 pages", timeout=90_000)
    expect(page.locator("#result .jobview h2")).to_be_focused()


def test_the_page_has_an_icon_and_favicon_ico_answers(page: sync_api.Page, cluster: Cluster) -> None:
    icon = page.locator('link[rel="icon"]')
    href = icon.evaluate("l => l.href")
    assert href.startswith(cluster.url + "/static/")
    for address in (href, cluster.url + "/favicon.ico"):
        answer = httpx.get(address, timeout=10)
        assert answer.status_code == 200, address
        assert answer.headers["content-type"].startswith("image/svg+xml")
        assert ET.fromstring(answer.content).tag == "{http://www.w3.org/2000/svg}svg"
    # the browser loaded it under the page's own policy, without a violation
    loaded = page.evaluate(f"fetch({json.dumps(href)}).then(r => r.status)")
    assert loaded == 200
