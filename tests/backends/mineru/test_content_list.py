"""The content-list parser and the structured-content adapter, on MinerU's own outputs and on garbage.

The fixtures' `*.content_list.json` and `*.structured_content.json` were written by the real mineru
4.0.12 (tests/fixtures/mineru/README.md); test_mineru_contract.py checks they still are.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ocrgate.backends.mineru.content_list import grid_bbox_to_pixels, parse_content_list
from ocrgate.backends.mineru.page_range import chunks, format_pages, select_pages
from ocrgate.backends.mineru.structured import content_list_from_structured
from ocrgate.errors import InvalidOption
from ocrgate.schema import BLOCK_KINDS, PageResult
from tests.backends.mineru.helpers import FIXTURES, assert_text_where_boxes_are, page_sizes

FLASH_PDFS = {
    "multi_page": "docling_pdf/pdf/multi_page.pdf",
    "code_and_formula": "docling_pdf/pdf/code_and_formula.pdf",
    "redp5110_sampled": "docling_pdf/pdf/redp5110_sampled.pdf",
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_boxes_are_the_1000_grid_of_each_page_in_its_pixels() -> None:
    entries = [
        {"type": "text", "text": "whole page", "bbox": [0, 0, 1000, 1000], "page_idx": 0},
        {"type": "text", "text": "a quarter", "bbox": [500, 250, 750, 500], "page_idx": 1},
        {"type": "text", "text": "spills over", "bbox": [900, -20, 1200, 50.5], "page_idx": 1},
    ]
    first, second = parse_content_list(entries, [(1191, 1684), (600, 800)])
    assert first.blocks[0].bbox == (0.0, 0.0, 1191.0, 1684.0)
    assert second.blocks[0].bbox == (300.0, 200.0, 450.0, 400.0)
    assert second.blocks[1].bbox == (540.0, 0.0, 600.0, pytest.approx(40.4))
    assert (first.width, first.height, second.index) == (1191, 1684, 1)


@pytest.mark.parametrize("name", sorted(FLASH_PDFS))
@pytest.mark.parametrize("source", ["content_list", "structured_content"])
def test_real_mineru_output_puts_each_text_where_the_pdf_has_it(
    eval_dir: Path, name: str, source: str
) -> None:
    """MinerU 4.0.12's own output for these PDFs, parsed onto our 144-dpi page images: the text layer
    inside every text/title box is that block's text (pdfium's own page->pixel transform decides)."""
    data = (eval_dir / FLASH_PDFS[name]).read_bytes()
    sizes = page_sizes(data)
    raw = fixture(f"{name}.{source}.json")
    entries = raw if source == "content_list" else content_list_from_structured(raw)
    results = parse_content_list(entries, sizes)
    assert [(r.index, r.width, r.height) for r in results] == [(i, w, h) for i, (w, h) in enumerate(sizes)]
    assert all(r.blocks for r in results if r.index != 16 or name != "redp5110_sampled")  # p17: blank
    assert assert_text_where_boxes_are(data, results) >= 10
    assert not any(r.flags for r in results)


def test_misplaced_boxes_fail_the_place_check(eval_dir: Path) -> None:
    """The place check is not vacuous: boxes moved by a tenth of the page, or onto the next page, fail."""
    data = (eval_dir / FLASH_PDFS["multi_page"]).read_bytes()
    sizes = page_sizes(data)
    results = parse_content_list(fixture("multi_page.content_list.json"), sizes)
    shifted = [r.model_copy(deep=True) for r in results]
    for result in shifted:
        for block in result.blocks:
            x0, y0, x1, y1 = block.bbox
            dy = result.height / 10
            block.bbox = (x0, min(y0 + dy, result.height - 1), x1, min(y1 + dy, result.height))
    with pytest.raises(AssertionError):
        assert_text_where_boxes_are(data, shifted)
    swapped = [r.model_copy(update={"index": (r.index + 1) % len(results)}) for r in results]
    with pytest.raises(AssertionError):
        assert_text_where_boxes_are(data, swapped)


def test_every_content_list_type_becomes_a_block() -> None:
    """all_types: a middle JSON with every MinerU block type, rendered by MinerU's V1 renderer."""
    first, second = parse_content_list(fixture("all_types.content_list.json"), [(1000, 2000), (1000, 2000)])
    kinds = [(b.kind, b.label) for b in first.blocks]
    assert kinds == [
        ("header", "header"),
        ("title", "text"),
        ("title", "text"),
        ("text", "text"),
        ("equation", "equation"),
        ("list", "text"),
        ("table", "table"),
        ("figure", "image"),
        ("text", "page_footnote"),
        ("footer", "footer"),
        ("footer", "page_number"),
    ]
    header, doc_title, heading, text, equation, items, table, figure = first.blocks[:8]
    assert (doc_title.level, heading.level, heading.text) == (1, 2, "Section heading")
    assert "**bold**" in text.text and "$a^2+b^2$" in text.text
    assert equation.text == "E = mc^2"
    assert items.text == "- first item\n- second item\n- nested item"
    assert table.html is not None and table.html.startswith("<table>")
    assert table.text.startswith("Table 1: Results") and table.text.endswith("Source: tests.")
    assert figure.text == "Figure 1: A picture"
    assert header.bbox == (100.0, 40.0, 600.0, 80.0)
    kinds = [(b.kind, b.label, b.text.splitlines()[0]) for b in second.blocks]
    assert kinds == [
        ("header", "aside_text", "margin note"),
        ("caption", "code_caption", "Listing 1: hello"),
        ("code", "code", "def hello():"),
        ("code", "algorithm", "1: x <- 0"),
        ("figure", "chart", "Chart 1: bars"),
        ("list", "index", "- Introduction 1"),
        ("list", "ref_text", "[1] A. Author. A paper. 2020."),
        ("text", "text", "Coordinates that int() truncates."),
    ]


