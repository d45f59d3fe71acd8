"""Markdown and HTML tables as grids of cells; HTML tables back to GitHub-style markdown.

The grid keeps spans the way HTML lays them out: `slots[r][c]` names the cell whose top-left slot
is (row, column) and which covers slot (r, c). The evaluation's table tests walk its neighbour
relations; the backends turn an engine's HTML table into the markdown a page shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

CellId = tuple[int, int]  # (row, column) of a cell's top-left grid slot
Row = list[tuple[str, int, int, bool]]  # (text, rowspan, colspan, is_heading) per cell

MAX_COLSPAN = 1000  # the HTML limit; keeps a hostile colspan from building a huge grid


@dataclass
class Table:
    """A grid: `slots[r][c]` is the cell covering that slot (spans cover several), or None."""

    texts: dict[CellId, str] = field(default_factory=dict)
    headings: set[CellId] = field(default_factory=set)
    slots: list[list[CellId | None]] = field(default_factory=list)

    def cells(self) -> list[CellId]:
        return list(self.texts)

    def text(self, cell: CellId) -> str:
        return self.texts[cell]

    def _slots_of(self, cell: CellId) -> list[tuple[int, int]]:
        return [(r, c) for r, row in enumerate(self.slots) for c, owner in enumerate(row) if owner == cell]

    def _step(self, cell: CellId, dr: int, dc: int) -> set[CellId]:
        found: set[CellId] = set()
        for r, c in self._slots_of(cell):
            rr, cc = r + dr, c + dc
            if 0 <= rr < len(self.slots) and 0 <= cc < len(self.slots[rr]):
                owner = self.slots[rr][cc]
                if owner is not None and owner != cell:
                    found.add(owner)
        return found

    def _heading(self, cell: CellId, dr: int, dc: int) -> set[CellId]:
        """Walk up (or left) to the edge: the heading cells met, else the cells at the edge."""
        headings: set[CellId] = set()
        ends: set[CellId] = set()
        seen: set[CellId] = set()
        todo = {cell}
        while todo:
            current = todo.pop()
            seen.add(current)
            if current in self.headings:
                headings.add(current)
            nxt = self._step(current, dr, dc) - seen
            if not nxt:
                ends.add(current)
            todo |= nxt
        headings.discard(cell)
        ends.discard(cell)
        return headings or ends

    def related(self, cell: CellId, relation: str) -> set[CellId]:
        steps = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
        if relation in steps:
            return self._step(cell, *steps[relation])
        if relation == "top_heading":
            return self._heading(cell, -1, 0)
        if relation == "left_heading":
            return self._heading(cell, 0, -1)
        raise ValueError(f"unknown table relation {relation!r}")


def build_table(rows: list[Row]) -> Table:
    """Rows of (text, rowspan, colspan, is_heading) -> a Table, placing spans the way HTML does.

    As in HTML, a rowspan reaching past the last row stops there, and colspan stops at 1000.
    """
    table = Table()
    grid: dict[tuple[int, int], CellId] = {}
    for r, row in enumerate(rows):
        c = 0
        for text, rowspan, colspan, heading in row:
            while (r, c) in grid:
                c += 1
            cell = (r, c)
            table.texts[cell] = text.strip()
            if heading:
                table.headings.add(cell)
            down = min(max(1, rowspan), len(rows) - r)
            across = min(max(1, colspan), MAX_COLSPAN)
            for dr in range(down):
                for dc in range(across):
                    grid[(r + dr, c + dc)] = cell
            c += across
    if grid:
        height = max(r for r, _ in grid) + 1
        width = max(c for _, c in grid) + 1
        table.slots = [[grid.get((r, c)) for c in range(width)] for r in range(height)]
    return table


_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def parse_markdown_tables(content: str) -> list[Table]:
    """GitHub-style tables: a header row, a rule row of dashes, body rows; the header row is heading."""
    tables: list[Table] = []
    lines = content.splitlines()
    i = 0
    while i < len(lines) - 1:
        if "|" in lines[i] and _RULE.match(lines[i + 1]) and "-" in lines[i + 1]:
            rows = [[(t, 1, 1, True) for t in _split_row(lines[i])]]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append([(t, 1, 1, False) for t in _split_row(lines[i])])
                i += 1
            tables.append(build_table(rows))
        else:
            i += 1
    return tables


@dataclass
class _Open:
    """A table being read: its rows so far and the cell whose text is being collected."""

    rows: list[Row] = field(default_factory=list)
    cell: tuple[list[str], int, int, bool] | None = None

    def close_cell(self) -> None:
        if self.cell is not None:
            parts, rowspan, colspan, heading = self.cell
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(("".join(parts), rowspan, colspan, heading))
            self.cell = None


class _HTMLTables(HTMLParser):
    """Tables' rows of cells, forgiving the HTML that engines write: unclosed cells close at the next
    cell, row or table end; a table inside a cell is a table of its own."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[Row]] = []
        self._stack: list[_Open] = []

    @staticmethod
    def _span(value: str | None) -> int:
        try:
            return max(1, int((value or "1").strip()[:6]))
        except ValueError:
            return 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._stack.append(_Open())
        elif not self._stack:
            return
        elif tag == "tr":
            self._stack[-1].close_cell()
            self._stack[-1].rows.append([])
        elif tag in ("td", "th"):
            current = self._stack[-1]
            current.close_cell()
            spans = dict(attrs)
            span = self._span
            current.cell = ([], span(spans.get("rowspan")), span(spans.get("colspan")), tag == "th")
        elif tag == "br" and self._stack[-1].cell is not None:
            self._stack[-1].cell[0].append(" ")

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        if tag in ("td", "th", "tr"):
            self._stack[-1].close_cell()
        elif tag == "table":
            self.finish_table()

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1].cell is not None:
            self._stack[-1].cell[0].append(data)

    def finish_table(self) -> None:
        current = self._stack.pop()
        current.close_cell()
        self.tables.append(current.rows)

    def finish(self) -> None:
        """Keep the tables still open at the end of the input (a truncated answer)."""
        while self._stack:
            self.finish_table()


