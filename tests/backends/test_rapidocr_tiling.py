"""RapidOCR on pages far larger than its input (max_side_len 2000): read in strips, text kept whole.

The till receipt (576 x 9220) is the bug file; the siblings are real pages repeated into tall and
wide pages of several widths, whose truth is the page's own ground truth repeated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import PageImage
from ocrgate.evaluate.metrics import word_bag_f1
from ocrgate.tiling import DOWNSCALED
from tests.helpers import normalise

BUGS = Path(__file__).resolve().parents[2].parent / "shared" / "bugs"


@pytest.fixture(scope="module")
def backend(rapidocr: RapidOCRBackend) -> RapidOCRBackend:
    """The session's loaded RapidOCR backend (tests/conftest.py)."""
    return rapidocr


def read(backend: RapidOCRBackend, image: Image.Image) -> tuple[str, list[str], list]:  # type: ignore[type-arg]
    result = backend.ocr_page(PageImage(index=0, image=image), backend.parse_options({}))
    return "\n".join(block.text for block in result.blocks), result.flags, result.raw


def repeated(page: Image.Image, across: int, down: int, scale: float = 1.0) -> Image.Image:
    """The page `across` x `down` times on one canvas (scaled first)."""
    if scale != 1.0:
        page = page.resize((round(page.width * scale), round(page.height * scale)), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (page.width * across, page.height * down), "white")
    for i in range(across):
        for j in range(down):
            canvas.paste(page, (i * page.width, j * page.height))
    return canvas


def test_long_receipt_reads_whole(backend: RapidOCRBackend) -> None:
    """The bug file's right value: word-bag F1 >= 0.95, the TOTAL line present, no flag."""
    if not (BUGS / "receipt_long.png").is_file():
        pytest.skip("shared/bugs not found beside the checkout")
    image = Image.open(BUGS / "receipt_long.png").convert("RGB")
    truth = (BUGS / "receipt_long.txt").read_text(encoding="utf-8")
    text, flags, raw = read(backend, image)
    assert word_bag_f1(text, truth) >= 0.95
    assert "total 1513.50" in normalise(text)
    assert DOWNSCALED not in flags
    assert {entry["tile"] for entry in raw} == set(range(6))  # read in six strips


def sparse(page: Image.Image, size: tuple[int, int], places: list[tuple[int, int]]) -> Image.Image:
    canvas = Image.new("RGB", size, "white")
    for place in places:
        canvas.paste(page, place)
    return canvas


def test_tall_page_with_text_in_a_strip_overlap(
    backend: RapidOCRBackend, phototest: Path, phototest_truth: str
) -> None:
    """640 x 6000 (shrunk 3 times by the engine alone): four strips [0, 1650), [1450, 3100), ...;
    the middle copy of the page lies across the first overlap, so its lines come from two strips."""
    page = Image.open(phototest).convert("RGB")
    image = sparse(page, (640, 6000), [(0, 0), (0, 1250), (0, 5520)])
    text, flags, raw = read(backend, image)
    assert word_bag_f1(text, phototest_truth * 3) >= 0.97
    assert flags == [] and {entry["tile"] for entry in raw} == {0, 1, 3}  # strip 2 is blank


def test_wide_page_lines_across_strips_are_stitched(
    backend: RapidOCRBackend, phototest: Path, phototest_truth: str
) -> None:
    """5120 x 480: three strips [0, 1840), [1640, 3480), [3280, 5120); the middle copy of the page
    (x 1420-2060) has every line cut by both of the first two strips' edges."""
    page = Image.open(phototest).convert("RGB")
    image = sparse(page, (5120, 480), [(0, 0), (1420, 0), (4480, 0)])
    text, flags, raw = read(backend, image)
    assert word_bag_f1(text, phototest_truth * 3) >= 0.95
    assert flags == [] and len({entry["tile"] for entry in raw}) == 3


@pytest.mark.slow
def test_tall_page_of_a_repeated_page(
    backend: RapidOCRBackend, phototest: Path, phototest_truth: str
) -> None:
    """tesseract_test 12 times down (640 x 5760): the engine alone would shrink it 2.9 times."""
    text, flags, _ = read(backend, repeated(Image.open(phototest).convert("RGB"), 1, 12))
    assert word_bag_f1(text, phototest_truth * 12) >= 0.97
    assert flags == []


@pytest.mark.slow
def test_wide_page_of_a_repeated_page(
    backend: RapidOCRBackend, phototest: Path, phototest_truth: str
) -> None:
    """tesseract_test 8 times across (5120 x 480): text lines run across the strips' edges."""
    text, flags, raw = read(backend, repeated(Image.open(phototest).convert("RGB"), 8, 1))
    assert word_bag_f1(text, phototest_truth * 8) >= 0.95
    assert flags == [] and len({entry["tile"] for entry in raw}) == 3


@pytest.mark.slow
@pytest.mark.parametrize(("scale", "down"), [(0.75, 16), (1.5, 8), (2.0, 6)])
def test_tall_pages_of_other_widths(
    backend: RapidOCRBackend, phototest: Path, phototest_truth: str, scale: float, down: int
) -> None:
    text, flags, _ = read(backend, repeated(Image.open(phototest).convert("RGB"), 1, down, scale))
    assert word_bag_f1(text, phototest_truth * down) >= 0.95
    assert flags == []


@pytest.mark.slow
@pytest.mark.parametrize("width", [400, 800])
def test_long_receipt_at_other_widths(backend: RapidOCRBackend, width: int) -> None:
    image = Image.open(BUGS / "receipt_long.png").convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    text, flags, _ = read(backend, image)
    truth = (BUGS / "receipt_long.txt").read_text(encoding="utf-8")
    assert word_bag_f1(text, truth) >= 0.95 and "total 1513.50" in normalise(text)
    assert flags == []


@pytest.mark.slow
@pytest.mark.parametrize("across", [4, 12])
def test_wide_pages_of_other_lengths(
    backend: RapidOCRBackend, phototest: Path, phototest_truth: str, across: int
) -> None:
    text, _, _ = read(backend, repeated(Image.open(phototest).convert("RGB"), across, 1))
    assert word_bag_f1(text, phototest_truth * across) >= 0.95


@pytest.mark.slow
def test_text_left_too_small_is_flagged(backend: RapidOCRBackend, phototest: Path) -> None:
    """A page over the limit both ways (4000 x 9000) with small print: strips still shrink it twice,
    leaving lines about 10 px tall."""
    canvas = Image.new("RGB", (4000, 9000), "white")
    canvas.paste(repeated(Image.open(phototest).convert("RGB"), 1, 1, 0.5), (100, 100))
    _, flags, _ = read(backend, canvas)
    assert flags == [DOWNSCALED]
