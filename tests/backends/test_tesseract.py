"""Tesseract on a real page: accuracy, paragraphs, a missing binary and an unknown language."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocrgate.backends.tesseract import TesseractBackend
from ocrgate.documents import PageImage
from ocrgate.errors import BackendUnavailable, InvalidOption
from tests.helpers import cer


@pytest.fixture(scope="module")
def backend() -> TesseractBackend:
    if shutil.which("tesseract") is None:
        pytest.skip("the tesseract binary is not installed here")
    engine = TesseractBackend()
    engine.load()
    return engine


def page_of(path: Path) -> PageImage:
    with Image.open(path) as image:
        return PageImage(index=0, image=image.convert("RGB"))


def test_phototest_text_paragraphs_and_boxes(
    backend: TesseractBackend, phototest: Path, phototest_truth: str
) -> None:
    page = page_of(phototest)
    result = backend.ocr_page(page, backend.parse_options({"lang": "eng"}))
    text = "\n\n".join(block.text for block in result.blocks)
    assert cer(text, phototest_truth) <= 0.05, text
    assert [block.text.split("\n")[0] for block in result.blocks] == [
        "This is a lot of 12 point text to test the",
        "The quick brown dog jumped over the",
    ]
    ink = np.asarray(page.image.convert("L")) < 128
    for block in result.blocks:
        x0, y0, x1, y1 = block.bbox
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
        assert ink[int(y0) : int(y1), int(x0) : int(x1)].mean() > 0.05
        assert 0.5 < (block.score or 0) <= 1
    assert result.ocr_seconds > 0
    assert result.raw[0]["text"] == "This" and {"left", "top", "conf", "line_num"} <= set(result.raw[0])


def test_unknown_language_is_an_invalid_option(backend: TesseractBackend, phototest: Path) -> None:
    with pytest.raises(InvalidOption, match="xx_nope"):
        backend.ocr_page(page_of(phototest), backend.parse_options({"lang": "xx_nope"}))


def test_engine_version(backend: TesseractBackend) -> None:
    assert (backend.engine_version() or "")[:1].isdigit()
    assert backend.health().available


def test_missing_binary_is_backend_unavailable(tmp_path: Path) -> None:
    engine = TesseractBackend({"tesseract_cmd": str(tmp_path / "no-such-tesseract")})
    assert "tesseract" in (engine.unavailable() or "")
    with pytest.raises(BackendUnavailable, match="tesseract"):
        engine.load()
    health = engine.health()
    assert not health.available and "tesseract" in (health.detail or "")


def test_blocks_carry_lines_and_no_word_is_split(backend: TesseractBackend, phototest: Path) -> None:
    """Tesseract's lines, with their words, go through the shared reading-order stage whole."""
    result = backend.ocr_page(page_of(phototest), backend.parse_options({}))
    words = [(w.text, w.bbox) for b in result.blocks for ln in b.lines for w in ln.words]
    raw = [
        (w["text"], (w["left"], w["top"], w["left"] + w["width"], w["top"] + w["height"])) for w in result.raw
    ]
    assert sorted(words) == sorted(raw)  # every word once, in exactly one block
    for block in result.blocks:
        assert block.lines and block.text.split() == [w.text for ln in block.lines for w in ln.words]
    engine = backend.ocr_page(page_of(phototest), backend.parse_options({"reading_order": "engine"}))
    for block in engine.blocks:
        assert block.text == " ".join(w.text for w in block.lines[0].words)
    assert len(engine.blocks) == 8  # one block per text line, in Tesseract's order
