"""Page orientation on real pages turned by 90, 180 and 270 degrees, and turning them back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocrgate.structure.orientation import Orientation, detect_orientation, upright
from tests.helpers import cer
from tests.structure.conftest import ocr_lines_type, open_rgb

PAGES = [
    "tesseract_test/images/phototest.png",
    "docling_pdf/images/2305.03393v1-pg9_p1.png",
    "olmocr_bench_sample/images/olmo2-pg4_p1.png",
    "forms/images/funsd_0060080406.png",
]


@pytest.mark.parametrize("name", PAGES)
def test_turned_pages_come_back_upright(eval_dir: Path, name: str) -> None:
    page = open_rgb(eval_dir / name)
    assert detect_orientation(page).angle == 0
    original = np.asarray(page)
    for counter_clockwise in (90, 180, 270):
        turned = page.rotate(counter_clockwise, expand=True)
        found = detect_orientation(turned)
        assert found.angle == (360 - counter_clockwise) % 360, (name, counter_clockwise, found)
        assert found.confident
        assert np.array_equal(np.asarray(upright(turned, found)), original)


def test_unsure_pages_stay_as_they_are(eval_dir: Path) -> None:
    blank = open_rgb(eval_dir / "olmocr_bench_sample" / "images" / "blank_book_pg1_p1.png")
    found = detect_orientation(blank)
    assert not found.confident
    assert upright(blank, found) is blank
    tiny = Image.new("RGB", (4, 4), "white")
    assert detect_orientation(tiny) == Orientation(0, 0.0)
    assert upright(blank, Orientation(180, 0.5)) is blank


def test_sideways_page_reads_as_upright(eval_dir: Path, ocr_lines: ocr_lines_type) -> None:
    page = open_rgb(eval_dir / "tesseract_test" / "images" / "phototest.png")
    truth = (eval_dir / "tesseract_test" / "gt" / "phototest.txt").read_text(encoding="utf-8")
    sideways = page.rotate(270, expand=True)
    text_as_is = " ".join(line.text for line in ocr_lines(sideways))
    restored = upright(sideways, detect_orientation(sideways))
    text_restored = " ".join(line.text for line in ocr_lines(restored))
    upright_cer = cer(" ".join(line.text for line in ocr_lines(page)), truth)
    assert cer(text_restored, truth) <= upright_cer + 0.02
    assert cer(text_as_is, truth) > upright_cer + 0.02  # the turn mattered
