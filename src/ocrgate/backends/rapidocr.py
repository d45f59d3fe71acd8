"""RapidOCR (PP-OCR models on onnxruntime, CPU): text lines -> layout paragraphs -> blocks.

The rapidocr wheel carries its ONNX models, so loading never touches the network. Settings
(`[backends.rapidocr.options]`): `threads` (onnxruntime intra-op threads), `max_side_len`,
`det_limit_side_len`, `text_score`, `para_gap` and `col_gap` (see `ocrgate.layout`). Pages whose
text `max_side_len` shrinks below legibility are read in strips (see `ocrgate.tiling`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

import numpy as np

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.errors import BackendError, BackendUnavailable
from ocrgate.layout import Line, paragraph_blocks
from ocrgate.schema import PageResult
from ocrgate.tiling import Tile, read_page

DEFAULTS: dict[str, Any] = {
    "threads": 2,
    "max_side_len": 2000,
    "det_limit_side_len": 736,
    "text_score": 0.5,
    "para_gap": 0.8,
    "col_gap": 0.5,
}


class RapidOCROptions(BackendOptions):
    """`prompt` is accepted and ignored; `text_score` drops lines the recogniser is less sure of."""

    text_score: float | None = None


class RapidOCRBackend(Backend):
    name: ClassVar[str] = "rapidocr"
    options_model: ClassVar[type[BackendOptions]] = RapidOCROptions

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._engine: Any = None
        self._lock = threading.Lock()

    def setting(self, key: str) -> Any:
        value = self.settings.get(key)
        return DEFAULTS[key] if value is None else value

    @classmethod
    def availability(cls) -> str | None:
        try:
            version("rapidocr")
            version("onnxruntime")
        except PackageNotFoundError as exc:
            return f"python package {exc.name!r} is not installed (pip install rapidocr onnxruntime)"
        return None

    def engine_params(self) -> dict[str, Any]:
        """RapidOCR's own config keys for these settings."""
        return {
            "Global.log_level": "warning",
            "Global.max_side_len": int(self.setting("max_side_len")),
            "Global.text_score": float(self.setting("text_score")),
            "Det.limit_side_len": int(self.setting("det_limit_side_len")),
            "EngineConfig.onnxruntime.intra_op_num_threads": int(self.setting("threads")),
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }

    def load(self) -> None:
        with self._lock:
            if self._engine is not None:
                return
            reason = self.availability()
            if reason:
                raise BackendUnavailable(f"rapidocr: {reason}")
            from rapidocr import RapidOCR

            self._engine = RapidOCR(params=self.engine_params())
            self.loaded = True

    def engine_version(self) -> str | None:
        try:
            return version("rapidocr")
        except PackageNotFoundError:
            return None

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        if self._engine is None:
            self.load()
        text_score = getattr(options, "text_score", None)
        pixels = np.asarray(page.image.convert("RGB"))
        started = time.perf_counter()
        # a page larger than max_side_len whose text the engine's shrinking made illegible is read
        # again in strips (ocrgate.tiling)
        read = read_page(
            page.width,
            page.height,
            int(self.setting("max_side_len")),
            lambda tile: self._read_region(pixels, tile, text_score, page.index),
        )
        seconds = time.perf_counter() - started
        blocks = paragraph_blocks(
            read.lines, para_gap=float(self.setting("para_gap")), col_gap=float(self.setting("col_gap"))
        )
        return PageResult(
            index=page.index,
            width=page.width,
            height=page.height,
            blocks=blocks,
            raw=read.raw,
            flags=read.flags,
            ocr_seconds=seconds,
        )

    def _read_region(
        self, pixels: np.ndarray, tile: Tile, text_score: float | None, index: int
    ) -> tuple[list[Line], list[dict[str, Any]]]:
        """The engine on one region of the page: its lines and raw entries in page pixels."""
        region = np.ascontiguousarray(pixels[tile.y0 : tile.y1, tile.x0 : tile.x1])
        try:
            with self._lock:
                output = self._engine(region)
        except Exception as exc:  # the engine's own failures become one typed error
            raise BackendError(f"rapidocr failed on page {index}: {exc}") from exc
        boxes = output.boxes if output.boxes is not None else []
        texts = output.txts or ()
        scores = output.scores or ()
        height, width = pixels.shape[:2]
        raw: list[dict[str, Any]] = []
        lines: list[Line] = []
        for quad, text, score in zip(boxes, texts, scores, strict=False):
            quad_list = [[float(x) + tile.x0, float(y) + tile.y0] for x, y in quad]
            raw.append({"box": quad_list, "text": text, "score": float(score)})
            if not text.strip() or (text_score is not None and score < text_score):
                continue
            bbox = _clipped_bbox(quad_list, width, height)
            if bbox is not None:
                lines.append(Line(text=text, bbox=bbox, score=float(score)))
        return lines, raw

    def close(self) -> None:
        with self._lock:
            self._engine = None
            self.loaded = False


def _clipped_bbox(
    quad: list[list[float]], width: int, height: int
) -> tuple[float, float, float, float] | None:
    """The quad's axis-aligned box clipped to the image; None when nothing of it is inside."""
    xs = [p[0] for p in quad]
    ys = [p[1] for p in quad]
    x0, x1 = max(0.0, min(xs)), min(float(width), max(xs))
    y0, y1 = max(0.0, min(ys)), min(float(height), max(ys))
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)