def _html_rows(content: str, keep_open: bool) -> list[list[Row]]:
    parser = _HTMLTables()
    try:
        parser.feed(content)
        parser.close()
    except Exception:  # html.parser raises AssertionError on some odd declarations; keep what we have
        pass
    if keep_open:
        parser.finish()
    return [rows for rows in parser.tables if any(rows)]


def parse_html_tables(content: str) -> list[Table]:
    if "<table" not in content.lower():
        return []
    return [build_table(rows) for rows in _html_rows(content, keep_open=False)]


def parse_tables(content: str) -> list[Table]:
    return parse_markdown_tables(content) + parse_html_tables(content)


def _markdown_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def table_markdown(table: Table) -> str:
    """A GitHub-style markdown table; the first grid row is the header. A spanning cell's text sits
    in its top-left slot and the other slots it covers stay empty."""
    if not table.slots:
        return ""
    width = max(len(row) for row in table.slots)
    lines: list[str] = []
    for r, row in enumerate(table.slots):
        cells = [
            _markdown_cell(table.texts[owner]) if owner == (r, c) else ""
            for c, owner in enumerate(row + [None] * (width - len(row)))
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if r == 0:
            lines.append("|" + "|".join([" --- "] * width) + "|")
    return "\n".join(lines)


def html_table_markdown(html: str) -> str:
    """Every HTML table in `html` as a markdown table (blank line between); "" when there is none.

    Forgiving: unclosed cells and tables (a truncated answer) still count; never raises."""
    if "<table" not in html.lower():
        return ""
    tables = (build_table(rows) for rows in _html_rows(html, keep_open=True))
    return "\n\n".join(md for md in map(table_markdown, tables) if md)
