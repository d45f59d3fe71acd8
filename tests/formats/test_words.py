"""Lines and words: RapidOCR's word boxes on the ink of each word, and the estimates for engines that
give only blocks."""

from __future__ import annotations

import pytest

from ocrgate.backends.rapidocr import _line_words
from ocrgate.formats import block_lines
from ocrgate.formats.lines import estimated_words
from ocrgate.schema import Block, TextLine, Word
from tests.formats.conftest import Recognised
from tests.formats.pdf_text import ink


@pytest.mark.parametrize("name", ["phototest_rapidocr", "docling_rapidocr"])
def test_rapidocr_words_spell_each_line_and_sit_on_its_ink(name: str, request: pytest.FixtureRequest) -> None:
    recognised: Recognised = request.getfixturevalue(name)
    page = recognised.response.pages[0]
    lines = [line for block in page.blocks for line in block.lines]
    assert lines and all(line.words for line in lines)  # every RapidOCR line has its words
    assert [ln.text for ln in lines] == [ln.text for b in page.blocks for ln in b.lines]
    for line in lines:
        assert [w.text for w in line.words] == line.text.split()
        lefts = [w.bbox[0] for w in line.words]
        assert lefts == sorted(lefts)
        for word in line.words:
            x0, y0, x1, y1 = word.bbox
            assert (
                line.bbox[0] - 2 <= x0 < x1 <= line.bbox[2] + 2
                and line.bbox[1] - 2 <= y0 < y1 <= line.bbox[3] + 2
            )
            assert word.score is None  # rapidocr 3.x gives no word confidence (see _line_words)
            assert ink(recognised.image, word.bbox) > 0.03, (word.text, word.bbox)


def test_rapidocr_pieces_join_into_the_lines_words() -> None:
    """RapidOCR splits at gaps inside a word too; pieces with no space between them are one word."""
    quad = [[0, 0], [10, 0], [10, 20], [0, 20]]
    pieces = [
        ("Hel", 0.9, quad),
        ("lo,", 0.8, [[12, 1], [30, 1], [30, 21], [12, 21]]),
        ("you", 1.0, [[40, 0], [60, 0], [60, 20], [40, 20]]),
    ]
    words = _line_words("Hello, you", pieces, 100, 100)
    assert words == (Word(text="Hello,", bbox=(0, 0, 30, 21)), Word(text="you", bbox=(40, 0, 60, 20)))
    assert _line_words("Hello you", [("Hxllo", 1.0, quad)], 100, 100) == ()  # pieces that do not spell it


def test_estimated_words_share_the_line_by_characters() -> None:
    words = estimated_words("ab  cdef", (100, 10, 170, 30))  # 7 characters once spaces are single
    assert [w.text for w in words] == ["ab", "cdef"]
    assert words[0].bbox == pytest.approx((100, 10, 120, 30))
    assert words[1].bbox == pytest.approx((130, 10, 170, 30))
    assert estimated_words("   ", (0, 0, 10, 10)) == []


def test_blocks_without_lines_are_split_into_bands(docling_deepseek: Recognised) -> None:
    page = docling_deepseek.response.pages[0]
    assert not any(block.lines for block in page.blocks)  # DeepSeek-OCR gives blocks only
    for block in page.blocks:
        lines = block_lines(block, page.width, page.height)
        if block.kind == "table":
            assert len(lines) >= 5 and "|" not in " ".join(ln.text for ln in lines)  # rows, not markdown
        elif block.text.strip():
            assert [ln.text for ln in lines] == [
                " ".join(t.split()) for t in block.text.splitlines() if t.strip()
            ]
        for line in lines:
            x0, y0, x1, y1 = line.bbox
            assert block.bbox[0] <= x0 < x1 <= block.bbox[2] and block.bbox[1] <= y0 < y1 <= block.bbox[3]
            assert [w.text for w in line.words] == line.text.split()
            assert all(x0 <= w.bbox[0] < w.bbox[2] <= x1 + 1e-6 for w in line.words)


def test_engine_boxes_are_kept_inside_the_page() -> None:
    word = Word(text="edge", bbox=(90, -5, 130, 20))
    line = TextLine(text="edge", bbox=(80, -5, 130, 20), words=[word])
    [kept] = block_lines(Block(text="edge", bbox=(80, 0, 100, 20), lines=[line]), 100, 100)
    assert kept.bbox == (80, 0, 100, 20) and kept.words[0].bbox == (90, 0, 100, 20)
    assert block_lines(Block(kind="figure", bbox=(0, 0, 50, 50)), 100, 100) == []
    blank = TextLine(text="  ", bbox=(0, 0, 10, 10))
    assert block_lines(Block(text="", bbox=(0, 0, 10, 10), lines=[blank]), 100, 100) == []
