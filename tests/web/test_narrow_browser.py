"""The web client on a 420 px wide screen and the names of its downloads, in a real browser against a real
gateway (fixtures: conftest.py): a comparison of two engines that never scrolls sideways, ordinary words
that wrap whole (only a long unbroken token may break), and the names a job's files and its exported
evaluation set are saved under (`scan.eval-set.zip`; a set of files: `phototest+3.md`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.gateway.cluster import Cluster
from tests.web.conftest import ARTIFACTS, CHROMIUM, choose
from tests.web.test_jobs_browser import pdf_file, run_job

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (Debian's chromium; `.ci/run` installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect

NARROW = {"width": 420, "height": 900}

# Each whitespace-separated word of the element's text that is at most `longest` characters long, with the
# number of distinct line tops its characters lie on (1: the word is whole on one line).
SPLIT_WORDS = """([selector, longest]) => {
  const found = [];
  for (const element of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        if (m[0].length > longest) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (tops.size > 1) found.push(m[0]);
      }
    }
  }
  return found;
}"""


def sideways(page: sync_api.Page) -> list[int]:
    return page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")


def test_a_comparison_at_420_px_does_not_scroll_sideways(page: sync_api.Page, eval_dir: Path) -> None:
    page.set_viewport_size(NARROW)
    choose(page, "rapidocr", "tesseract")
    page.set_input_files("#file", str(eval_dir / "receipts" / "images" / "sroie_057.jpg"))
    page.click("#submit")
    compare = page.locator("#result .compare-page")
    expect(compare.locator(".line-row").first).to_be_visible(timeout=120_000)
    columns = compare.locator(".columns > .column")
    expect(columns).to_have_count(2)
    expect(columns.nth(1).locator(".tab").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "compare-narrow.png"), full_page=True)
    wide = sideways(page)
    assert wide[0] <= wide[1], f"the page scrolls sideways: {wide[0]} px wide in a {wide[1]} px window"
    first, second = (columns.nth(i).bounding_box() for i in (0, 1))
    assert first and second
    assert second["y"] >= first["y"] + first["height"], "the engines' columns did not stack"
    for tab in compare.locator(".column .tab").all():  # every tab inside the window
        box = tab.bounding_box()
        assert box and box["x"] + box["width"] <= wide[1]
    page.set_viewport_size({"width": 1280, "height": 900})  # a wide screen: side by side again
    first, second = (columns.nth(i).bounding_box() for i in (0, 1))
    assert first and second and second["y"] == first["y"] and second["x"] > first["x"] + first["width"]


def test_words_wrap_whole_at_420_px(page: sync_api.Page, phototest: Path, tmp_path: Path) -> None:
    """Ordinary words are never cut (as break-all cut "runs a|s a job", "rapidocr, t|esseract", "pa|ges"); a
    file name longer than the line (tests/web/test_jobs_browser.py) may still break anywhere."""
    page.set_viewport_size(NARROW)
    name = "the monthly statement of accounts from the regional office as scanned.pdf"
    pdf = pdf_file(tmp_path, phototest, 1, name)
    page.set_input_files("#file", str(pdf))
    expect(page.locator("#file-info")).to_contain_text("runs as a job")
    run_job(page, pdf, 1, "rapidocr", "tesseract")
    expect(page.locator("#recent-list button.link").first).to_contain_text("monthly statement")
    selectors = ["#file-info", ".job-name", "#recent-list button.link"]
    for selector in selectors:  # each wraps at all, so a cut word would show
        lines = page.locator(selector).first.evaluate(
            "e => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))"
        )
        assert lines >= 2, f"{selector} fits on one line: nothing to test"
    cut = page.evaluate(SPLIT_WORDS, [", ".join(selectors), 20])
    assert cut == [], f"words cut across lines: {cut}"
    wide = sideways(page)
    assert wide[0] <= wide[1], f"the page scrolls sideways: {wide[0]} px wide in a {wide[1]} px window"


def test_a_set_of_files_downloads_under_the_sets_name(
    page: sync_api.Page, cluster: Cluster, phototest: Path, phototest_truth: str, tmp_path: Path
) -> None:
    files = [tmp_path / "phototest.png"] + [tmp_path / f"copy{n}.png" for n in range(3)]
    for path in files:
        shutil.copy(phototest, path)
    choose(page, "rapidocr")
    page.set_input_files("#file", [str(f) for f in files])
    page.click("#submit")
    expect(page.locator("#job-status")).to_contain_text("completed — 4 / 4 pages", timeout=120_000)
    expect(page.locator(".job-name")).to_contain_text("phototest.png + 3 more")
    with page.expect_download() as saved:
        page.locator('#result .job-downloads button[data-format="md"]').click()
    assert saved.value.suggested_filename == "phototest+3.md"
    job_id = page.url.split("job=")[1].split("&")[0]
    assert export_name(page, cluster, job_id, phototest_truth) == "phototest+3.eval-set.zip"


def test_the_eval_set_of_a_pdf_drops_the_extension(
    page: sync_api.Page, cluster: Cluster, phototest: Path, phototest_truth: str, tmp_path: Path
) -> None:
    job_id = run_job(page, pdf_file(tmp_path, phototest, 1, "multi_page.pdf"), 1, "rapidocr")
    assert export_name(page, cluster, job_id, phototest_truth) == "multi_page.eval-set.zip"


def export_name(page: sync_api.Page, cluster: Cluster, job_id: str, text: str) -> str:
    """Page 0 of the job corrected to `text` (through the API), the scorecard opened, its set exported:
    the name it is saved under."""
    saved = httpx.put(f"{cluster.url}/v1/jobs/{job_id}/truth/0", json={"text": text}, timeout=30)
    assert saved.status_code == 200, saved.text
    page.reload()
    page.locator('[data-view="scorecard"]').click()
    button = page.locator(".scorecard button.export")
    expect(button).to_be_enabled()
    with page.expect_download() as download:
        button.click()
    return download.value.suggested_filename
