"""Document structure on one page: TEDS of its table against the page's ground-truth table, and its
layout regions counted by kind.

TEDS is `teds.teds` (Zhong et al. 2020, the PubTabNet paper; tree edit distance by the `apted` library).
The predicted tables of a page are its table blocks' HTML (`Block.html`, what the engines' table stage
gives); a page with no table block HTML (an engine or a record that gives only markdown) offers the
tables in its markdown instead: HTML tables as they stand and GitHub-style pipe tables rendered to HTML
by markdown-it-py, in both their header cells written `td` (a pipe table's first row is a header by
syntax, and `teds` scores a `th` against a `td` as different nodes; PubTabNet's truth has `td` only).

A ground-truth page holds one table (`tables/`: a PubTabNet table crop), so a page's TEDS is that of the
best-scoring predicted table, and its structure-only TEDS (TEDS-S) is the same table's. The predicted
tables are not joined into one: `teds` reads the first table of an HTML text, and an engine that splits
one table in two should get the better half's score, not the first half's. No predicted table scores 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

from markdown_it import MarkdownIt

from ocrgate.evaluate.teds import teds

_TABLE = re.compile(r"<table\b.*?</table\s*>", re.IGNORECASE | re.DOTALL)
_MARKDOWN = MarkdownIt("commonmark").enable("table")
_HEADER_CELL = re.compile(r"<(/?)th\b", re.IGNORECASE)


class TableScore(NamedTuple):
    """TEDS and structure-only TEDS (TEDS-S) of a page's table, both in 0..1 (1: the same table)."""

    teds: float
    teds_structure: float


def markdown_tables(markdown: str) -> list[str]:
    """Every table in `markdown` as HTML (raw HTML tables and pipe tables), in page order."""
    if "|" not in markdown and "<table" not in markdown.lower():
        return []
    rendered = _HEADER_CELL.sub(r"<\1td", _MARKDOWN.render(markdown))
    return _TABLE.findall(rendered)


def predicted_tables(table_html: Iterable[str], markdown: str) -> list[str]:
    """The tables a page is scored on: its table blocks' HTML, else the tables in its markdown."""
    tables = [html for html in table_html if html and html.strip()]
    return tables or markdown_tables(markdown)


def table_score(predicted: list[str], true_html: str) -> TableScore:
    """The best-scoring predicted table against `true_html` (see module docstring); (0, 0) if none."""
    best: tuple[float, str] | None = None
    for html in predicted:
        value = teds(html, true_html)
        if best is None or value > best[0]:
            best = (value, html)
    if best is None:
        return TableScore(0.0, 0.0)
    return TableScore(best[0], teds(best[1], true_html, structure_only=True))


def block_kinds(kinds: Iterable[str]) -> dict[str, int]:
    """Blocks counted by kind (`Block.kind`: text, title, table, figure, ...), kinds sorted by name."""
    return dict(sorted(Counter(kinds).items()))
