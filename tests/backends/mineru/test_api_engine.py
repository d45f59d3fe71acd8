"""The `api` engine end to end against the fake mineru-api, a real process speaking MinerU's protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from ocrgate.backends import registry
from ocrgate.backends.base import WholeFile
from ocrgate.backends.mineru.api_client import ApiSettings, MinerUApiClient
from ocrgate.backends.mineru.backend import MinerUBackend, MinerUOptions
from ocrgate.documents import PDF, open_document
from ocrgate.errors import BackendError, BackendUnavailable, InvalidOption, Timeout
from tests.backends.mineru.helpers import Recorder, assert_text_where_boxes_are, page_sizes
from tests.gateway.cluster import free_ports


def backend(url: str, **settings: Any) -> MinerUBackend:
    found = MinerUBackend({"url": url, "poll_interval_s": 0.05, "start_timeout_s": 5, **settings})
    found.load()
    return found


@pytest.fixture(scope="module")
def multipage(multipage_pdf: Path) -> bytes:
    return multipage_pdf.read_bytes()


def test_registered_with_the_file_types_it_reads_whole() -> None:
    cls = registry.get("mineru")
    assert cls is MinerUBackend
    assert cls.file_types == {"application/pdf", "image/png", "image/jpeg"}
    assert cls.options_model is MinerUOptions


def test_image_page_boxes_are_where_the_text_is(fake_api: str, phototest: Path, phototest_truth: str) -> None:
    document = open_document(phototest.read_bytes(), "phototest.png")
    page = document.page(0)
    result = backend(fake_api).ocr_page(page, MinerUBackend.parse_options({}))
    assert (result.index, result.width, result.height) == (0, 640, 480)
    assert " ".join(b.text for b in result.blocks).split() == phototest_truth.split()
    ink = np.asarray(page.image.convert("L")) < 128
    for block in result.blocks:
        x0, y0, x1, y1 = (round(v) for v in block.bbox)
        inside = ink[y0:y1, x0:x1].sum()
        assert inside > 0.3 * (x1 - x0) * (y1 - y0) * ink.mean()  # denser than the page on average
    covered = np.zeros_like(ink)
    for block in result.blocks:
        x0, y0, x1, y1 = (round(v) for v in block.bbox)
        covered[y0:y1, x0:x1] = True
    assert ink[covered].sum() == ink.sum()  # every inked pixel lies in a block


def test_multipage_pdf_boxes_land_on_the_right_page_and_place(fake_api: str, multipage: bytes) -> None:
    sizes = page_sizes(multipage)
    seen: list[tuple[int, int]] = []
    results = backend(fake_api).ocr_file(
        WholeFile(multipage, PDF, sizes),
        MinerUBackend.parse_options({}),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [(r.width, r.height) for r in results] == sizes
    assert assert_text_where_boxes_are(multipage, results) >= 40
    assert (
        results[0].blocks[0].kind == "title"
        and results[0].blocks[0].text == "The Evolution of the Word Processor"
    )
    assert results[0].raw[0]["page_idx"] == 0 and all(e["page_idx"] == 4 for e in results[4].raw)
    assert seen == [(0, 5), (5, 5)]


def test_page_range_in_chunks_reports_progress_per_chunk(fake_api: str, eval_dir: Path) -> None:
    data = (eval_dir / "docling_pdf" / "pdf" / "redp5110_sampled.pdf").read_bytes()
    sizes = page_sizes(data, dpi=72)
    seen: list[tuple[int, int]] = []
    options = MinerUBackend.parse_options({"page_range": "2-9,r1", "tier": "standard", "ocr_mode": "txt"})
    results = backend(fake_api, chunk_pages=4).ocr_file(
        WholeFile(data, PDF, sizes), options, progress=lambda *p: seen.append(p)
    )
    assert seen == [(0, 9), (4, 9), (8, 9), (9, 9)]
    parsed = [r.index for r in results if r.blocks]
    assert parsed == [1, 2, 3, 4, 5, 6, 7, 8, 17]
    assert results[0].flags == ["mineru: page not parsed (outside page_range)"] and not results[0].blocks
    assert {b.kind for r in results for b in r.blocks} >= {"title", "text", "table", "figure", "footer"}
    assert assert_text_where_boxes_are(data, results) >= 40


def test_unknown_and_bad_options_are_refused_before_any_request(fake_api: str, phototest: Path) -> None:
    with pytest.raises(InvalidOption, match="colour"):
        MinerUBackend.parse_options({"colour": "blue"})
    with pytest.raises(InvalidOption, match="tier"):
        MinerUBackend.parse_options({"tier": "platinum"})
    with pytest.raises(InvalidOption, match="ocr_mode"):
        MinerUBackend.parse_options({"ocr_mode": "sometimes"})
    engine = backend(fake_api)
    image = phototest.read_bytes()
    with pytest.raises(InvalidOption, match="PDFs only"):
        engine.ocr_file(
            WholeFile(image, "image/png", [(640, 480)]), MinerUBackend.parse_options({"page_range": "1"})
        )
    with pytest.raises(InvalidOption, match="page_range"):
        engine.ocr_file(
            WholeFile(b"%PDF-", PDF, [(10, 10)] * 3), MinerUBackend.parse_options({"page_range": "3-1"})
        )


def test_a_tier_the_server_does_not_serve_is_an_invalid_option(fake_flash_api: str, multipage: bytes) -> None:
    sizes = page_sizes(multipage, dpi=72)
    engine = backend(fake_flash_api)
    with pytest.raises(InvalidOption, match="Tier 'advanced' not available"):
        engine.ocr_file(WholeFile(multipage, PDF, sizes), MinerUBackend.parse_options({"tier": "advanced"}))
    with pytest.raises(BackendUnavailable, match="quality_tier_unavailable"):
        engine.ocr_file(WholeFile(multipage, PDF, sizes), MinerUBackend.parse_options({}))
    flash = backend(fake_flash_api, tier="flash").ocr_file(
        WholeFile(multipage, PDF, sizes), MinerUBackend.parse_options({})
    )
    assert len(flash) == 5 and all(r.blocks for r in flash)


def test_server_down_is_backend_unavailable_naming_the_server(multipage: bytes) -> None:
    url = f"http://127.0.0.1:{free_ports(1)}"
    with pytest.raises(BackendUnavailable, match=f"not reachable at {url}"):
        backend(url, start_timeout_s=0.3)
    engine = MinerUBackend({"url": url})
    engine.loaded = True  # as if loaded while the server was up
    with pytest.raises(BackendUnavailable, match="is the server running"):
        engine.ocr_file(WholeFile(multipage, PDF, [(100, 100)] * 5), MinerUBackend.parse_options({}))
    with pytest.raises(BackendUnavailable, match="no server"):
        MinerUBackend({}).load()


def test_a_file_mineru_cannot_parse_is_a_backend_error(fake_api: str, eval_dir: Path) -> None:
    data = (eval_dir / "docling_pdf" / "pages_pdf" / "code_and_formula_p1.pdf").read_bytes()
    with pytest.raises(BackendError, match=r"parse_failed.*no fixture"):
        backend(fake_api).ocr_file(WholeFile(data, PDF, [(100, 100)]), MinerUBackend.parse_options({}))


def test_a_task_past_its_time_is_cancelled(slow_fake_api: str, multipage: bytes) -> None:
    recorder = Recorder()
    client = MinerUApiClient(ApiSettings(url=slow_fake_api, timeout_s=0.5, poll_interval_s=0.1), recorder)
    params = [("output_formats", "structured_content")]
    with pytest.raises(Timeout, match=r"did not finish within 0\.5 s"):
        client.parse(multipage, "document.pdf", PDF, params)
    method, path = recorder.calls[-1]
    assert method == "DELETE" and path.startswith("/v1/tasks/job_")
    assert httpx.get(f"{slow_fake_api}{path}").json()["status"] == "canceled"
    assert recorder.calls[0] == ("POST", "/v1/tasks")


def test_file_parse_answering_202_falls_back_to_polling(slow_fake_api: str, phototest: Path) -> None:
    recorder = Recorder()
    client = MinerUApiClient(ApiSettings(url=slow_fake_api, sync_wait_s=1, poll_interval_s=0.1), recorder)
    params = [("output_formats", "structured_content"), ("output_formats", "markdown")]
    file = client.parse(phototest.read_bytes(), "page.png", "image/png", params, sync=True)
    assert file.status == "completed" and file.content["markdown"].startswith("This is a lot")
    assert recorder.calls[0] == ("POST", "/v1/file_parse")
    assert recorder.calls[-1][1].endswith("/result") and ("GET", recorder.calls[-1][1][:-7]) in recorder.calls


def test_health_reports_the_server_version(fake_api: str) -> None:
    engine = backend(fake_api)
    health = engine.health()
    assert health.available and health.model_loaded and health.engine_version == "4.0.12"
    assert health.device == "server"
    inprocess = MinerUBackend({"engine": "inprocess"}).health()
    assert not inprocess.available and "mineru" in (inprocess.detail or "")


def test_figure_blocks_crop_to_the_real_figure(fake_api: str, eval_dir: Path) -> None:
    """The renderer crops figures from our page image: the box must hold the picture, not blank page."""
    data = (eval_dir / "docling_pdf" / "pdf" / "redp5110_sampled.pdf").read_bytes()
    document = open_document(data, "redp.pdf", dpi=72)
    sizes = [(p.width, p.height) for p in document.iter_pages()]
    results = backend(fake_api).ocr_file(
        WholeFile(data, PDF, sizes), MinerUBackend.parse_options({"page_range": "7"})
    )
    (figure,) = [b for b in results[6].blocks if b.kind == "figure"]
    assert figure.text == "Figure 1-2 Existing row and column controls"
    crop = document.page(6).image.crop(tuple(round(v) for v in figure.bbox)).convert("L")
    assert np.asarray(crop).std() > 20  # a picture, not an empty stretch of page
    assert isinstance(crop, Image.Image)
