"""A job's scorecard counts the seconds of work on a page (rasterising, the engine, rendering), as
`ocrgate eval` times a page it reads alone, never the seconds the page waited for a worker."""

from __future__ import annotations

import time

import pytest

from ocrgate.jobs.records import JobRecord, PageTruth
from ocrgate.jobs.scorecard import scorecard
from ocrgate.render import RenderedPage
from ocrgate.schema import Page, Timings


def _job(backends: list[str], pages: int) -> JobRecord:
    now = time.time()
    return JobRecord(
        id="j1", status="completed", name="multi_page.pdf", media_type="application/pdf", backends=backends,
        boxes="none", page_count=pages, created_at=now, updated_at=now, expires_at=now + 3600,
    )  # fmt: skip


def _page(index: int, markdown: str, timings: Timings) -> RenderedPage:
    page = Page(index=index, width=1700, height=2200, markdown=markdown, blocks=[])
    return RenderedPage(page=page, source_markdown=markdown, timings=timings)


def _timings(queue: float, decode: float, ocr: float, render: float) -> Timings:
    return Timings(queue=queue, decode=decode, ocr=ocr, render=render, total=queue + decode + ocr + render)


def test_waiting_for_a_worker_is_not_in_the_speed_figures(phototest_truth: str) -> None:
    # the figures of the new-user trial: pages sent at once to one worker wait tens of seconds each
    stages = {
        "rapidocr": [_timings(0.0, 0.5, 2.0, 0.25), _timings(30.0, 0.5, 3.0, 0.25)],
        "tesseract": [_timings(2.5, 0.5, 1.0, 0.5), _timings(60.0, 0.5, 1.5, 0.5)],
    }
    pages = {name: [_page(i, phototest_truth, t) for i, t in enumerate(ts)] for name, ts in stages.items()}
    truth = PageTruth(index=0, text=phototest_truth, updated_at=time.time())
    card = scorecard(_job(list(stages), 2), pages, [truth])

    engines = {e.backend: e for e in card.engines}
    assert engines["rapidocr"].seconds_per_page == pytest.approx((2.75 + 3.75) / 2)
    assert engines["rapidocr"].pages_per_second == pytest.approx(2 / (2.75 + 3.75))
    assert engines["rapidocr"].ocr_seconds_per_page == pytest.approx(2.5)
    assert engines["rapidocr"].queue_seconds_per_page == pytest.approx(15.0)
    assert engines["tesseract"].seconds_per_page == pytest.approx(2.25)
    assert engines["tesseract"].queue_seconds_per_page == pytest.approx(31.25)
    assert [p.engines["rapidocr"].seconds for p in card.pages] == pytest.approx([2.75, 3.75])
    assert [p.engines["tesseract"].queue_seconds for p in card.pages] == pytest.approx([2.5, 60.0])
    # the scores are untouched: the truth is the engines' text, so CER 0 and F1 1 for both
    assert engines["rapidocr"].cer == 0.0 and engines["tesseract"].f1 == pytest.approx(1.0)
    # ranked on equal CER and F1 by speed without the wait: tesseract (2.25 s) before rapidocr (3.25 s)
    assert [e.backend for e in card.engines] == ["tesseract", "rapidocr"]
