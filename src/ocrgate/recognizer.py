"""What the one flow (`ocrgate.flow`) asks of what it runs pages through and where it delivers them:
a recognizer (a backend in this process or the gateway's pool of its workers) and a page sink (the
`Collector` of a response, or a job's store)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ocrgate.documents import Document, PageImage
from ocrgate.errors import OCRGateError
from ocrgate.render import RenderedPage
from ocrgate.schema import PageResult

#: a whole-file engine's progress report: pages done, of pages in all
Progress = Callable[[int, int], None]


class Recognizer(Protocol):
    """One backend as the flow sees it: in this process (`inprocess.LocalRecognizer`) or behind the
    gateway's workers (`gateway.pool.RemoteRecognizer`).

    Both calls raise `OCRGateError` subclasses; boxes come back in pixels of the page image sent (for
    `page`) or of the page sizes the document gives (for `file`).
    """

    name: str
    #: pages this recognizer can usefully work on at once
    window: int

    def reads_whole(self, media_type: str) -> bool:
        """Whether it takes the original upload of this media type instead of page images."""
        ...

    async def page(self, page: PageImage, options: Mapping[str, Any], *, boxes: bool = False) -> PageResult:
        """The page read; `boxes`: the flow will show a boxes picture of it and does not hold its pixels,
        so a recognizer that does (a worker) may bring a preview for it (`PageResult.page_preview`)."""
        ...

    async def file(
        self, document: Document, options: Mapping[str, Any], progress: Progress | None = None
    ) -> list[PageResult]: ...


class PageSink(Protocol):
    """Where the flow delivers each page, per recognizer (its `name`)."""

    def claim(self, backend: str, index: int) -> bool:
        """Whether page `index` is still to be done for `backend` (jobs: taken by nobody else)."""
        ...

    def done(self, backend: str, page: RenderedPage) -> None: ...

    def failed(self, backend: str, index: int, error: OCRGateError) -> None: ...

    def progress(self, backend: str, done: int, total: int) -> None:
        """What a whole-file engine reports while it works (pages done of total)."""
        ...
