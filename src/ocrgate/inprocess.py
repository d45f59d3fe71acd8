"""A backend running in this process, as a recognizer of the one flow (`ocrgate ocr`, `ocrgate eval`).

The same flow the gateway runs (`ocrgate.flow`), without a worker in between: a whole-file engine
(MinerU) gets the original file here too, page engines get the page images.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import anyio
import anyio.from_thread

from ocrgate import flow
from ocrgate.backends.base import Backend, WholeFile
from ocrgate.documents import Document, PageImage
from ocrgate.errors import BackendUnavailable
from ocrgate.recognizer import Progress
from ocrgate.render import BoxesMode
from ocrgate.schema import OCRResponse, PageResult, TextLayerMode


class LocalRecognizer:
    """`backend` called in a worker thread of this process; loaded on first use."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name = backend.name
        self.window = max(1, backend.max_batch)
        self._limiter: anyio.CapacityLimiter | None = None

    def _slots(self) -> anyio.CapacityLimiter:
        """At most `window` pages in the engine at once (the flow rasterises ahead of that)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.window)
        return self._limiter

    def reads_whole(self, media_type: str) -> bool:
        return media_type in self.backend.file_types

    def _ready(self) -> None:
        if not self.backend.loaded:
            reason = self.backend.availability()
            if reason:
                raise BackendUnavailable(f"backend {self.name!r} is not available: {reason}")
            self.backend.load()

    def _page(self, page: PageImage, options: Mapping[str, Any]) -> PageResult:
        parsed = self.backend.parse_options(options)
        self._ready()
        started = time.perf_counter()
        result = self.backend.ocr_page(page, parsed)
        result.ocr_seconds = result.ocr_seconds or time.perf_counter() - started
        return result

    async def page(self, page: PageImage, options: Mapping[str, Any], *, boxes: bool = False) -> PageResult:
        # `boxes` is not needed here: the page's pixels are in this process, the flow draws the picture
        return await anyio.to_thread.run_sync(self._page, page, options, limiter=self._slots())

    async def file(
        self, document: Document, options: Mapping[str, Any], progress: Progress | None = None
    ) -> list[PageResult]:
        def report(done: int, total: int) -> None:  # called from the engine's thread
            if progress is not None:
                anyio.from_thread.run_sync(progress, done, total)

        def read() -> list[PageResult]:
            parsed = self.backend.parse_options(options)
            self._ready()
            sizes = document.page_sizes()
            return self.backend.ocr_file(WholeFile(document.data, document.media_type, sizes), parsed, report)

        return await anyio.to_thread.run_sync(read, limiter=self._slots())


def recognize(
    document: Document,
    backend: Backend,
    options: Mapping[str, Any],
    boxes: BoxesMode = "all",
    decode_seconds: float = 0.0,
    on_page: Callable[[str, int], None] | None = None,
    text_layer: TextLayerMode = "auto",
    pages: Collection[int] | None = None,
) -> OCRResponse:
    """`document` through `backend` in this process: the unified response (first failure raised).

    `pages` (0-based indices) limits the work and the response to those pages; default: every page.
    """
    call = functools.partial(
        flow.recognize,
        document,
        [LocalRecognizer(backend)],
        options,
        boxes,
        decode_seconds=decode_seconds,
        on_page=on_page,
        text_layer=text_layer,
        pages=pages,
    )
    response = anyio.run(call)
    assert isinstance(response, OCRResponse)
    return response
