"""RapidOCR (PP-OCR models on onnxruntime, CPU): text lines -> reading order -> paragraph blocks.

The rapidocr wheel carries its ONNX models, so loading never touches the network. Settings
(`[backends.rapidocr.options]`): `threads` (onnxruntime intra-op threads), `max_side_len`,
`det_limit_side_len`, `text_score` and `para_gap` (see `ocrgate.layout`). Request options:
`text_score`, `reading_order` (`layout`, the default, or `engine`: the engine's own line order,
one block per line), and the structure stage's `orientation` and `layout` (`auto`, the default, or
`off`; see `ocrgate.structure.page`). Pages whose text `max_side_len` shrinks below legibility are
read in strips (see `ocrgate.tiling`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.errors import BackendError, BackendUnavailable
from ocrgate.layout import READING_ORDER_HELP, ReadingOrder
from ocrgate.schema import Box, PageResult, TextLine, Word
from ocrgate.structure.page import LAYOUT_HELP, ORIENTATION_HELP, StructureMode, page_result, upright_page
from ocrgate.tiling import Tile, read_page

DEFAULTS: dict[str, Any] = {
    "threads": 2,
    "max_side_len": 2000,
    "det_limit_side_len": 736,
    "text_score": 0.5,
    "para_gap": 0.8,
}


class RapidOCROptions(BackendOptions):
    """`prompt` is accepted and ignored; `text_score` drops lines the recogniser is less sure of."""

    text_score: float | None = Field(
        default=None, ge=0, le=1, description="keep lines scored at least this (0..1, finite)"
    )
    reading_order: ReadingOrder = Field(default="layout", description=READING_ORDER_HELP)
    layout: StructureMode = Field(default="auto", description=LAYOUT_HELP)
    orientation: StructureMode = Field(default="auto", description=ORIENTATION_HELP)


class RapidOCRBackend(Backend):
    name: ClassVar[str] = "rapidocr"
    options_model: ClassVar[type[BackendOptions]] = RapidOCROptions

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._engine: Any = None
        self._lock = threading.Lock()
        self._version: str | None = None

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
            self._version = _package_version("rapidocr")
            self.loaded = True

    def engine_version(self) -> str | None:
        return self._version or _package_version("rapidocr")

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        if self._engine is None:
            self.load()
        text_score = getattr(options, "text_score", None)
        started = time.perf_counter()
        page, flags = upright_page(page, getattr(options, "orientation", "auto"))
        pixels = np.asarray(page.image.convert("RGB"))
        # a page larger than max_side_len whose text the engine's shrinking made illegible is read
        # again in strips (ocrgate.tiling)
        read = read_page(
            page.width,
            page.height,
            int(self.setting("max_side_len")),
            lambda tile: self._read_region(pixels, tile, text_score, page.index),
        )
        return page_result(
            page,
            read.lines,
            options,
            para_gap=float(self.setting("para_gap")),
            raw=read.raw,
            flags=[*flags, *read.flags],
            started=started,
        )

    def _read_region(
        self, pixels: np.ndarray, tile: Tile, text_score: float | None, index: int
    ) -> tuple[list[TextLine], list[dict[str, Any]]]:
        """The engine on one region of the page: its lines (with word boxes) and raw entries, in page
        pixels."""
        region = np.ascontiguousarray(pixels[tile.y0 : tile.y1, tile.x0 : tile.x1])
        try:
            with self._lock:
                try:
                    output = self._engine(region, return_word_box=True)
                except IndexError:  # rapidocr 3.x miscounts word results when a line crop is empty
                    output = self._engine(region, return_word_box=False)
        except Exception as exc:  # the engine's own failures become one typed error
            raise BackendError(f"rapidocr failed on page {index}: {exc}") from exc
        boxes = output.boxes if output.boxes is not None else []
        texts = output.txts or ()
        scores = output.scores or ()
        words = _aligned_words(texts, getattr(output, "word_results", None) or ())
        height, width = pixels.shape[:2]

        def moved(quad: Any) -> list[list[float]]:
            return [[float(x) + tile.x0, float(y) + tile.y0] for x, y in quad]

        raw: list[dict[str, Any]] = []
        lines: list[TextLine] = []
        for quad, text, score, line_words in zip(boxes, texts, scores, words, strict=False):
            quad_list = moved(quad)
            raw.append({"box": quad_list, "text": text, "score": float(score)})
            if not text.strip() or (text_score is not None and score < text_score):
                continue
            bbox = _clipped_bbox(quad_list, width, height)
            if bbox is not None:
                pieces = [(piece, piece_score, moved(q)) for piece, piece_score, q in line_words]
                found = _line_words(text, pieces, width, height)
                lines.append(TextLine(text=text, bbox=bbox, score=float(score), words=list(found)))
        return lines, raw

    def close(self) -> None:
        with self._lock:
            self._engine = None
            self.loaded = False


def _package_version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


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


def _aligned_words(texts: Sequence[str], word_results: Sequence[Any]) -> list[Sequence[Any]]:
    """RapidOCR's word results, one entry (maybe empty) per text line.

    rapidocr 3.x drops the entry of a line that got no word boxes, so entries are matched to lines
    by their characters rather than by position.
    """
    aligned: list[Sequence[Any]] = []
    pending = list(word_results)
    for text in texts:
        entry = pending[0] if pending else ()
        if entry and "".join(w[0] for w in entry) == "".join(text.split()):
            aligned.append(pending.pop(0))
        else:
            aligned.append(())
    return aligned


def _line_words(text: str, entry: Sequence[Any], width: int, height: int) -> tuple[Word, ...]:
    """The line's white-space separated words with boxes, from RapidOCR's word results.

    RapidOCR splits a line into pieces at spaces, at gaps inside a word and between scripts;
    pieces not separated by white space in the text are joined into one word (union box). Its
    per-piece scores are per-character confidences paired with pieces by position (rapidocr
    3.x, `CalRecBoxes`), not word confidences, so words carry no score. Empty when the pieces
    do not spell the line.
    """
    words: list[Word] = []
    position = 0
    for piece, _score, quad in entry:
        start = text.find(piece, position)
        bbox = _clipped_bbox([[float(x), float(y)] for x, y in quad], width, height)
        if start < 0 or bbox is None:
            return ()
        if words and start == position:  # no white space since the last piece: the same word
            words[-1] = Word(text=words[-1].text + piece, bbox=Box.union([words[-1].bbox, bbox]))
        else:
            words.append(Word(text=piece, bbox=bbox))
        position = start + len(piece)
    return tuple(words)
