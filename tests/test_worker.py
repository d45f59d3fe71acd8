"""Real worker processes on loopback: their self-description (`GET /v1/info`), `/health` while a page
runs, and a backend that cannot run here."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from jsonschema.validators import validator_for
from PIL import Image

from ocrgate.backends import registry
from ocrgate.wire import WorkerInfo
from ocrgate.worker import batch_size
from tests.helpers import image_bytes
from tests.worker_process import WorkerProcess


def test_batch_size_is_max_batch_capped_by_concurrency() -> None:
    assert batch_size(1, 8) == 1  # an engine that reads a page at a time: 8 pages at once, one each
    assert batch_size(8, 8) == 8
    assert batch_size(8, 2) == 2  # the worker never runs more than `concurrency` pages at once
    assert batch_size(4, 16) == 4


def test_a_worker_describes_itself(tmp_path: Path, phototest: Path) -> None:
    section = {"concurrency": 3, "options": {"threads": 1}}
    with WorkerProcess(tmp_path, "rapidocr", section) as worker:
        assert worker.start()["status"] == "healthy"
        answer = httpx.get(f"{worker.url}/v1/info", timeout=10)
        assert answer.status_code == 200, answer.text
        info = WorkerInfo.model_validate_json(answer.content)
        assert info.backend == "rapidocr" and info.engine_version == version("rapidocr")
        assert (info.max_batch, info.concurrency, info.file_types) == (1, 3, [])
        assert info.limits.max_pages == 500
        assert info.options_schema == registry.get("rapidocr").options_schema()
        validator = validator_for(info.options_schema)(info.options_schema)
        assert validator.is_valid({"text_score": 0.5})
        assert not validator.is_valid({"text_score": 5})  # the gateway can refuse it with 422
        # and the worker refuses it too, with the same verdict
        page = image_bytes(Image.open(phototest), "PNG")
        refused = httpx.post(
            f"{worker.url}/v1/ocr",
            params={"options": '{"text_score": 5}'},
            content=page,
            headers={"content-type": "image/png"},
            timeout=60,
        )
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_option"


def test_a_backend_that_cannot_run_says_why_in_one_line(tmp_path: Path) -> None:
    """No engine here (MinerU without its server, Tesseract without its binary): /health says why,
    /v1/info still describes the worker, and the log has one warning line, no traceback."""
    missing = str(tmp_path / "no-such-tesseract")
    cases = {"mineru": ({}, "no server"), "tesseract": ({"tesseract_cmd": missing}, "no-such-tesseract")}
    for backend, (settings, reason) in cases.items():
        with WorkerProcess(tmp_path, backend, {"options": settings}) as worker:
            health = worker.start()
            assert health["status"] == "unhealthy" and reason in health["error"], health
            assert not health["engine"]["available"] and reason in health["engine"]["detail"]
            info = WorkerInfo.model_validate(httpx.get(f"{worker.url}/v1/info", timeout=10).json())
            assert info.options_schema == registry.get(backend).options_schema()
            assert info.file_types == sorted(registry.get(backend).file_types)
            worker.stop()
            log = worker.log()
        lines = [line for line in log.splitlines() if "cannot run here" in line]
        assert len(lines) == 1 and reason in lines[0] and "WARNING" in lines[0], log
        assert "Traceback" not in log, log


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="the tesseract binary is not installed here")
def test_a_busy_worker_answers_health_while_its_page_runs(tmp_path: Path, eval_dir: Path) -> None:
    """Tesseract holds its binary's lock for the whole page; /health must not wait for it. Proof: an
    answer that counts the page in flight, received before the page's own answer."""
    with Image.open(eval_dir / "tesseract_test" / "images" / "eurotext.png") as tile:
        tile = tile.convert("RGB")
        big = Image.new("RGB", (tile.width * 3, tile.height * 3), "white")
        for row in range(3):
            for column in range(3):
                big.paste(tile, (column * tile.width, row * tile.height))
    body = image_bytes(big, "PNG")
    with WorkerProcess(tmp_path, "tesseract", {"concurrency": 1}) as worker:
        assert worker.start()["status"] == "healthy"
        with ThreadPoolExecutor(1) as pool:
            page = pool.submit(
                httpx.post,
                f"{worker.url}/v1/ocr",
                content=body,
                headers={"content-type": "image/png"},
                timeout=600,
            )
            during = None
            while not page.done():
                health = httpx.get(f"{worker.url}/health", timeout=600).json()
                if health["inflight"] == 1 and not page.done():
                    during = health
                    break
                time.sleep(0.05)  # the page is still being received or decoded
            answer = page.result()
        assert answer.status_code == 200 and answer.json()["blocks"], answer.text
        assert during is not None, "/health never answered while the page was in flight"
        assert during["status"] == "healthy" and during["engine"]["available"]
        assert (during["engine"]["engine_version"] or "")[:1].isdigit()
