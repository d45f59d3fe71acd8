"""Tesseract through pytesseract: words -> text lines (with their words) -> reading order -> blocks.

Tesseract's text lines (its `(block, par, line)` groups, in its own order) go through the same
reading-order stage as every engine that gives lines (`ocrgate.layout.paragraph_blocks`); a line
and its words always stay together, so no word is split between blocks.

Settings (`[backends.tesseract.options]`): `lang` (default "eng", "eng+deu" for several), `psm`
(page segmentation mode, default 3 = automatic), `tesseract_cmd` (path of the binary, default
the `tesseract` on PATH) and `para_gap` (see `ocrgate.layout`). A request may override `lang`; it
is checked against `tesseract --list-langs`. `reading_order`: `layout` (default) or `engine`
(Tesseract's own line order, one block per line). `orientation` and `layout`: the structure stage
(`auto`, the default, or `off`; see `ocrgate.structure.page`).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from statistics import mean
from typing import Any, ClassVar

import pytesseract
from pydantic import Field
from pytesseract import Output

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.errors import BackendError, BackendUnavailable, InvalidOption
from ocrgate.layout import READING_ORDER_HELP, ReadingOrder
from ocrgate.schema import Box, PageResult, TextLine, Word
from ocrgate.structure.page import LAYOUT_HELP, ORIENTATION_HELP, StructureMode, page_result, upright_page

DEFAULT_CMD = "tesseract"
# pytesseract keeps the binary's path in a module global: set it and run under one lock.
_CMD_LOCK = threading.Lock()
_RAW_KEYS = ("block_num", "par_num", "line_num", "word_num", "left", "top", "width", "height", "conf")


class TesseractOptions(BackendOptions):
    """`prompt` is accepted and ignored; `lang` overrides the configured language(s)."""

    lang: str | None = None
    reading_order: ReadingOrder = Field(default="layout", description=READING_ORDER_HELP)
    layout: StructureMode = Field(default="auto", description=LAYOUT_HELP)
    orientation: StructureMode = Field(default="auto", description=ORIENTATION_HELP)


def _missing_reason(cmd: str) -> str | None:
    if shutil.which(cmd) is None:
        return (
            f"the tesseract binary {cmd!r} was not found "
            "(install tesseract-ocr or set the backend's tesseract_cmd)"
        )
    return None


class TesseractBackend(Backend):
    name: ClassVar[str] = "tesseract"
    options_model: ClassVar[type[BackendOptions]] = TesseractOptions

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.cmd: str = str(self.settings.get("tesseract_cmd") or DEFAULT_CMD)
        self.lang: str = str(self.settings.get("lang") or "eng")
        self.psm: int = int(self.settings.get("psm", 3))
        self.para_gap: float = float(self.settings.get("para_gap", 0.8))
        self._languages: set[str] | None = None
        self._version: str | None = None  # read at load: health must not wait for the binary's lock

    @classmethod
    def availability(cls) -> str | None:
        """Whether the default `tesseract` is on PATH (a configured binary: see `unavailable`)."""
        return _missing_reason(DEFAULT_CMD)

    def unavailable(self) -> str | None:
        """None when this instance's binary (`tesseract_cmd`) is there, else a one-line reason."""
        return _missing_reason(self.cmd)

    def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        with _CMD_LOCK:
            pytesseract.pytesseract.tesseract_cmd = self.cmd
            return func(*args, **kwargs)

    def load(self) -> None:
        reason = self.unavailable()
        if reason:
            raise BackendUnavailable(reason)
        try:
            self._languages = set(self._call(pytesseract.get_languages, config=""))
            self._version = str(self._call(pytesseract.get_tesseract_version))
        # pytesseract raises SystemExit for a version it cannot parse, CalledProcessError for a failed run
        except (pytesseract.TesseractError, subprocess.CalledProcessError, OSError, SystemExit) as exc:
            raise BackendUnavailable(f"the tesseract binary {self.cmd!r} cannot run: {exc}") from exc
        self.loaded = True

    def languages(self) -> set[str]:
        if self._languages is None:
            self.load()
        return self._languages or set()

    def engine_version(self) -> str | None:
        """The binary's version as read at `load` (None before): never waits for a page in progress."""
        return self._version

    def check_lang(self, lang: str) -> str:
        known = self.languages()
        wanted = [part for part in lang.split("+") if part]
        missing = [part for part in wanted if part not in known]
        if not wanted or missing:
            raise InvalidOption(
                f"tesseract has no language {'+'.join(missing) or lang!r}; "
                f"installed: {', '.join(sorted(known))}"
            )
        return "+".join(wanted)

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        lang = self.check_lang(getattr(options, "lang", None) or self.lang)
        started = time.perf_counter()
        page, flags = upright_page(page, getattr(options, "orientation", "auto"))
        try:
            data = self._call(
                pytesseract.image_to_data,
                page.image,
                lang=lang,
                config=f"--psm {self.psm}",
                output_type=Output.DICT,
            )
        except pytesseract.TesseractNotFoundError as exc:
            raise BackendUnavailable(f"the tesseract binary {self.cmd!r} was not found") from exc
        except (pytesseract.TesseractError, OSError) as exc:
            raise BackendError(f"tesseract failed on page {page.index}: {exc}") from exc
        words = _words(data)
        return page_result(
            page, text_lines(words), options, para_gap=self.para_gap, raw=words, flags=flags, started=started
        )


def _words(data: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The TSV rows that hold a word, in Tesseract's order, with numeric fields as numbers."""
    words: list[dict[str, Any]] = []
    for i, text in enumerate(data.get("text", [])):
        if int(data["level"][i]) != 5 or not str(text).strip():
            continue
        row: dict[str, Any] = {key: int(float(data[key][i])) for key in _RAW_KEYS if key != "conf"}
        row["conf"] = float(data["conf"][i])
        row["text"] = str(text)
        words.append(row)
    return words


def text_lines(words: list[dict[str, Any]]) -> list[TextLine]:
    """Tesseract's words grouped into its text lines by (block, par, line), in Tesseract's order;
    each line's box is the union of its words' boxes, its score their mean confidence (0..1)."""
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for w in words:
        box = Box(w["left"], w["top"], w["left"] + w["width"], w["top"] + w["height"])
        score = w["conf"] / 100 if w["conf"] >= 0 else None
        key = (w["block_num"], w["par_num"], w["line_num"])
        grouped.setdefault(key, []).append(Word(text=w["text"], bbox=box, score=score))
    lines: list[TextLine] = []
    for members in grouped.values():
        scores = [w.score for w in members if w.score is not None]
        lines.append(
            TextLine(
                text=" ".join(w.text for w in members),
                bbox=Box.union(w.bbox for w in members),
                score=mean(scores) if scores else None,
                words=members,
            )
        )
    return lines
