"""Layout regions over text lines (`structure.arrange`) on hand-made geometry: which line goes where,
the regions' reading order, block kinds, and no line ever lost. Page 1000 x 1400 px, body text 20 px."""

from __future__ import annotations

from collections import Counter

from ocrgate.schema import Block, Box, TextLine
from ocrgate.structure.arrange import FIGURE_MAX_TEXT, arrange, heading_level
from ocrgate.structure.regions import Region
from ocrgate.structure.tables import TableCell, TableResult

W, H = 1000, 1400


def line(text: str, x0: float, y0: float, x1: float, height: float = 20) -> TextLine:
    return TextLine(text=text, bbox=Box(x0, y0, x1, y0 + height), score=0.9)


def column(x0: float, top: float, prefix: str, n: int, width: float = 400) -> list[TextLine]:
    return [line(f"{prefix}{i} words of prose here", x0, top + 24 * i, x0 + width) for i in range(n)]


def region(kind: str, x0: float, y0: float, x1: float, y1: float, score: float = 0.9) -> Region:
    return Region(kind=kind, bbox=Box(x0, y0, x1, y1), score=score, label=kind)


def no_table(box: Box, lines: list[TextLine]) -> TableResult | None:
    return None


def words(blocks: list[Block]) -> Counter[str]:
    return Counter(w for b in blocks for ln in b.lines for w in ln.text.split())


def test_two_column_regions_read_column_by_column_and_keep_every_line() -> None:
    left, right = column(50, 200, "L", 10), column(550, 200, "R", 10)
    lines = [ln for pair in zip(right, left, strict=True) for ln in pair]  # the engine's row order
    title = line("A Title Over Both Columns", 200, 100, 800, height=40)
    regions = [
        region("title", 190, 95, 810, 145),
        region("text", 45, 195, 455, 445),
        region("text", 545, 195, 955, 445),
    ]
    blocks = arrange([title, *lines], regions, W, H, no_table)
    assert [b.kind for b in blocks] == ["title", "text", "text"]
    assert blocks[0].text == "A Title Over Both Columns" and blocks[0].level == 1
    assert blocks[1].text.startswith("L0") and blocks[2].text.startswith("R0")
    assert words(blocks) == Counter(w for ln in [title, *lines] for w in ln.text.split())


def test_lines_outside_every_region_read_as_without_layout() -> None:
    inside = column(50, 200, "A", 4)
    outside = column(50, 600, "B", 4)
    blocks = arrange([*outside, *inside], [region("text", 45, 195, 455, 300)], W, H, no_table)
    assert [b.text.split()[0] for b in blocks] == ["A0", "B0"]
    assert words(blocks) == Counter(w for ln in [*inside, *outside] for w in ln.text.split())


def test_header_and_footer_only_in_the_margins() -> None:
    head = line("Running head", 50, 30, 300)
    foot = line("Page 7", 450, 1350, 550)
    body = column(50, 400, "B", 3)
    regions = [
        region("header", 45, 25, 305, 55),
        region("footer", 445, 1345, 555, 1375),
        region("header", 45, 395, 455, 470),  # a "header" in the middle of the page is text
    ]
    caption = line("Figure 1", 50, 700, 200)
    regions.append(region("caption", 45, 695, 205, 725))  # a page with structure beside its furniture
    blocks = arrange([head, foot, *body, caption], regions, W, H, no_table)
    # page furniture reads as text (it is left out of markdown), labelled as the model found it
    assert [b.kind for b in blocks] == ["text", "text", "caption", "text"]
    assert [blocks[0].label, blocks[-1].label] == ["header", "footer"] and blocks[0].text == "Running head"
    assert blocks[1].text.startswith("B0")


def test_a_figure_keeps_its_box_and_text_and_a_text_dense_figure_is_text() -> None:
    label = line("axis label", 300, 700, 420)
    body = column(50, 200, "B", 3)
    chart = region("figure", 100, 600, 900, 1000)
    blocks = arrange([*body, label], [chart], W, H, no_table)
    assert [b.kind for b in blocks] == ["text", "figure"]
    assert blocks[1].bbox == chart.bbox and blocks[1].text == "axis label"

    receipt = column(110, 610, "R", 15, width=780)  # dense: characters per line height²
    assert sum(len(ln.text) for ln in receipt) * 20 * 20 / chart.bbox.area > FIGURE_MAX_TEXT
    blocks = arrange(receipt, [chart], W, H, no_table)
    assert {b.kind for b in blocks} == {"text"}


def test_a_long_title_region_is_text_and_heading_levels_follow_line_height() -> None:
    big = [line(f"Large type line {i}", 50, 100 + 50 * i, 900, height=40) for i in range(5)]
    blocks = arrange(big, [region("title", 45, 95, 905, 345)], W, H, no_table)
    assert {b.kind for b in blocks} == {"text"}
    assert heading_level(40, 20) == 1 and heading_level(26, 20) == 2 and heading_level(20, 20) == 3


def test_a_table_region_gives_html_and_markdown_or_falls_back_to_text() -> None:
    cells = [
        line("a", 100, 100, 150),
        line("b", 300, 100, 350),
        line("1", 100, 140, 150),
        line("2", 300, 140, 350),
    ]
    table = region("table", 90, 90, 400, 170)

    def read(box: Box, lines: list[TextLine]) -> TableResult:
        grid = [TableCell(i // 2, i % 2, 1, 1, ln.text, ln.bbox) for i, ln in enumerate(lines)]
        html = "<table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></table>"
        return TableResult(html, "| a | b |\n| --- | --- |\n| 1 | 2 |", box, tuple(grid), 2, 2)

    blocks = arrange(cells, [table], W, H, read)
    assert [b.kind for b in blocks] == ["table"]
    assert blocks[0].html and blocks[0].text.startswith("| a | b |") and len(blocks[0].lines) == 4

    def losing(box: Box, lines: list[TextLine]) -> TableResult:  # a cell's text went missing
        grid = (TableCell(0, 0, 1, 1, "a", box),)
        return TableResult("<table><tr><td>a</td></tr></table>", "| a |\n| --- |", box, grid, 1, 1)

    blocks = arrange(cells, [table], W, H, losing)
    assert {b.kind for b in blocks} == {"text"}
    assert words(blocks) == Counter(ln.text for ln in cells)


def test_a_table_beats_a_figure_in_the_same_place() -> None:
    cells = [line("x", 100, 100, 150), line("y", 300, 100, 350)]
    seen: list[Box] = []

    def read(box: Box, lines: list[TextLine]) -> None:
        seen.append(box)

    arrange(
        cells, [region("figure", 90, 90, 400, 130, 0.9), region("table", 92, 92, 398, 128, 0.6)], W, H, read
    )
    assert seen == [Box(92, 92, 398, 128)]
