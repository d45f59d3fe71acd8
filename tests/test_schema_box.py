"""The box type and the geometry and sanitising that live on the schema's types."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ocrgate.render import crop
from ocrgate.schema import Block, Box, PageResult, TextLine, Word

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
COORD = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
SIZE = st.integers(min_value=1, max_value=20_000)
BOXES = st.builds(Box, COORD, COORD, COORD, COORD)
ORDERED = st.tuples(COORD, COORD, COORD, COORD).map(
    lambda v: Box(min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3]))
)


def test_geometry_of_a_box() -> None:
    box = Box(10, 20, 50, 80)
    assert (box.width, box.height, box.area, box.centre) == (40, 60, 2400, (30, 50))
    assert Box(50, 80, 10, 20).width == 0 and Box(50, 80, 10, 20).area == 0  # corners out of order
    assert box == (10, 20, 50, 80)  # still a plain tuple to compare and unpack
    assert box.scaled(0.5, 2) == (5, 40, 25, 160)
    assert Box.union([(0, 5, 10, 10), box]) == (0, 5, 50, 80)
    assert box.intersection((40, 70, 100, 100)) == (40, 70, 50, 80)
    assert box.intersection((50, 0, 60, 10)) is None  # touching edges do not overlap
    assert box.iou(box) == 1 and box.iou((40, 70, 100, 100)) == pytest.approx(100 / (2400 + 1800 - 100))
    assert box.contains((10, 20, 30, 40)) and not box.contains((0, 20, 30, 40))
    assert Box(10.2, 20.7, 49.1, 79.9).pixels() == (10, 20, 50, 80)


def test_clamped_sends_nan_to_zero_and_infinities_to_the_edges() -> None:
    assert Box(math.nan, -math.inf, math.inf, 30).clamped(100, 50) == (0, 0, 100, 30)
    assert Box(90, 40, -5, 10).clamped(100, 50) == (0, 10, 90, 40)  # corners put in order


def test_union_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        Box.union([])


def test_pixels_of_an_unclamped_box_is_an_error() -> None:
    with pytest.raises((ValueError, OverflowError)):
        Box(math.nan, 0, 1, 1).pixels()


@given(ANY_FLOAT, ANY_FLOAT, ANY_FLOAT, ANY_FLOAT, SIZE, SIZE)
def test_a_clamped_box_is_always_inside_the_page(
    x0: float, y0: float, x1: float, y1: float, width: int, height: int
) -> None:
    box = Box(x0, y0, x1, y1).clamped(width, height)
    assert all(math.isfinite(v) for v in box)
    assert 0 <= box.x0 <= box.x1 <= width and 0 <= box.y0 <= box.y1 <= height
    assert Box(0, 0, width, height).contains(box)
    px0, py0, px1, py1 = box.pixels()
    assert 0 <= px0 <= px1 <= width and 0 <= py0 <= py1 <= height


@given(st.lists(ORDERED, min_size=1, max_size=8))
def test_the_union_contains_every_box(boxes: list[Box]) -> None:
    union = Box.union(boxes)
    assert all(union.contains(b) for b in boxes)
    assert {union.x0, union.y0, union.x1, union.y1} <= {v for b in boxes for v in b}  # and no more


@given(ORDERED, ORDERED)
def test_the_intersection_lies_in_both_boxes(a: Box, b: Box) -> None:
    common = a.intersection(b)
    if common is not None:
        assert a.contains(common) and b.contains(common)
    assert 0 <= a.iou(b) <= 1 + 1e-9
    assert a.iou(b) == pytest.approx(b.iou(a))


@given(ORDERED)
def test_the_pixel_box_covers_the_box(box: Box) -> None:
    x0, y0, x1, y1 = box.pixels()
    assert Box(x0, y0, x1, y1).contains(box)
    assert box.x0 - x0 <= 1 and box.y0 - y0 <= 1 and x1 - box.x1 <= 1 and y1 - box.y1 <= 1  # float rounding


@given(BOXES)
def test_json_is_exactly_four_numbers_and_reads_back(box: Box) -> None:
    block = Block(text="x", bbox=box)
    encoded = json.loads(block.model_dump_json())
    assert encoded["bbox"] == list(box)
    back = Block.model_validate_json(block.model_dump_json())
    assert back.bbox == box and isinstance(back.bbox, Box)


def test_boxes_read_from_json_arrays_are_boxes() -> None:
    result = PageResult.model_validate_json(
        '{"index": 0, "width": 10, "height": 10, "blocks": [{"bbox": [1, 2, 3, 4],'
        ' "lines": [{"text": "a", "bbox": [1, 2, 3, 4], "words": [{"text": "a", "bbox": [1, 2, 2, 4]}]}]}]}'
    )
    block = result.blocks[0]
    assert isinstance(block.bbox, Box) and block.bbox.area == 4
    assert isinstance(block.lines[0].words[0].bbox, Box)
    assert Block.model_json_schema()["$defs"]["Box"]["type"] == "array"  # the API's shape is unchanged


def test_sanitised_block_clamps_boxes_drops_bad_scores_and_cleans_html() -> None:
    word = Word(text="a", bbox=(-5, 0, math.inf, 10), score=math.nan)
    line = TextLine(text="a", bbox=(0, math.nan, 500, 10), score=math.inf, words=[word])
    block = Block(
        kind="table",
        bbox=(-10, -10, 1e9, 30),
        score=-math.inf,
        html='<table><tr><td onclick="x()" colspan="2">a<script>alert(1)</script></td></tr></table>',
        lines=[line],
    )
    clean = block.sanitised(100, 50)
    assert clean.bbox == (0, 0, 100, 30) and clean.score is None
    assert clean.html == '<table><tbody><tr><td colspan="2">a</td></tr></tbody></table>'
    assert clean.lines[0].bbox == (0, 0, 100, 10) and clean.lines[0].score is None
    assert clean.lines[0].words[0].bbox == (0, 0, 100, 10) and clean.lines[0].words[0].score is None
    assert block.bbox == (-10, -10, 1e9, 30)  # the original is left as it was
    assert Block(bbox=(1, 2, 3, 4), score=0.5).sanitised(10, 10).score == 0.5


def test_fitted_scales_blocks_lines_and_words() -> None:
    word = Word(text="w", bbox=(10, 10, 20, 20))
    line = TextLine(text="w", bbox=(10, 10, 40, 20), words=[word])
    result = PageResult(index=0, width=100, height=200, blocks=[Block(bbox=(10, 10, 50, 100), lines=[line])])
    fitted = result.fitted(200, 100)
    assert (fitted.width, fitted.height) == (200, 100)
    assert fitted.blocks[0].bbox == (20, 5, 100, 50)
    assert fitted.blocks[0].lines[0].bbox == (20, 5, 80, 10)
    assert fitted.blocks[0].lines[0].words[0].bbox == (20, 5, 40, 10)
    assert result.fitted(100, 200) is result


def test_crop_takes_the_covering_pixels_inside_the_image() -> None:
    page = Image.new("RGB", (100, 50), "white")
    assert crop(page, Box(10.5, 5.2, 20.1, 15.0)).size == (11, 10)
    assert crop(page, Box(-10, -10, 1000, 1000)).size == (100, 50)
    assert crop(page, Box(60, 60, 70, 70)).size == (1, 1)  # off the page: an empty crop
