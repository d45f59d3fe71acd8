"""Tesseract through pytesseract: words -> lines -> paragraphs in Tesseract's own reading order.

Settings (`[backends.tesseract.options]`): `lang` (default "eng", "eng+deu" for several), `psm`
(page segmentation mode, default 3 = automatic) and `tesseract_cmd` (path of the binary, default
the `tesseract` on PATH). A request may override `lang`; it is checked against
`tesseract --list-langs`.
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
from pytesseract import Output

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.errors import BackendError, BackendUnavailable, InvalidOption
from ocrgate.render.markdown import lines_markdown
from ocrgate.schema import Block, Box, PageResult

DEFAULT_CMD = "tesseract"
# pytesseract keeps the binary's path in a module global: set it and run under one lock.
_CMD_LOCK = threading.Lock()
_RAW_KEYS = ("block_num", "par_num", "line_num", "word_num", "left", "top", "width", "height", "conf")


class TesseractOptions(BackendOptions):
    """`prompt` is accepted and ignored; `lang` overrides the configured language(s)."""

    lang: str | None = None


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
        seconds = time.perf_counter() - started
        words = _words(data)
        return PageResult(
            index=page.index,
            width=page.width,
            height=page.height,
            blocks=_paragraphs(words),
            raw=words,
            ocr_seconds=seconds,
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


def _paragraphs(words: list[dict[str, Any]]) -> list[Block]:
    """Words grouped into lines by (block, par, line) and lines into paragraphs by (block, par)."""
    paragraphs: dict[tuple[int, int], dict[int, list[dict[str, Any]]]] = {}
    for word in words:
        lines = paragraphs.setdefault((word["block_num"], word["par_num"]), {})
        lines.setdefault(word["line_num"], []).append(word)
    blocks: list[Block] = []
    for lines in paragraphs.values():
        members = [w for line in lines.values() for w in line]
        boxes = [Box(w["left"], w["top"], w["left"] + w["width"], w["top"] + w["height"]) for w in members]
        confs = [w["conf"] / 100 for w in members if w["conf"] >= 0]
        text = lines_markdown([" ".join(w["text"] for w in line) for line in lines.values()])
        blocks.append(
            Block(kind="text", text=text, bbox=Box.union(boxes), score=mean(confs) if confs else None)
        )
    return blocks
