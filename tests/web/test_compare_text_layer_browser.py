"""Comparisons that compare engines, in a real browser against the real gateway (rapidocr + tesseract,
conftest.py): the PDF text layer control (its default follows the comparison, the choice is sent), a page
every engine took from a born-digital PDF's text layer (../shared/eval/docling_pdf) labelled and never
scored, and a page only one engine read shown without an agreement figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.cluster import Cluster
from tests.web.conftest import ARTIFACTS, CHROMIUM, choose

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (Debian's chromium; `.ci/run` installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect

NOTE = "From the PDF's text layer; no engine read this page."


def paper(eval_dir: Path) -> Path:
    return eval_dir / "docling_pdf" / "pdf" / "2305.03393v1-pg9.pdf"  # one born-digital page


def record_fields(page: sync_api.Page) -> None:
    """Keep every text field the page puts in a form (window.__fields), as it goes to the gateway
    (Chromium hands a multipart body with a file to neither Playwright's request nor its route)."""
    page.evaluate(
        """() => {
        window.__fields = [];
        const append = FormData.prototype.append;
        FormData.prototype.append = function (key, value, ...rest) {
          if (typeof value === "string") window.__fields.push([key, value]);
          return append.call(this, key, value, ...rest);
        };
    }"""
    )


def sent(page: sync_api.Page, name: str) -> list[str]:
    return [value for key, value in page.evaluate("window.__fields") if key == name]


def test_the_text_layer_control_follows_the_comparison_and_is_sent(
    page: sync_api.Page, cluster: Cluster, eval_dir: Path
) -> None:
    control = page.locator("#text-layer")
    choose(page, "rapidocr")
    expect(control).to_have_value("auto")
    choose(page, "rapidocr", "tesseract")
    expect(control).to_have_value("never")  # what the gateway does for a comparison that sets nothing
    expect(page.locator("#text-layer-hint")).to_contain_text("every engine reads every page")
    record_fields(page)
    page.set_input_files("#file", str(paper(eval_dir)))
    page.click("#submit")
    expect(page.locator("#job-status")).to_contain_text("completed — 1 / 1 pages", timeout=300_000)
    assert sent(page, "text_layer") == ["never"]
    job_id = page.url.split("job=")[1].split("&")[0]
    result = httpx.get(f"{cluster.url}/v1/jobs/{job_id}/result", timeout=30).json()
    assert {b["origin"] for r in result["results"].values() for p in r["pages"] for b in p["blocks"]} == {
        "engine"
    }
    compare = page.locator("#result .compare-page")
    expect(compare.locator(".lines-count")).to_contain_text("lines read alike")  # both engines read it
    expect(compare.locator(".text-layer-flag")).to_have_count(0)

    # a value the person picks stays, whatever the engines chosen after
    control.select_option("only")
    choose(page, "rapidocr")
    expect(control).to_have_value("only")
    assert "text_layer=only" in page.url


def test_a_page_no_engine_read_is_labelled_and_not_scored(page: sync_api.Page, eval_dir: Path) -> None:
    choose(page, "rapidocr", "tesseract")
    page.locator("#text-layer").select_option("auto")
    page.set_input_files("#file", str(paper(eval_dir)))
    page.click("#submit")
    expect(page.locator("#job-status")).to_contain_text("completed — 1 / 1 pages", timeout=300_000)
    compare = page.locator("#result .compare-page")
    expect(compare.locator(".lines-count")).to_have_text(NOTE)
    expect(compare.locator(".text-layer-flag")).to_have_count(2)  # each engine's column says so
    assert compare.locator(".line-row.agree, .line-row.differ, .only-differing").count() == 0
    assert "read alike" not in compare.inner_text()
    page.screenshot(path=str(ARTIFACTS / "compare-text-layer.png"), full_page=True)

    page.locator('.tab[data-view="scorecard"]').click()
    card = page.locator("#result .scorecard")
    expect(card.locator("tr.text-layer-page")).to_contain_text(NOTE)
    expect(card.locator(".verdict")).to_contain_text("Every page came from the PDF's text layer")
    assert card.locator(".winner-name, td.winner, td.best").count() == 0


def test_a_page_only_one_engine_read_shows_no_agreement(page: sync_api.Page, phototest: Path) -> None:
    block = {"kind": "text", "text": "The quick brown fox", "bbox": [36, 92, 580, 122],
             "lines": [{"text": "The quick brown fox", "bbox": [36, 92, 580, 122], "words": []}]}  # fmt: skip
    read = {"index": 0, "width": 640, "height": 480, "markdown": "The quick brown fox", "flags": [],
            "blocks": [block]}  # fmt: skip
    down = {"code": "backend_unavailable", "message": "no healthy worker"}
    crafted: dict[str, Any] = {
        "success": True,
        "backends": ["rapidocr", "tesseract"],
        "results": {
            "rapidocr": {"backend": "rapidocr", "pages": [read], "timings": {"total": 0.4, "ocr": 0.3}},
            "tesseract": {"backend": "tesseract", "success": False, "pages": [], "error": down},
        },
        "agreement": [],
        "text_layer_pages": [],
    }
    page.route("**/v1/ocr", lambda route: route.fulfill(status=200, json=crafted))
    record_fields(page)
    choose(page, "rapidocr", "tesseract")
    page.set_input_files("#file", str(phototest))
    page.click("#submit")
    compare = page.locator("#result .compare-page")
    expect(compare.locator(".lines-count")).to_have_text(
        "Only rapidocr read this page: nothing to compare it with."
    )
    expect(compare.locator(".line-row.alone")).to_have_count(1)
    assert compare.locator(".line-row.agree, .only-differing").count() == 0
    assert "read alike" not in compare.inner_text()
    expect(page.locator("#result .agreement")).to_contain_text("fewer than two engines")
    assert sent(page, "text_layer") == ["never"]