def test_structured_content_gives_mineru_s_own_content_list() -> None:
    """Our adapter on MinerU's structured content == MinerU's V1 content list of the same middle JSON,
    except that V1 truncates boxes to whole grid units and carries tables as HTML, not markdown."""
    ours = content_list_from_structured(fixture("all_types.structured_content.json"))
    theirs = fixture("all_types.content_list.json")
    assert len(ours) == len(theirs)
    for mine, real in zip(ours, theirs, strict=True):
        assert set(mine) == set(real), (mine, real)
        for key, value in real.items():
            if key == "bbox":
                assert all(0 <= m - r < 1 for m, r in zip(mine[key], value, strict=True)), (mine, real)
            elif key not in ("table_body", "content"):
                assert mine[key] == value, (key, mine, real)
    truncated = ours[-1]["bbox"][0]
    assert truncated == pytest.approx(285.7) and theirs[-1]["bbox"][0] == 285


def test_phototest_fixture_boxes_cover_the_ink(phototest: Path, phototest_truth: str) -> None:
    pixels = np.asarray(Image.open(phototest).convert("L")) < 128
    rows, cols = np.nonzero(pixels)
    (result,) = parse_content_list(
        content_list_from_structured(fixture("phototest.structured_content.json")), [(640, 480)]
    )
    assert [b.kind for b in result.blocks] == ["text", "text"]
    assert " ".join(b.text for b in result.blocks).split() == phototest_truth.split()
    for x, y in zip(cols[::50], rows[::50], strict=True):
        assert any(b.bbox[0] <= x <= b.bbox[2] and b.bbox[1] <= y <= b.bbox[3] for b in result.blocks)
    union = (min(b.bbox[0] for b in result.blocks), min(b.bbox[1] for b in result.blocks))
    assert union[0] <= cols.min() and union[1] <= rows.min()
    assert (
        max(b.bbox[2] for b in result.blocks) - cols.max() < 10
        and max(b.bbox[3] for b in result.blocks) - rows.max() < 10
    )


def test_bad_entries_are_counted_never_fatal() -> None:
    entries: list[Any] = [
        "not an object",
        {"type": "text", "text": "no page"},
        {"type": "text", "text": "page out of range", "page_idx": 7},
        {"type": "text", "text": "bool page", "page_idx": True},
        {"type": None, "text": "no type", "page_idx": 0},
        {"type": "text", "text": "nan box", "bbox": [0, math.nan, 10, 10], "page_idx": 0},
        {"type": "text", "text": "huge box", "bbox": [0, 0, 10**400, 10], "page_idx": 0},
        {"type": "text", "text": "three numbers", "bbox": [1, 2, 3], "page_idx": 0},
        {"type": "text", "text": "  ", "bbox": [1, 2, 3, 4], "page_idx": 0},
        {
            "type": "image",
            "img_path": "data:image/jpeg;base64," + "A" * 5000,
            "bbox": [0, 0, 500, 500],
            "page_idx": 0,
        },
        {"type": "mystery", "content": "kept as text", "bbox": [0, 0, 10, 10], "page_idx": 0},
    ]
    (page,) = parse_content_list(entries, [(100, 200)])
    assert [b.text for b in page.blocks] == ["nan box", "huge box", "three numbers", "", "kept as text"]
    assert page.blocks[0].bbox == (0.0, 0.0, 0.0, 0.0)
    assert page.flags == [
        "mineru: 1 malformed content-list entries skipped",
        "mineru: 3 blocks without a usable bbox",
        "mineru: 4 content-list entries without a page of this document",
    ]
    assert len(page.raw) == 7 and len(page.raw[5]["img_path"]) < 100 and page.raw[1]["bbox"][1] is None


