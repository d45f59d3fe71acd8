"""HTML tables -> GitHub markdown tables, and the shared grid the evaluation also uses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocrgate.evaluate import tables as evaluate_tables
from ocrgate.tables import html_table_markdown, parse_html_tables, parse_markdown_tables


def test_simple_table_first_row_is_header() -> None:
    html = "<table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></table>"
    assert html_table_markdown(html) == "| a | b |\n| --- | --- |\n| 1 | 2 |"


def test_th_header_row_and_sections() -> None:
    html = (
        "<table><thead><tr><th>Name</th><th>Qty</th></tr></thead>"
        "<tbody><tr><td>apple</td><td>3</td></tr><tr><td>pear</td><td>5</td></tr></tbody></table>"
    )
    assert html_table_markdown(html) == "| Name | Qty |\n| --- | --- |\n| apple | 3 |\n| pear | 5 |"


def test_single_row_is_still_a_table() -> None:
    markdown = html_table_markdown("<table><tr><td>only</td><td>row</td></tr></table>")
    assert markdown == "| only | row |\n| --- | --- |"
    (table,) = parse_markdown_tables(markdown)
    assert [table.text(c) for c in table.cells()] == ["only", "row"]


def test_spans_fill_the_first_slot_only() -> None:
    html = (
        "<table><tr><td rowspan='2'>Year</td><td colspan='2'>Sales</td></tr>"
        "<tr><td>Q1</td><td>Q2</td></tr>"
        "<tr><td>2024</td><td>1</td><td>2</td></tr></table>"
    )
    assert html_table_markdown(html).splitlines() == [
        "| Year | Sales |  |",
        "| --- | --- | --- |",
        "|  | Q1 | Q2 |",
        "| 2024 | 1 | 2 |",
    ]


def test_rowspan_past_the_last_row_stops_there() -> None:
    html = "<table><tr><td rowspan='50'>a</td><td>b</td></tr><tr><td>c</td></tr></table>"
    assert html_table_markdown(html).splitlines() == ["| a | b |", "| --- | --- |", "|  | c |"]
    (table,) = parse_html_tables(html)
    assert len(table.slots) == 2


def test_pipes_escaped_and_newlines_flattened() -> None:
    html = "<table><tr><td>a|b</td><td>line one\nline two<br>three</td></tr></table>"
    assert html_table_markdown(html).splitlines()[0] == "| a\\|b | line one line two three |"
    (table,) = parse_markdown_tables(html_table_markdown(html))
    assert len(table.slots[0]) == 2


def test_entities_and_inline_tags() -> None:
    html = "<table><tr><td><b>0.88</b> &amp; <i>x</i></td></tr></table>"
    assert html_table_markdown(html) == "| 0.88 & x |\n| --- |"


def test_ragged_rows_are_padded() -> None:
    html = "<table><tr><td>a</td></tr><tr><td>1</td><td>2</td><td>3</td></tr></table>"
    assert html_table_markdown(html).splitlines() == ["| a |  |  |", "| --- | --- | --- |", "| 1 | 2 | 3 |"]


def test_several_tables_and_text_around() -> None:
    html = "before <table><tr><td>x</td></tr></table> middle <table><tr><td>y</td></tr></table> after"
    assert html_table_markdown(html) == "| x |\n| --- |\n\n| y |\n| --- |"


@pytest.mark.parametrize(
    ("html", "markdown"),
    [
        ("<table><tr><td>a<td>b<tr><td>c", "| a | b |\n| --- | --- |\n| c |  |"),  # unclosed, truncated
        ("<table><tr><td>a</td></tr>", "| a |\n| --- |"),
        (
            "<table><tr><td>out<table><tr><td>in</td></tr></table></td></tr></table>",
            "| in |\n| --- |\n\n| out |\n| --- |",
        ),
        ("<TABLE><TR><TD colspan=x>a</TD><TD colspan=99999999>b</TD></TR></TABLE>", None),
        ("<table></table>", ""),
        ("<table><tr></tr></table>", ""),
        ("</td></tr></table><td>", ""),
        ("<![if x]><table><tr><td>a", None),
        ("<table <tr <td>a", None),
    ],
)
def test_malformed_html(html: str, markdown: str | None) -> None:
    got = html_table_markdown(html)
    if markdown is not None:
        assert got == markdown
    assert isinstance(got, str)


@pytest.mark.parametrize("text", ["", "no table here", "| a | b |\n| --- | --- |", "<div>x</div>", "<tab"])
def test_not_a_table(text: str) -> None:
    assert html_table_markdown(text) == ""


PIECES = ["<table>", "</table>", "<tr>", "<td>", "</td>", "<th colspan=3>", "<td rowspan='4'>", "a", "|",
          "\n", "<", ">", "&amp;", "<br>"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=5), max_size=60).map("".join))
def test_never_raises(text: str) -> None:
    markdown = html_table_markdown(text)
    for line in markdown.splitlines():
        assert not line or (line.startswith("|") and line.endswith("|"))


def test_evaluate_module_keeps_its_names() -> None:
    for name in ("Table", "build_table", "parse_tables", "parse_html_tables", "parse_markdown_tables"):
        assert hasattr(evaluate_tables, name)
