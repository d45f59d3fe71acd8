"""RapidOCR on real pages: accuracy, boxes on the ink, column order, and no network at all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import PageImage
from ocrgate.errors import InvalidOption
from tests.helpers import cer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def backend(rapidocr: RapidOCRBackend) -> RapidOCRBackend:
    """The session's loaded RapidOCR backend (tests/conftest.py)."""
    return rapidocr


def page_of(path: Path) -> PageImage:
    with Image.open(path) as image:
        return PageImage(index=0, image=image.convert("RGB"))


def test_phototest_text_and_boxes(backend: RapidOCRBackend, phototest: Path, phototest_truth: str) -> None:
    page = page_of(phototest)
    result = backend.ocr_page(page, backend.parse_options({}))
    text = "\n\n".join(block.text for block in result.blocks)
    assert cer(text, phototest_truth) <= 0.05, text
    assert (result.width, result.height) == (640, 480)
    assert result.ocr_seconds > 0
    assert result.raw and {"box", "text", "score"} <= set(result.raw[0])
    assert len(result.raw[0]["box"]) == 4

    ink = np.asarray(page.image.convert("L")) < 128
    covered = np.zeros_like(ink)
    for block in result.blocks:
        x0, y0, x1, y1 = block.bbox
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
        assert 0 < (block.score or 0) <= 1
        box = (slice(int(y0), int(np.ceil(y1))), slice(int(x0), int(np.ceil(x1))))
        assert ink[box].mean() > 0.05  # the box sits on text, not on white paper
        covered[box] = True
    assert ink[covered].sum() / ink.sum() > 0.95  # and the boxes hold nearly all the ink


def test_two_column_page_reads_column_by_column(backend: RapidOCRBackend, eval_dir: Path) -> None:
    page = page_of(eval_dir / "docling_pdf" / "images" / "amt_handbook_sample_p1.png")
    result = backend.ocr_page(page, backend.parse_options({}))
    text = "\n".join(block.text for block in result.blocks)
    truth = (eval_dir / "docling_pdf" / "gt" / "amt_handbook_sample_p1.txt").read_text(encoding="utf-8")
    assert cer(text, truth) <= 0.2
    left, right = text.find("pulleys, provided the inner race"), text.find("the most common ranges in size")
    assert 0 <= left < text.find("locking section properly") < right
    assert not any("clamped the most common" in block.text for block in result.blocks)


def test_text_score_option_filters_lines(backend: RapidOCRBackend, phototest: Path) -> None:
    strict = backend.ocr_page(page_of(phototest), backend.parse_options({"text_score": 1.0}))
    assert strict.raw and max(line["score"] for line in strict.raw) < 1  # raw keeps what the engine saw
    assert strict.blocks == []
    for bad in ({"dpi": 300}, {"text_score": 1.01}, {"text_score": -0.1}, {"text_score": "0.5"}):
        with pytest.raises(InvalidOption):
            backend.parse_options(bad)


def test_runs_with_the_network_blocked(phototest: Path) -> None:
    script = textwrap.dedent(
        f"""
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network is blocked in this test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        from PIL import Image
        from ocrgate.backends.rapidocr import RapidOCRBackend
        from ocrgate.documents import PageImage
        backend = RapidOCRBackend()
        backend.load()
        page = PageImage(index=0, image=Image.open({str(phototest)!r}).convert("RGB"))
        result = backend.ocr_page(page, backend.parse_options({{}}))
        print("\\n".join(block.text for block in result.blocks))
        """
    )
    blocked = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HTTP_PROXY": blocked,
        "HTTPS_PROXY": blocked,
        "ALL_PROXY": blocked,
        "http_proxy": blocked,
        "https_proxy": blocked,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "quick brown dog" in done.stdout


def test_health_reports_version(backend: RapidOCRBackend) -> None:
    health = backend.health()
    assert health.available and health.model_loaded
    assert health.engine_version and health.engine_version[0].isdigit()
