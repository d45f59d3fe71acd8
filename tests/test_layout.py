"""Reading order and paragraphs from hand-made line boxes."""

from __future__ import annotations

from ocrgate.layout import Line, paragraph_blocks, paragraphs, reading_order


def column(x0: float, top: float, texts: list[str], height: float = 20, pitch: float = 24) -> list[Line]:
    return [
        Line(text, (x0, top + i * pitch, x0 + 200, top + i * pitch + height), 0.9)
        for i, text in enumerate(texts)
    ]


def test_two_columns_read_column_by_column() -> None:
    left = column(50, 100, ["L1", "L2", "L3", "L4"])
    right = column(300, 100, ["R1", "R2", "R3"])
    lines = [ln for pair in zip(right, left, strict=False) for ln in pair] + left[3:]  # shuffled
    order = [ln.text for region in reading_order(lines) for ln in region]
    assert order == ["L1", "L2", "L3", "L4", "R1", "R2", "R3"]
    blocks = paragraph_blocks(lines)
    assert [b.text for b in blocks] == ["L1\nL2\nL3\nL4", "R1\nR2\nR3"]
    assert blocks[0].bbox == (50, 100, 250, 100 + 3 * 24 + 20)


def test_full_width_title_before_and_after_columns() -> None:
    title = Line("Title", (50, 20, 500, 40), 1.0)
    footer = Line("Footer across", (50, 400, 500, 420), 1.0)
    body = column(300, 100, ["R1", "R2"]) + column(50, 100, ["L1", "L2"])
    order = [ln.text for region in reading_order([footer, *body, title]) for ln in region]
    assert order == ["Title", "L1", "L2", "R1", "R2", "Footer across"]


def test_paragraph_split_on_big_gap() -> None:
    lines = column(50, 100, ["a1", "a2"]) + column(50, 100 + 2 * 24 + 30, ["b1", "b2", "b3"])
    blocks = paragraph_blocks(lines)
    assert [b.text for b in blocks] == ["a1\na2", "b1\nb2\nb3"]
    assert blocks[0].score == 0.9
    assert blocks[1].bbox[1] == 100 + 2 * 24 + 30


def test_pieces_of_one_line_join_with_a_space() -> None:
    lines = [Line("world", (120, 10, 200, 30), 0.5), Line("hello", (10, 11, 100, 31), 1.0)]
    [block] = paragraph_blocks(lines)
    assert block.text == "hello world"
    assert block.score == 0.75


def test_empty_input() -> None:
    assert reading_order([]) == []
    assert paragraphs([]) == []
    assert paragraph_blocks([Line("  ", (0, 0, 10, 10), 1.0)]) == []
