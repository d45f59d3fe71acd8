"""TEDS (tree-edit-distance-based similarity) between two HTML tables.

Definition (Zhong, ShafieiBavani and Jimeno Yepes 2020, "Image-based table recognition: data, model, and
evaluation", the PubTabNet paper, and its reference code `src/metric.py` in ibm-aur-nlp/PubTabNet):

    TEDS(a, b) = 1 - EditDist(T_a, T_b) / max(|T_a|, |T_b|)

where T is the table's tree (`table` > `thead`/`tbody` > `tr` > `td`, a cell's inner markup not expanded
into nodes), |T| the number of elements under `<table>` (inner markup such as `<b>` counted, as the
reference does), and the edit distance is the tree edit distance computed by APTED (the `apted` library,
Pawlik and Augsten) with cost 1 for inserting or deleting a node; renaming costs 1 when the tags, colspans
or rowspans differ, else, for two `td`s, the normalised Levenshtein distance between their content token
lists (a cell's characters plus `<b>`/`</b>`-style tokens for its inner markup), else 0.
`structure_only=True` empties the cell contents (the paper's TEDS-S). A `th` is read as a cell like
`td` (the reference knows only `td`; PubTabNet has no `th`). Checked against the reference code: the
same value on its demo pair and, to 12 digits, on the 12 tables of ../shared/eval/tables as ocrgate
reads them.

The HTML is read with the standard library's forgiving parser: an unclosed cell ends at the next cell, row
or section, as a browser would read it; only the first table counts; 0.0 when either side has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from apted import APTED, Config
from rapidfuzz.distance import Levenshtein

_SECTIONS = ("thead", "tbody", "tfoot")
_CELLS = ("td", "th")
_VOID = frozenset({"br", "img", "hr", "wbr", "input", "col", "area", "meta", "link", "source"})


@dataclass
class TableNode:
    """One node of a table tree; `content` (cell tokens) and spans are set on `td` nodes only."""

    tag: str
    colspan: int | None = None
    rowspan: int | None = None
    content: list[str] = field(default_factory=list)
    children: list[TableNode] = field(default_factory=list)


class _TEDSConfig(Config):
    """Costs of the reference TEDS (PubTabNet `CustomConfig`)."""

    def rename(self, node1: TableNode, node2: TableNode) -> float:
        if node1.tag != node2.tag or node1.colspan != node2.colspan or node1.rowspan != node2.rowspan:
            return 1.0
        if node1.tag in _CELLS and (node1.content or node2.content):
            return Levenshtein.normalized_distance(node1.content, node2.content)
        return 0.0

    def children(self, node: TableNode) -> list[TableNode]:
        return node.children


def _span(value: str | None) -> int:
    try:
        return max(1, int((value or "1").strip()[:6]))
    except ValueError:
        return 1


class _TableTreeParser(HTMLParser):
    """The first `<table>` of a document as a TableNode tree, plus its element count."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: TableNode | None = None
        self.n_elements = 0  # elements under <table>, inner cell markup included
        self._stack: list[TableNode] = []  # open table / section / row nodes
        self._cell: TableNode | None = None
        self._inner_depth = 0  # nested tables inside the current cell
        self._done = False

    def _close_to(self, tags: tuple[str, ...]) -> None:
        """Close the open cell, then pop open nodes until the top is one of `tags`."""
        self._cell = None
        while len(self._stack) > 1 and self._stack[-1].tag not in tags:
            self._stack.pop()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if self.root is None:
            if tag == "table":
                self.root = TableNode("table")
                self._stack = [self.root]
            return
        self.n_elements += 1
        if self._cell is not None and not (self._inner_depth == 0 and tag in ("td", "th", "tr", *_SECTIONS)):
            self._inner_depth += tag == "table"
            self._cell.content.append(f"<{tag}>")
            if tag in _VOID:  # lxml closes a void element at once: its token pair, as the reference has
                self._cell.content.append(f"</{tag}>")
            return
        if tag in _SECTIONS:
            self._close_to(("table",))
            node = TableNode(tag)
        elif tag == "tr":
            self._close_to(("table", *_SECTIONS))
            node = TableNode(tag)
        elif tag in ("td", "th"):
            self._close_to(("tr",))
            spans = dict(attrs)
            node = TableNode(tag, _span(spans.get("colspan")), _span(spans.get("rowspan")))
            self._stack[-1].children.append(node)
            self._cell = node
            return
        else:  # stray markup between rows: a node of its own, as lxml keeps it
            node = TableNode(tag)
            self._stack[-1].children.append(node)
            return
        self._stack[-1].children.append(node)
        self._stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self._cell is not None and self._cell.content[-1:] == [f"<{tag}>"]:
            self._cell.content.append(f"</{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if self._done or self.root is None:
            return
        if self._cell is not None:
            if self._inner_depth and tag == "table":
                self._inner_depth -= 1
            elif tag in ("td", "th") and not self._inner_depth:
                self._cell = None
                return
            elif self._inner_depth == 0 and tag in ("tr", "table", *_SECTIONS):
                self._cell = None
            else:
                self._cell.content.append(f"</{tag}>")
                return
        if tag == "table":
            self._done = True
        elif tag in ("tr", *_SECTIONS) and any(node.tag == tag for node in self._stack[1:]):
            while self._stack[-1].tag != tag:
                self._stack.pop()
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._done:
            self._cell.content.extend(data)


def table_tree(html: str, structure_only: bool = False) -> tuple[TableNode, int] | None:
    """The first table in `html` as (tree, number of elements under `<table>`); None when there is none."""
    parser = _TableTreeParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser raises AssertionError on some odd declarations; keep what we have
        pass
    if parser.root is None:
        return None
    if structure_only:
        _empty_cells(parser.root)
    return parser.root, parser.n_elements


def _empty_cells(node: TableNode) -> None:
    node.content = []
    for child in node.children:
        _empty_cells(child)


def teds(pred_html: str, true_html: str, structure_only: bool = False) -> float:
    """TEDS of `pred_html` against `true_html`, in 0..1 (1 = same table); 0.0 when either has no table."""
    pred = table_tree(pred_html or "", structure_only)
    true = table_tree(true_html or "", structure_only)
    if pred is None or true is None:
        return 0.0
    (pred_tree, pred_n), (true_tree, true_n) = pred, true
    n_nodes = max(pred_n, true_n)
    if n_nodes == 0:
        return 1.0
    distance = APTED(pred_tree, true_tree, _TEDSConfig()).compute_edit_distance()
    return 1.0 - float(distance) / n_nodes
