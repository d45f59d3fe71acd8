"""Strips and their merge, as pure geometry: which regions the engine sees and how lines come back.

The real engine on real tall and wide pages is in `tests/backends/test_rapidocr_tiling.py`.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from ocrgate.schema import TextLine as Line
from ocrgate.tiling import (
    DOWNSCALED,
    MIN_LINE_HEIGHT,
    Tile,
    engine_shrink,
    merge_lines,
    read_page,
    strips,
)


@pytest.mark.parametrize(
    ("width", "height"),
    [(576, 9220), (9220, 576), (2480, 3508), (5120, 480), (300, 2001), (4000, 12000), (2000, 2001)],
)
def test_strips_cover_the_page_with_overlap_and_fit_the_engine(width: int, height: int) -> None:
    tiles = strips(width, height, 2000)
    along_y = height >= width
    spans = [(t.y0, t.y1) if along_y else (t.x0, t.x1) for t in tiles]
    assert spans[0][0] == 0 and spans[-1][1] == max(width, height)
    short = min(width, height)
    for tile in tiles:  # the full short side, at most as long as the engine takes (or the short side)
        assert (tile.width if along_y else tile.height) == short
        assert max(tile.width, tile.height) <= max(2000, short)
    for (_, end), (start, _) in pairwise(spans):
        assert end - start >= 0.1 * max(2000, short) - 1  # neighbours overlap


def test_a_page_the_engine_takes_whole_is_one_tile() -> None:
    assert strips(640, 480, 2000) == [Tile(0, 0, 640, 480)]
    assert strips(3000, 3000, 2000) == [Tile(0, 0, 3000, 3000)]  # square: strips would not help
    assert engine_shrink(640, 480, 2000) == 1.0
    assert engine_shrink(576, 9220, 2000) == pytest.approx(4.61)


def line(text: str, x0: float, y0: float, x1: float, y1: float) -> Line:
    return Line(text=text, bbox=(x0, y0, x1, y1), score=0.9)


TALL = [Tile(0, 0, 600, 1100), Tile(0, 900, 600, 2000)]
WIDE = [Tile(0, 0, 1100, 300), Tile(900, 0, 2000, 300)]


def test_a_line_whole_in_both_strips_is_kept_once() -> None:
    a = line("TOTAL 12.50", 10, 950, 400, 980)
    b = line("TOTAL 12.50", 11, 951, 401, 981)  # the same line, read again with a pixel of noise
    merged = merge_lines(TALL, [[line("first", 10, 10, 200, 40), a], [b, line("last", 10, 1900, 200, 1930)]])
    assert [ln.text for ln in merged] == ["first", "TOTAL 12.50", "last"]


def test_a_line_cut_by_a_strip_edge_is_taken_from_the_strip_that_holds_it_whole() -> None:
    whole_in_first = line("THANK YOU", 10, 1070, 300, 1099)
    fragment = line("THANK", 10, 1070, 120, 1099)  # a shorter read of the same row
    merged = merge_lines(TALL, [[whole_in_first], [line("THANK YOU", 10, 1069, 300, 1100)]])
    assert [ln.text for ln in merged] == ["THANK YOU"]
    merged = merge_lines(TALL, [[whole_in_first], [fragment]])
    assert [ln.text for ln in merged] == ["THANK YOU"]
    # and the other way round: strip 1 saw the top slice of a line strip 2 holds whole
    merged = merge_lines(TALL, [[line("l1NE", 10, 1085, 300, 1100)], [line("LINE 7", 10, 1085, 300, 1120)]])
    assert [ln.text for ln in merged] == ["LINE 7"]


def test_neighbouring_lines_in_the_overlap_are_not_mistaken_for_one() -> None:
    upper, lower = line("002 MILK", 10, 950, 300, 985), line("003 APPLES", 10, 980, 300, 1015)
    merged = merge_lines(TALL, [[upper, lower], [upper, lower]])
    assert [ln.text for ln in merged] == ["002 MILK", "003 APPLES"]
    left, right = line("BREAD", 10, 950, 100, 980), line("1.00", 104, 950, 160, 980)  # boxes touching
    merged = merge_lines(TALL, [[left], [right]])
    assert sorted(ln.text for ln in merged) == ["1.00", "BREAD"]


def test_a_line_across_side_by_side_strips_is_stitched_at_the_text_both_read() -> None:
    a = line("The quick brown fox jum", 500, 100, 1100, 130)  # cut by strip 1's right edge
    b = line("own fox jumps over the lazy dog", 900, 101, 1700, 131)  # cut by strip 2's left edge
    merged = merge_lines(WIDE, [[a], [b]])
    assert [ln.text for ln in merged] == ["The quick brown fox jumps over the lazy dog"]
    assert merged[0].bbox == (500, 100, 1700, 131)


def test_stitching_without_common_text_cuts_at_the_middle_of_the_overlap() -> None:
    a = line("aaaaaaaaaaXXXXX", 800, 100, 1100, 130)  # 20 px a character: the X's lie past x=1000
    b = line("YYYYYbbbbbbbbbb", 900, 100, 1200, 130)  # and the Y's before it
    assert [ln.text for ln in merge_lines(WIDE, [[a], [b]])] == ["aaaaaaaaaabbbbbbbbbb"]


def test_a_whole_line_in_the_second_strip_replaces_fragments_of_the_first() -> None:
    fragment = line("SHOP", 950, 10, 1100, 40)  # cut by strip 1's right edge
    whole = line("SHOP 24", 950, 10, 1200, 40)
    merged = merge_lines(WIDE, [[line("CORNER", 700, 10, 900, 40), fragment], [whole]])
    assert [ln.text for ln in merged] == ["CORNER", "SHOP 24"]


def test_lines_stitched_over_three_strips() -> None:
    tiles = [Tile(0, 0, 1100, 300), Tile(900, 0, 2000, 300), Tile(1800, 0, 2900, 300)]
    parts = [
        [line("one two three fo", 100, 10, 1100, 40)],
        [line("ree four five six sev", 900, 10, 2000, 40)],
        [line("ix seven eight", 1800, 10, 2600, 40)],
    ]
    assert [ln.text for ln in merge_lines(tiles, parts)] == ["one two three four five six seven eight"]


class Reader:
    """A region reader for the decision logic: lines of a given height wherever it is asked."""

    def __init__(self, line_height: float) -> None:
        self.line_height = line_height
        self.calls: list[Tile] = []

    def __call__(self, tile: Tile) -> tuple[list[Line], list[dict]]:
        self.calls.append(tile)
        y = tile.y0 + 5
        return [line("text", tile.x0 + 5, y, tile.x0 + 200, y + self.line_height)], [{"text": "text"}]


def test_a_page_within_the_engine_is_read_once() -> None:
    reader = Reader(30)
    result = read_page(640, 480, 2000, reader)
    assert reader.calls == [Tile(0, 0, 640, 480)] and result.flags == [] and len(result.tiles) == 1


def test_legible_text_on_a_large_page_is_not_read_again() -> None:
    reader = Reader(60)  # 60 px lines shrunk 1.75 times: 34 px
    result = read_page(2480, 3508, 2000, reader)
    assert len(reader.calls) == 1 and result.flags == []


def test_small_text_on_a_large_page_is_read_again_in_strips() -> None:
    reader = Reader(25)  # shrunk 1.75 times: 14 px, below the threshold; strips shrink 1.24 times
    result = read_page(2480, 3508, 2000, reader)
    assert len(reader.calls) == 3 and len(result.tiles) == 2
    assert result.flags == []
    assert all("tile" in entry for entry in result.raw)


def test_a_narrow_page_goes_to_strips_at_once() -> None:
    reader = Reader(28)
    result = read_page(576, 9220, 2000, reader)
    assert reader.calls == result.tiles and len(result.tiles) == 6
    assert result.flags == []


def test_small_print_the_engine_saw_at_full_size_is_not_flagged() -> None:
    """A 72 dpi table crop (503x249, 10 px lines): nothing was shrunk, so nothing is `downscaled`."""
    for height in (6, 10, MIN_LINE_HEIGHT - 1):
        assert read_page(503, 249, 2000, Reader(height)).flags == []


def test_text_still_too_small_is_flagged() -> None:
    # both sides over the limit: strips are 4000 px squares, shrunk twice
    reader = Reader(MIN_LINE_HEIGHT * 2 - 4)
    result = read_page(4000, 9000, 2000, reader)
    assert result.flags == [DOWNSCALED]
    # no text found on a page still shrunk twice: small print may have gone unseen
    assert read_page(4000, 9000, 2000, lambda tile: ([], [])).flags == [DOWNSCALED]
    # a blank 300 dpi A4 scan: strips shrink it 1.24 times, text would have been found
    assert read_page(2480, 3508, 2000, lambda tile: ([], [])).flags == []
