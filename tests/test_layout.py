"""Reading order and paragraphs from hand-made line boxes (page pixels, body text 20 px high)."""

from __future__ import annotations

from ocrgate.layout import paragraph_blocks, paragraphs
from ocrgate.reading_order import reading_order
from ocrgate.schema import TextLine, Word
from ocrgate.text_columns import column_cut, split_line

WORDS = [f"word {i}" for i in range(12)]


def line(text: str, x0: float, y0: float, x1: float, height: float = 20, score: float = 0.9) -> TextLine:
    return TextLine(text=text, bbox=(x0, y0, x1, y0 + height), score=score)


def column(x0: float, top: float, texts: list[str], width: float = 400, pitch: float = 24) -> list[TextLine]:
    """Prose lines (20 line heights wide) one under the other."""
    return [line(text, x0, top + i * pitch, x0 + width) for i, text in enumerate(texts)]


def order(lines: list[TextLine]) -> list[str]:
    return [ln.text for region in reading_order(lines) for row in region for ln in row]


def test_two_columns_read_column_by_column() -> None:
    left = column(50, 100, ["L1", "L2", "L3", "L4"])
    right = column(480, 100, ["R1", "R2", "R3"])
    shuffled = [ln for pair in zip(right, left, strict=False) for ln in pair] + left[3:]
    assert order(shuffled) == ["L1", "L2", "L3", "L4", "R1", "R2", "R3"]
    blocks = paragraph_blocks(shuffled)
    assert [b.text for b in blocks] == ["L1\nL2\nL3\nL4", "R1\nR2\nR3"]
    assert blocks[0].bbox == (50, 100, 450, 100 + 3 * 24 + 20)
    assert [ln.text for ln in blocks[1].lines] == ["R1", "R2", "R3"]


def test_receipt_rows_stay_rows() -> None:
    """An item and its price, far apart, are read on one line, left to right, row after row."""
    items = [("2 CHICKEN RICE", "11.00"), ("1 ICED TEA", "2.50"), ("TOTAL", "13.50"), ("CASH", "20.00")]
    lines = [line("SHOP NAME SDN BHD", 120, 20, 420)]
    for i, (item, price) in enumerate(items):
        top = 80 + i * 26
        lines += [line(price, 420, top + 2, 480), line(item, 20, top, 20 + 14 * len(item))]
    blocks = paragraph_blocks(lines)
    text = "\n".join(b.text for b in blocks)
    assert text.splitlines() == ["SHOP NAME SDN BHD", *(f"{item} {price}" for item, price in items)]


def test_form_label_and_value_share_a_line() -> None:
    labels = ["Name:", "Date of birth:", "Address:", "Telephone:"]
    values = ["Jane Smith", "12 March 1961", "14 Elm Street, Springfield", "555 0134"]
    lines = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        top = 100 + i * 40
        lines += [line(value, 260, top, 260 + 12 * len(value))]
        lines += [line(label, 40, top + 3, 40 + 12 * len(label))]
    assert order(lines) == [x for pair in zip(labels, values, strict=True) for x in pair]


def test_table_cells_are_read_row_by_row() -> None:
    header = ["Variable", "Type", "Description of the variable"]
    body = [["CLIENT_HOST", "VARCHAR(255)", "Host name of the current client"], ["PORT", "INTEGER", "Port"]]
    lines = []
    for r, cells in enumerate([header, *body]):
        for c, text in enumerate(cells):
            lines.append(line(text, 40 + c * 220, 100 + r * 30, 40 + c * 220 + 10 * len(text)))
    assert order(lines[::-1]) == [cell for cells in [header, *body] for cell in cells]


def test_header_and_footer_apart_from_columns() -> None:
    head = [line("Running head", 50, 20, 250), line("17", 860, 20, 880)]
    body = column(50, 100, WORDS[:6]) + column(480, 100, WORDS[6:12])
    foot = [line("Journal of Examples 3 (2024)", 50, 400, 400)]
    assert order([*foot, *body, *head]) == ["Running head", "17", *WORDS[:12], "Journal of Examples 3 (2024)"]


def test_heading_across_columns_splits_the_page() -> None:
    """Columns above a full-width heading are read before it, columns below it after it."""
    top = column(50, 100, ["a1", "a2", "a3"]) + column(480, 100, ["b1", "b2", "b3"])
    heading = line("2 A HEADING ACROSS BOTH COLUMNS", 50, 200, 880, height=30)
    bottom = column(50, 250, ["c1", "c2", "c3"]) + column(480, 250, ["d1", "d2", "d3"])
    result = order([*bottom, heading, *top])
    assert result == ["a1", "a2", "a3", "b1", "b2", "b3", heading.text, "c1", "c2", "c3", "d1", "d2", "d3"]


