"""The run's figures in the terminal: one small table per group, readable at 80 columns.

A block for all pages, then one per source (and one per document type where types do not follow
sources), each with one row per backend. The best value of each column is marked `*` (`figures.best`)
and every header says which way is better. Columns are dropped, least useful first, until a block fits
the console; backend names and numbers are never cut (a name too long even then wraps onto a second
line rather than losing characters).
"""

from __future__ import annotations

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from ocrgate.evaluate.figures import FIGURES, SMALL_GROUP, best
from ocrgate.evaluate.headtohead import TIE, head_to_head, wins
from ocrgate.evaluate.summary import Aggregate, Summary

COLUMNS = ("pages", "failed", "cer", "f1", "ned", "wer", "tests", "seconds")
#: shown after `tests` where some page has a truth table (`gt_html`)
TEDS_COLUMN = "teds"
#: dropped in this order while a block is wider than the console
DROP_ORDER = ("wer", "ned", "failed", "pages")
_LABELS = {"failed": "fail"}


def _groups(summary: Summary) -> list[tuple[str, str]]:
    """(title, grouping) blocks: all pages, by source, and by document type unless types follow sources."""
    blocks = [("all pages", "overall")]
    pairs = {(p.source, p.doc_type) for p in summary.pages}
    sources, types = {s for s, _ in pairs}, {t for _, t in pairs}
    blocks.append(("source", "by_source"))
    if not len(pairs) == len(sources) == len(types):
        blocks.append(("type", "by_doc_type"))
    return blocks


def _cell(summary_key: str, a: Aggregate) -> str:
    figure = FIGURES[summary_key]
    if summary_key == "tests":
        return f"{a.tests_passed}/{a.tests_total}" if a.tests_total else "–"
    return figure.text(a)


Rows = list[tuple[str, Aggregate]]


def _header(key: str) -> str:
    figure = FIGURES[key]
    return f"{_LABELS.get(key, figure.label)}{figure.arrow}"


def _cells(rows: Rows, columns: tuple[str, ...]) -> list[list[str]]:
    """Each row's cells as text: the backend, then the columns, the best per column marked `*`."""
    marks = {key: best(FIGURES[key], [a for _, a in rows]) for key in columns}
    return [
        [name, *(_cell(key, a) + ("*" if i in marks[key] else "") for key in columns)]
        for i, (name, a) in enumerate(rows)
    ]


def _widths(blocks: list[tuple[str, Rows]], columns: tuple[str, ...]) -> list[int]:
    """The widest cell of each column over all blocks, headers included (so the blocks line up)."""
    widths = [cell_len(h) for h in ["backend", *map(_header, columns)]]
    for _, rows in blocks:
        for cells in _cells(rows, columns):
            widths = [max(w, cell_len(c)) for w, c in zip(widths, cells, strict=True)]
    return widths


def block(title: str, rows: Rows, columns: tuple[str, ...], widths: list[int], fold: bool = False) -> Table:
    """One group's table: a row per backend, the given columns at the given widths (backend first),
    the best per column marked `*`; `fold` lets a backend name too long for the console wrap."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    table.add_column("backend", no_wrap=not fold, overflow="fold", min_width=1 if fold else widths[0])
    for key, width in zip(columns, widths[1:], strict=True):
        table.add_column(_header(key), justify="right", no_wrap=True, min_width=width)
    for cells in _cells(rows, columns):
        table.add_row(*(f"[bold green]{c}[/]" if c.endswith("*") else c for c in cells))
    return table


def _width(console: Console, table: Table) -> int:
    """The width `table` takes unconstrained (`Console.measure` clips at the console's width)."""
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def _fits(console: Console, blocks: list[tuple[str, Rows]], columns: tuple[str, ...]) -> bool:
    widths = _widths(blocks, columns)
    return all(_width(console, block(t, rows, columns, widths)) <= console.width for t, rows in blocks)


def _fitting_columns(console: Console, blocks: list[tuple[str, Rows]]) -> tuple[str, ...]:
    """The most columns (dropping in `DROP_ORDER`) with which every block fits the console; TEDS
    after the tests where some group has it."""
    columns = COLUMNS
    if any(a.teds is not None for _, rows in blocks for _, a in rows):
        at = columns.index("tests") + 1
        columns = (*columns[:at], TEDS_COLUMN, *columns[at:])
    for drop in (None, *DROP_ORDER):
        columns = tuple(c for c in columns if c != drop)
        if _fits(console, blocks, columns):
            return columns
    return columns


def print_summary(summary: Summary, console: Console | None = None) -> None:
    """The figures as blocks of rows per backend (see module docstring), the pages each backend won,
    and the legend."""
    console = console or Console()
    names = list(summary.backends)
    blocks: list[tuple[str, Rows]] = []
    small = False
    for title, grouping in _groups(summary):
        groups: dict[str, Rows] = {}
        for name in names:
            backend = summary.backends[name]
            by = {"": backend.overall} if grouping == "overall" else getattr(backend, grouping)
            for group, agg in by.items():
                groups.setdefault(group, []).append((name, agg))
        for group, rows in sorted(groups.items()):
            pages = max(a.pages for _, a in rows)
            heading = f"{title}: {group}" if group else title
            heading += f" ({pages} page{'s' if pages != 1 else ''}{', ⚠ few' if pages < SMALL_GROUP else ''})"
            small = small or pages < SMALL_GROUP
            blocks.append((heading, rows))
    columns = _fitting_columns(console, blocks)
    widths = _widths(blocks, columns)
    fold = not _fits(console, blocks, columns)
    for title, rows in blocks:
        console.print(block(title, rows, columns, widths, fold=fold))
    if len(names) > 1:
        tally = wins(head_to_head(summary), names)
        won = ", ".join(f"{n} {tally[n]}" for n in names)
        console.print(
            f"pages won (lowest CER, else most tests passed): {won}, ties {tally[TIE]}", highlight=False
        )
    legend = [
        "* best in its column; s/page: mean seconds per page, sequential",
        "↓ lower is better: CER, WER, NED, fail, s/page",
        "↑ higher is better: F1, tests (olmOCR-Bench tests passed)"
        + (", TEDS (table similarity, 0..1)" if TEDS_COLUMN in columns else ""),
    ]
    if small:
        legend.append(f"⚠ fewer than {SMALL_GROUP} pages: one page is 1/n of each mean")
    for line in legend:
        console.print(line, highlight=False)
