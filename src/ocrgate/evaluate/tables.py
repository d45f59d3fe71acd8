"""Markdown and HTML tables as grids of cells, with the neighbour relations olmOCR-Bench's table tests use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

CellId = tuple[int, int]  # (row, column) of a cell's top-left grid slot


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


def build_table(rows: list[list[tuple[str, int, int, bool]]]) -> Table:
    """Rows of (text, rowspan, colspan, is_heading) -> a Table, placing spans the way HTML does."""
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
            for dr in range(max(1, rowspan)):
                for dc in range(max(1, colspan)):
                    grid[(r + dr, c + dc)] = cell
            c += max(1, colspan)
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


class _HTMLTables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[tuple[str, int, int, bool]]]] = []
        self._stack: list[list[list[tuple[str, int, int, bool]]]] = []
        self._cell: tuple[list[str], int, int, bool] | None = None

    @staticmethod
    def _span(value: str | None) -> int:
        try:
            return max(1, int(value or 1))
        except ValueError:
            return 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._stack.append([])
        elif tag == "tr" and self._stack:
            self._stack[-1].append([])
        elif tag in ("td", "th") and self._stack:
            if not self._stack[-1]:
                self._stack[-1].append([])
            spans = dict(attrs)
            self._cell = ([], self._span(spans.get("rowspan")), self._span(spans.get("colspan")), tag == "th")
        elif tag == "br" and self._cell is not None:
            self._cell[0].append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._stack:
            parts, rowspan, colspan, heading = self._cell
            self._stack[-1][-1].append(("".join(parts), rowspan, colspan, heading))
            self._cell = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[0].append(data)


def parse_html_tables(content: str) -> list[Table]:
    if "<table" not in content.lower():
        return []
    parser = _HTMLTables()
    parser.feed(content)
    parser.close()
    return [build_table(rows) for rows in parser.tables if rows]


def parse_tables(content: str) -> list[Table]:
    return parse_markdown_tables(content) + parse_html_tables(content)