def test_title_over_two_columns() -> None:
    title = line("Title", 300, 20, 630, height=40)
    body = column(480, 100, ["R1", "R2", "R3"]) + column(50, 100, ["L1", "L2", "L3"])
    assert order([*body, title]) == ["Title", "L1", "L2", "L3", "R1", "R2", "R3"]


def test_merged_line_across_the_gutter_is_split() -> None:
    """An engine that read the first row of two columns as one line: split at the gutter."""
    merged = line("she sighed at last cause of her sadness", 50, 100, 880)
    left = column(50, 124, ["wandered around the house", "with the look of", "an injured puppy"])
    right = column(480, 124, ["gently simply he talked", "with her of life", "and love"])
    result = order([merged, *left, *right])
    assert result == [
        "she sighed at last",
        *[ln.text for ln in left],
        "cause of her sadness",
        *[ln.text for ln in right],
    ]


def test_merged_line_with_words_splits_between_words() -> None:
    words = [Word(text=t, bbox=(x, 100, x + 60, 120)) for t, x in [("one", 60), ("two", 300), ("three", 500)]]
    merged = TextLine(text="one two three", bbox=(60, 100, 560, 120), words=words)
    cut = column_cut([merged, *column(50, 124, ["a", "b", "c"]), *column(480, 124, ["d", "e", "f"])], 20)
    assert cut is not None and cut.crossing == [merged]
    left, right = split_line(merged, cut)
    assert (left.text, right.text) == ("one two", "three")
    assert [w.text for w in right.words] == ["three"] and right.bbox[0] == 500


def test_caption_between_columns_is_read_after_them() -> None:
    """Text wraps round a caption over the gutter: both columns first, then the caption."""
    left = column(50, 100, [f"l{i}" for i in range(8)])
    right = column(480, 100, [f"r{i}" for i in range(8)])
    for i in (2, 3):  # the rows beside the caption are shorter
        left[i] = line(left[i].text, 50, left[i].bbox[1], 360)
        right[i] = line(right[i].text, 570, right[i].bbox[1], 880)
    caption = [line(f"CAPTION {i}", 380, 148 + i * 24, 550) for i in range(2)]
    expected = [*(f"l{i}" for i in range(8)), *(f"r{i}" for i in range(8)), "CAPTION 0", "CAPTION 1"]
    assert order([*caption, *right, *left]) == expected


def test_paragraph_split_on_big_gap() -> None:
    lines = column(50, 100, ["a1", "a2"]) + column(50, 100 + 2 * 24 + 30, ["b1", "b2", "b3"])
    blocks = paragraph_blocks(lines)
    assert [b.text for b in blocks] == ["a1\na2", "b1\nb2\nb3"]
    assert blocks[0].score == 0.9
    assert blocks[1].bbox[1] == 100 + 2 * 24 + 30


def test_pieces_of_one_line_join_with_a_space() -> None:
    lines = [line("world", 120, 10, 200, score=0.5), line("hello", 10, 11, 100, score=1.0)]
    [block] = paragraph_blocks(lines)
    assert block.text == "hello world"
    assert block.score == 0.75


def test_engine_order_keeps_one_block_per_line() -> None:
    lines = column(480, 100, ["R1", "R2"]) + column(50, 100, ["L1", "L2"]) + [line(" ", 0, 0, 5)]
    blocks = paragraph_blocks(lines, order="engine")
    assert [b.text for b in blocks] == ["R1", "R2", "L1", "L2"]
    assert [b.lines for b in blocks] == [[ln] for ln in lines[:4]]


def test_empty_input() -> None:
    assert reading_order([]) == []
    assert paragraphs([]) == []
    assert paragraph_blocks([line("  ", 0, 0, 10)]) == []


def test_tall_box_follows_the_engine_or_its_first_text_line() -> None:
    """A smudge over several rows comes where the engine read it; a drop-cap line by its top."""
    rows_ = [line(f"row {i}", 40, 100 + i * 30, 400) for i in range(4)]
    smudge = line("00", 100, 125, 300, height=70)  # the engine read it after row 0
    assert order([rows_[0], smudge, *rows_[1:]]) == ["row 0", "00", "row 1", "row 2", "row 3"]
    drop_cap = line("S HE SIGHED", 40, 60, 400, height=70)  # the engine read it last
    assert order([*rows_, drop_cap])[0] == "S HE SIGHED"