def test_page_ranges_follow_mineru_s_syntax() -> None:
    assert select_pages(None, 3) == select_pages("all", 3) == [0, 1, 2]
    assert select_pages("1-2, 5,r1", 10) == [0, 1, 4, 9]
    assert select_pages("r3-r1", 5) == [2, 3, 4]
    assert select_pages("4-99", 5) == [3, 4]
    for bad in ("0", "3-1", "r1-r3", "1~3", "a", "6-7", "1-", "-1"):
        with pytest.raises(InvalidOption, match="page_range"):
            select_pages(bad, 5)
    assert format_pages([0, 1, 2, 5, 7, 8]) == "1-3,6,8-9"
    assert chunks(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert chunks([3, 4], 0) == [[3, 4]]


# ---- fuzzing: whatever comes back from an engine, the parser answers -------------------------------

_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12), st.integers(min_value=10**300)
)
_json = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_number = st.one_of(st.integers(-(10**6), 10**6), st.floats(), st.integers(min_value=10**300), st.booleans())
_bbox = st.one_of(st.lists(_number, max_size=6), _json)
_types = st.sampled_from(
    ["text", "title", "equation", "list", "index", "table", "image", "chart", "code", "header", "footer",
     "page_number", "aside_text", "page_footnote", "ref_text", "doc_title", "paragraph_title", "?"]
)  # fmt: skip
_strings = st.one_of(
    st.text(max_size=30), st.lists(st.one_of(st.text(max_size=10), _json), max_size=3), _json
)
_entry = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(_types, _json),
        "page_idx": st.one_of(st.integers(-2, 4), _json),
        "bbox": _bbox,
        "text": _strings,
        "text_level": st.one_of(st.integers(-3, 9), st.floats(), _json),
        "list_items": _strings,
        "table_body": _strings,
        "table_caption": _strings,
        "image_caption": _strings,
        "code_body": _strings,
        "code_caption": _strings,
        "content": _strings,
        "sub_type": _strings,
    },
)
_sizes = st.lists(st.tuples(st.integers(1, 4000), st.integers(1, 4000)), min_size=1, max_size=4)
_block = st.fixed_dictionaries(
    {"type": st.one_of(_types, _json)},
    optional={
        "bbox": st.one_of(st.lists(st.floats(-0.5, 1.5), min_size=4, max_size=4), _bbox),
        "content": _strings,
        "level": st.one_of(st.integers(-1, 8), _json),
        "captions": st.one_of(st.lists(st.fixed_dictionaries({"content": _strings}), max_size=2), _json),
        "sub_type": _strings,
    },
)
_structured = st.one_of(
    st.fixed_dictionaries(
        {
            "pages": st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "page_idx": st.one_of(st.integers(-1, 4), _json),
                            "blocks": st.lists(st.one_of(_block, _json), max_size=6),
                        }
                    ),
                    _json,
                ),
                max_size=4,
            )
        }
    ),
    _json,
)


def check_pages(results: list[PageResult], sizes: list[tuple[int, int]]) -> None:
    assert [(r.width, r.height) for r in results] == sizes
    for result in results:
        for block in result.blocks:
            x0, y0, x1, y1 = block.bbox
            assert 0 <= x0 <= x1 <= result.width and 0 <= y0 <= y1 <= result.height
            assert block.kind in BLOCK_KINDS
            assert block.level is None or 1 <= block.level <= 6


def fuzz_once(entries: list[Any], structured: Any, sizes: list[tuple[int, int]]) -> None:
    check_pages(parse_content_list(entries, sizes), sizes)
    check_pages(parse_content_list(content_list_from_structured(structured), sizes), sizes)
    json.dumps([r.model_dump() for r in parse_content_list(entries, sizes)], allow_nan=False)


_fuzz_args = (st.lists(st.one_of(_entry, _json), max_size=12), _structured, _sizes)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(*_fuzz_args)
def test_random_and_malformed_input_never_raises_and_boxes_stay_on_the_page(
    entries, structured, sizes
) -> None:  # type: ignore[no-untyped-def]
    fuzz_once(entries, structured, sizes)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(*_fuzz_args)
def test_random_and_malformed_input_long(entries, structured, sizes) -> None:  # type: ignore[no-untyped-def]
    fuzz_once(entries, structured, sizes)


@given(st.lists(_number, min_size=4, max_size=4), st.integers(1, 5000), st.integers(1, 5000))
def test_grid_box_is_inside_the_page_or_none(box: list[Any], width: int, height: int) -> None:
    pixels = grid_bbox_to_pixels(box, width, height)
    assert pixels is None or (0 <= pixels[0] < pixels[2] <= width and 0 <= pixels[1] < pixels[3] <= height)
