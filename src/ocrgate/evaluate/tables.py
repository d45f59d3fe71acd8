"""Markdown and HTML tables as grids of cells, with the neighbour relations olmOCR-Bench's table tests use.

The grid and the parsers live in `ocrgate.tables` (the backends use them too); this module keeps the
names the evaluation has always imported.
"""

from __future__ import annotations

from ocrgate.tables import (
    CellId,
    Table,
    build_table,
    parse_html_tables,
    parse_markdown_tables,
    parse_tables,
)

__all__ = ["CellId", "Table", "build_table", "parse_html_tables", "parse_markdown_tables", "parse_tables"]
