"""The flow's sink for answers built at the end (requests, the CLI, eval): every rendered page kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ocrgate.errors import OCRGateError
from ocrgate.render import RenderedPage


class Collector:
    """A sink that keeps every rendered page, for answers built at the end (requests, CLI, eval).

    `on_page(backend, index)` is called after each finished or failed page (progress bars).
    Failed pages are kept as pages flagged `failed: <reason>`.
    """

    def __init__(self, names: Sequence[str], on_page: Callable[[str, int], None] | None = None) -> None:
        self.pages: dict[str, list[RenderedPage]] = {name: [] for name in names}
        self.errors: dict[str, dict[int, OCRGateError]] = {name: {} for name in names}
        self.reported: dict[str, int] = {}
        self.on_page = on_page

    def claim(self, backend: str, index: int) -> bool:
        return True

    def done(self, backend: str, page: RenderedPage) -> None:
        self.pages[backend].append(page)
        if self.on_page:
            self.on_page(backend, page.page.index)

    def failed(self, backend: str, index: int, error: OCRGateError) -> None:
        self.errors[backend][index] = error
        self.pages[backend].append(RenderedPage.failed(index, error.message))
        if self.on_page:
            self.on_page(backend, index)

    def progress(self, backend: str, done: int, total: int) -> None:
        self.reported[backend] = done
