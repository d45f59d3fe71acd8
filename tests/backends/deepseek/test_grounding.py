"""DeepSeek-OCR's grounding output -> blocks: hand-written answers for real pages, then properties."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocrgate.backends.deepseek.grounding import FLAGS, GRID, KINDS, collapse_repeats, parse_grounding
from ocrgate.schema import Block
from ocrgate.tables import parse_markdown_tables
from tests.helpers import cer, normalise

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "deepseek"
INDEX: list[dict[str, str]] = json.loads((FIXTURES / "fixtures.json").read_text(encoding="utf-8"))
# image sizes of the fixtures' pages (test_fixture_sizes_match_manifest keeps them honest)
SIZES: dict[str, tuple[int, int]] = {
    "tesseract_test/images/phototest.png": (640, 480),
    "docling_pdf/images/2305.03393v1-pg9_p1.png": (1275, 1650),
    "olmocr_bench_sample/images/small_page_size_p1.png": (750, 1250),
    "olmocr_bench_sample/images/hf_ff518b1240a66978f22035528ccb029450b5_pg2_p1.png": (1365, 2179),
    "olmocr_bench_sample/images/hf_ff1fc6a205ad039139ce566851b6b260c929_pg1_p1.png": (1500, 1125),
}
_DET = re.compile(r"<\|det\|>(.*?)<\|/det\|>", re.S)
_NOT_IN_MARKDOWN = {"header", "footer"}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def parse_fixture(name: str, size: tuple[int, int] | None = None):
    entry = next(e for e in INDEX if e["file"] == name)
    width, height = size or SIZES[entry["image"]]
    return parse_grounding(fixture(name), width, height, entry["finish_reason"])


def grid_boxes(text: str) -> list[list[list[int]]]:
    """The boxes of each det tag, as the model wrote them on the 0..999 grid."""
    return [json.loads(m.group(1)) for m in _DET.finditer(text)]


def expected_bbox(boxes: list[list[int]], width: int, height: int) -> tuple[float, ...]:
    xs = [v / GRID * width for b in boxes for v in (b[0], b[2])]
    ys = [v / GRID * height for b in boxes for v in (b[1], b[3])]
    return min(xs), min(ys), max(xs), max(ys)


def assert_sane(blocks: list[Block], markdown: str, width: int, height: int) -> None:
    for block in blocks:
        x0, y0, x1, y1 = block.bbox
        assert 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height, block.bbox
        for text in (block.text, block.label or "", block.html or ""):
            assert "<|" not in text and "<｜" not in text
    assert "<|" not in markdown and "<｜" not in markdown


# ---------------------------------------------------------------- fixtures


def test_fixture_index_is_accurate() -> None:
    files = {p.name for p in FIXTURES.glob("*.md")} - {"README.md"}
    assert {e["file"] for e in INDEX} == files
    for entry in INDEX:
        assert entry["image"] in SIZES
        assert entry["mode"] in ("document", "free", "locate")
        assert entry["finish_reason"] in ("stop", "length")
    keys = [(SIZES[e["image"]], e["mode"]) for e in INDEX]
    assert len(keys) == len(set(keys)), "a fake server picks the answer by image size and mode"


def test_fixture_sizes_match_manifest(manifest: dict[str, dict]) -> None:
    sizes = {e["image"]: tuple(e["image_size"]) for e in manifest.values()}
    for image, size in SIZES.items():
        assert sizes[image] == size


@pytest.mark.parametrize("name", [e["file"] for e in INDEX])
def test_fixture_parses_sanely(name: str) -> None:
    entry = next(e for e in INDEX if e["file"] == name)
    width, height = SIZES[entry["image"]]
    page = parse_fixture(name)
    assert page.blocks
    assert_sane(page.blocks, page.markdown, width, height)
    assert set(page.flags) <= set(FLAGS) and len(page.flags) == len(set(page.flags))


def test_phototest_matches_ground_truth(phototest_truth: str) -> None:
    page = parse_fixture("phototest.md")
    assert [(b.kind, b.label) for b in page.blocks] == [("text", "text"), ("text", "text")]
    assert page.flags == []
    assert cer(page.markdown, phototest_truth) < 0.02
    assert cer(" ".join(b.text for b in page.blocks), phototest_truth) < 0.02


def test_free_ocr_is_one_page_block(phototest_truth: str) -> None:
    page = parse_fixture("free_ocr.md")
    (block,) = page.blocks
    assert block.kind == "text" and block.label is None
    assert block.bbox == (0, 0, 640, 480)
    assert page.flags == ["no_grounding"]
    assert cer(page.markdown, phototest_truth) < 0.02


def test_locate_gives_the_phrase_box() -> None:
    page = parse_fixture("locate.md")
    (block,) = page.blocks
    assert block.label == "12 point text" and block.text == "" and page.markdown == ""
    # "12 point text" is inked at x 251..426, y 92..121 on the 640x480 page
    x0, y0, x1, y1 = block.bbox
    assert 240 < x0 < 251 and 426 < x1 < 436 and 84 < y0 < 92 and 121 < y1 < 130
    assert page.flags == []


def test_docling_page_kinds_labels_levels() -> None:
    page = parse_fixture("docling_table_page.md")
    got = [(b.kind, b.label, b.level) for b in page.blocks]
    assert got == [
        ("header", "header", None),
        ("header", "page_header", None),
        ("text", "text", None),
        ("title", "sub_title", 2),
        ("text", "text", None),
        ("caption", "table_caption", None),
        ("table", "table", None),
        ("title", "sub_title", 2),
        ("text", "text", None),
        ("text", "text", None),
    ]
    assert page.flags == []
    assert page.blocks[3].text == "5.1 Hyper Parameter Optimization"
    assert "## 5.1 Hyper Parameter Optimization" in page.markdown
    assert "Optimized Table Tokenization" not in page.markdown  # running head: blocks only
    assert "end▁of▁sentence" not in page.markdown + page.blocks[-1].text


def test_docling_page_text_against_its_text_layer(eval_dir: Path) -> None:
    truth = (eval_dir / "docling_pdf" / "gt" / "2305.03393v1-pg9_p1.txt").read_text(encoding="utf-8")
    page = parse_fixture("docling_table_page.md")
    words = set(normalise(" ".join(b.text for b in page.blocks)).replace("|", " ").split())
    truth_words = set(normalise(truth).split())
    assert len(words & truth_words) / len(truth_words) > 0.9


def test_docling_table_block() -> None:
    table = next(b for b in parse_fixture("docling_table_page.md").blocks if b.kind == "table")
    assert table.html and table.html.startswith("<table>") and 'rowspan="2"' in table.html
    lines = table.text.splitlines()
    assert lines[0].startswith("| # enc-layers | # dec-layers | Language | TEDs |  |  | mAP (0.75) |")
    assert lines[1].startswith("| --- |")
    (grid,) = parse_markdown_tables(table.text)
    assert len(grid.slots) == 10 and len(grid.slots[0]) == 8
    assert lines[2] == "|  |  |  | simple | complex | all |  |  |"
    assert lines[3] == "| 6 | 6 | OTSL | 0.965 | 0.934 | 0.955 | 0.88 | 2.73 |"
    assert lines[4] == "|  |  | HTML | 0.969 | 0.927 | 0.955 | 0.857 | 5.39 |"
    assert table.text in parse_fixture("docling_table_page.md").markdown


@pytest.mark.parametrize("size", [(640, 480), (1275, 1650), (612, 792), (2550, 3300)])
def test_boxes_round_trip_to_pixels(size: tuple[int, int]) -> None:
    width, height = size
    for name in ("phototest.md", "docling_table_page.md", "truncated.md", "locate.md"):
        page = parse_fixture(name, size)
        boxes = grid_boxes(fixture(name))
        assert len(boxes) == len(page.blocks)
        for block, grid in zip(page.blocks, boxes, strict=True):
            assert all(0 <= v <= GRID for box in grid for v in box)
            assert block.bbox == pytest.approx(expected_bbox(grid, width, height), abs=1.0)
            x0, y0, x1, y1 = block.bbox
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def test_truncated_keeps_its_text() -> None:
    page = parse_fixture("truncated.md")
    assert page.flags == ["truncated"]
    assert [b.kind for b in page.blocks].count("text") == 6
    table = page.blocks[-1]
    assert table.kind == "table" and table.html and table.html.endswith("Fatty mat")
    assert "| Earthy and saline matter | 40 | parts. |" in table.text
    assert "Cartilage and jelly" in table.text and "Fatty mat" in table.text
    assert "ANALYSIS." in page.markdown
    # the same answer without finish_reason: the open table still says it was cut off
    assert parse_grounding(fixture("truncated.md"), 750, 1250).flags == ["truncated"]


def test_repetition_is_cut_down() -> None:
    page = parse_fixture("repetition.md")
    assert page.flags == ["truncated", "repetition"]
    last = page.blocks[-1]
    assert last.text.startswith("Many articles in *Prophet of the Jubilee* rebut arguments")
    assert 1 <= last.text.count("Persecution Again!—Again!!") <= 3
    assert len(page.markdown) < len(fixture("repetition.md")) / 4
    assert [b.kind for b in page.blocks] == ["header", "title", "text", "text", "text"]


def test_malformed_keeps_text_and_drops_tags() -> None:
    page = parse_fixture("malformed.md")
    assert page.flags == ["malformed_tags"]
    kinds = [(b.kind, b.label) for b in page.blocks]
    assert kinds == [
        ("title", "title"),
        ("text", "text"),  # <|ref|>text without <|/ref|>: the label is still found
        ("text", None),  # a det without a ref
        ("figure", "image"),  # unparseable box: the whole page
        ("figure", "image"),
        ("footer", "page_footer"),
        ("footer", "page_footer"),
    ]
    for words in ("Abstract 5107", "Tom Hammel", "Bill Otting, Aerojet Rocketdyne", "RTG Degradation"):
        assert words in page.markdown
    assert page.blocks[3].bbox == (0, 0, 1500, 1125)
    assert [b.text for b in page.blocks[-2:]] == ["NETS 2015", "1"]


# ---------------------------------------------------------------- rules, one at a time


def region(label: str, boxes: str, content: str) -> str:
    return f"<|ref|>{label}<|/ref|><|det|>{boxes}<|/det|>\n{content}"


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("text", "text"),
        ("title", "title"),
        ("sub_title", "title"),
        ("table", "table"),
        ("image", "figure"),
        ("figure", "figure"),
        ("image_caption", "caption"),
        ("table_caption", "caption"),
        ("figure_caption", "caption"),
        ("equation", "equation"),
        ("header", "header"),
        ("page_header", "header"),
        ("footer", "footer"),
        ("page_footer", "footer"),
        ("footnote", "text"),
        ("list", "list"),
        ("code", "code"),
        ("something_new", "text"),
        ("Page-Footer", "footer"),
    ],
)
def test_label_to_kind(label: str, kind: str) -> None:
    (block,) = parse_grounding(region(label, "[[0, 0, 999, 999]]", "x"), 100, 100).blocks
    assert block.kind == kind and block.label == label


def test_title_levels() -> None:
    blocks = parse_grounding(
        "\n\n".join(
            region(label, "[[0, 0, 9, 9]]", text)
            for label, text in [
                ("title", "Plain"),
                ("sub_title", "Sub"),
                ("title", "### Third"),
                ("sub_title", "#"),
            ]
        ),
        100,
        100,
    ).blocks
    assert [(b.level, b.text) for b in blocks] == [(1, "Plain"), (2, "Sub"), (3, "Third"), (1, "")]


@pytest.mark.parametrize("latex", [r"\[ E = mc^2 \]", "$$E = mc^2$$", "$$\nE = mc^2\n$$", "E = mc^2"])
def test_equation_delimiters(latex: str) -> None:
    page = parse_grounding(region("equation", "[[0, 0, 9, 9]]", latex), 100, 100)
    assert page.blocks[0].text == "E = mc^2"
    assert page.markdown == "$$\nE = mc^2\n$$"


def test_table_that_is_not_html_stays_as_written() -> None:
    markdown = "| a | b |\n| --- | --- |\n| 1 | 2 |"
    (block,) = parse_grounding(region("table", "[[0, 0, 9, 9]]", markdown), 100, 100).blocks
    assert block.text == markdown and block.html is None


def test_several_boxes_make_one_union_block() -> None:
    (block,) = parse_grounding(region("text", "[[0, 0, 99, 99], [899, 899, 999, 999]]", "x"), 999, 999).blocks
    assert block.bbox == pytest.approx((0, 0, 999, 999))


def test_boxes_are_ordered_and_clamped() -> None:
    page = parse_grounding(region("text", "[[500, 600, 100, 200]]", "x"), 999, 999)
    assert page.blocks[0].bbox == pytest.approx((100, 200, 500, 600)) and page.flags == []
    page = parse_grounding(region("text", "[[-20, 100, 1500, 99999999999999]]", "x"), 640, 480)
    assert page.blocks[0].bbox == pytest.approx((0, 100 / 999 * 480, 640, 480))
    assert page.flags == ["bbox_out_of_range"]


def test_zero_area_box_still_gives_a_block() -> None:
    page = parse_grounding(region("text", "[[1200, 1200, 1300, 1300]]", "kept"), 100, 100)
    assert page.blocks[0].bbox == (100, 100, 100, 100) and page.blocks[0].text == "kept"


def test_empty_and_blank_answers() -> None:
    assert parse_grounding("", 10, 10).model_dump() == {"blocks": [], "markdown": "", "flags": ["empty"]}
    assert parse_grounding("  \n<｜end▁of▁sentence｜>", 10, 10, "length").flags == ["empty", "truncated"]


def test_text_before_the_first_region_covers_the_page() -> None:
    page = parse_grounding("Intro words\n\n" + region("text", "[[0, 0, 9, 9]]", "body"), 200, 100)
    intro, body = page.blocks
    assert (intro.text, intro.bbox, intro.label) == ("Intro words", (0, 0, 200, 100), None)
    assert body.text == "body" and body.bbox == pytest.approx((0, 0, 9 / 999 * 200, 9 / 999 * 100))
    assert page.flags == []


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("<|ref|>text<|/ref|><|det|>[[1, 2, 3", ["truncated"]),
        ("<|ref|>te", ["truncated"]),
        ("<|ref|>text<|/ref|>", ["truncated"]),
        (region("table", "[[0, 0, 9, 9]]", "<table><tr><td>a</td>"), ["truncated"]),
        (region("text", "[[0, 0, 9, 9]]", "all there"), []),
    ],
)
def test_truncation(text: str, flags: list[str]) -> None:
    assert parse_grounding(text, 100, 100).flags == flags
    assert "truncated" in parse_grounding(text, 100, 100, finish_reason="length").flags


def test_malformed_tags_keep_their_text() -> None:
    text = (
        "<|/det|>lead "
        + region("text", "[[a, b]]", "middle <|/ref|>part")
        + "\n<|det|>[[0,0,9,9]]<|/det|>tail"
    )
    page = parse_grounding(text, 100, 100)
    assert page.flags == ["malformed_tags"]
    assert [b.text for b in page.blocks] == ["lead", "middle part", "tail"]
    assert page.blocks[1].bbox == (0, 0, 100, 100)


def test_repeated_cells_collapse() -> None:
    table = "<table><tr>" + "<td></td>" * 500 + "</tr></table>"
    page = parse_grounding(region("table", "[[0, 0, 9, 9]]", table), 100, 100)
    assert "repetition" in page.flags
    assert page.blocks[0].html is not None and page.blocks[0].html.count("<td>") <= 6


def test_phrase_repeated_at_the_end_collapses() -> None:
    page = parse_grounding("Some text. " + "and so on and so forth, " * 50, 100, 100, "length")
    assert page.flags == ["no_grounding", "truncated", "repetition"]
    assert page.blocks[0].text.count("and so on and so forth") <= 3


def test_collapse_keeps_two_copies_and_the_tail() -> None:
    text = "head\n" + "the same line, again and again\n" * 100 + "tail"
    collapsed, looped = collapse_repeats(text)
    assert looped and collapsed == "head\n" + "the same line, again and again\n" * 2 + "tail"


@pytest.mark.parametrize(
    "text",
    [
        "Contents" + "." * 120 + "12",
        "| --- " * 40 + "|",
        "<table>" + "<tr><td>0</td><td>0</td></tr>" * 12 + "</table>",
        "la " * 60,
    ],
)
def test_ordinary_repeats_are_not_loops(text: str) -> None:
    assert collapse_repeats(text) == (text, False)


def test_large_inputs_are_fast() -> None:
    base = fixture("docling_table_page.md")
    inputs = [
        (base * 60)[:200_000],
        "x" * 200_000,
        "<|ref|>" * 30_000,
        "<|det|>[" + "[" * 200_000,
        "".join(f"line {i} of a long answer\n" for i in range(9000)),
        region("table", "[[0, 0, 9, 9]]", "<table><tr>" + "<td></td>" * 20_000),
    ]
    for text in inputs:
        start = time.perf_counter()
        parse_grounding(text, 1275, 1650, "length")
        assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------- properties

LABELS = st.one_of(
    st.sampled_from([*KINDS, "text", "footnote", "list"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ ", min_size=1, max_size=20),
)
COORD = st.integers(min_value=0, max_value=GRID)
BOX = st.lists(COORD, min_size=4, max_size=4)
# content without tag characters (and without what a kind's markdown treats specially)
CONTENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<>|[]#$\\`"), max_size=120
)
REGIONS = st.lists(st.tuples(LABELS, st.lists(BOX, min_size=1, max_size=3), CONTENT), min_size=1, max_size=8)
SIZES_ST = st.tuples(st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=5000))
INSERTS = ["<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<|grounding|>", "<|", "|>", "[[", "]]",
           "<｜end▁of▁sentence｜>", "<table>", "</table>", "\n\n", "[[1500, -3, 7, 1e9]]"]  # fmt: skip


def render(regions: list[tuple[str, list[list[int]], str]]) -> str:
    return "\n\n".join(region(label, json.dumps(boxes), content) for label, boxes, content in regions)


def check_well_formed(regions: list[tuple[str, list[list[int]], str]], size: tuple[int, int]) -> None:
    width, height = size
    page = parse_grounding(render(regions), width, height)
    assert page.flags == []
    assert len(page.blocks) == len(regions)
    assert_sane(page.blocks, page.markdown, width, height)
    markdown = normalise(page.markdown)
    for block, (label, boxes, content) in zip(page.blocks, regions, strict=True):
        assert block.label == label.strip()
        assert block.kind == KINDS.get("_".join(label.split()), "text")
        assert block.bbox == pytest.approx(expected_bbox(boxes, width, height))
        if block.kind not in _NOT_IN_MARKDOWN and normalise(content):
            assert normalise(content) in markdown


def mutate(text: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        at = data.draw(st.integers(min_value=0, max_value=len(text)))
        action = data.draw(st.sampled_from(["cut", "delete", "duplicate", "insert", "insert"]))
        if action == "cut":
            text = text[:at]
        elif action == "delete":
            text = text[:at] + text[at + data.draw(st.integers(min_value=1, max_value=12)) :]
        elif action == "duplicate":
            text = text[:at] + text[at : at + data.draw(st.integers(min_value=1, max_value=40))] + text[at:]
        else:
            text = text[:at] + data.draw(st.sampled_from(INSERTS)) + text[at:]
    return text


def check_total(text: str, size: tuple[int, int], finish_reason: str | None = None) -> None:
    width, height = size
    page = parse_grounding(text, width, height, finish_reason)
    x_ok = all(0 <= b.bbox[0] <= b.bbox[2] <= width for b in page.blocks)
    assert x_ok and all(0 <= b.bbox[1] <= b.bbox[3] <= height for b in page.blocks)
    assert set(page.flags) <= set(FLAGS) and len(page.flags) == len(set(page.flags))
    assert [f for f in FLAGS if f in page.flags] == page.flags


@settings(max_examples=200, deadline=None)
@given(regions=REGIONS, size=SIZES_ST)
def test_well_formed_outputs(regions, size) -> None:
    check_well_formed(regions, size)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400), size=SIZES_ST, finish=st.sampled_from([None, "stop", "length"]))
def test_any_text_is_parsed(text, size, finish) -> None:
    check_total(text, size, finish)


@settings(max_examples=200, deadline=None)
@given(regions=REGIONS, size=SIZES_ST, data=st.data())
def test_mutated_outputs_are_parsed(regions, size, data) -> None:
    check_total(mutate(render(regions), data), size)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None)
@given(regions=REGIONS, size=SIZES_ST)
def test_well_formed_outputs_fuzz(regions, size) -> None:
    check_well_formed(regions, size)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None)
@given(text=st.text(max_size=2000), size=SIZES_ST, finish=st.sampled_from([None, "stop", "length"]))
def test_any_text_is_parsed_fuzz(text, size, finish) -> None:
    check_total(text, size, finish)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None)
@given(regions=REGIONS, size=SIZES_ST, data=st.data())
def test_mutated_outputs_are_parsed_fuzz(regions, size, data) -> None:
    check_total(mutate(render(regions), data), size)
