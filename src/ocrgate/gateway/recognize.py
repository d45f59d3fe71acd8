"""A checked upload through its backends' pools now: admission, the one flow, metrics.

`POST /v1/ocr` answers every request body it takes (the multipart form, the Mistral OCR convention,
the seed's JSON) through `recognize_now`, so all of them are admitted, limited and counted alike.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ocrgate import flow
from ocrgate.documents import Document, PageImage
from ocrgate.errors import BackendUnavailable, OCRGateError
from ocrgate.gateway.state import Gateway
from ocrgate.gateway.uploads import Upload
from ocrgate.recognizer import Progress, Recognizer
from ocrgate.schema import CompareResponse, OCRResponse, PageResult


class Unavailable:
    """A backend that is down, as a recognizer of a comparison: every page and file fails at once with
    the error that says why (`recognizer.Recognizer`), so it is answered like a backend that read nothing."""

    window = 1

    def __init__(self, name: str, error: OCRGateError) -> None:
        self.name, self.error = name, error

    def reads_whole(self, media_type: str) -> bool:
        return False

    async def page(self, page: PageImage, options: Mapping[str, Any], *, boxes: bool = False) -> PageResult:
        raise copy.copy(self.error)

    async def file(
        self, document: Document, options: Mapping[str, Any], progress: Progress | None = None
    ) -> list[PageResult]:
        raise copy.copy(self.error)


async def recognize_now(
    gw: Gateway, upload: Upload, pages: Sequence[int] | None = None, request_id: str | None = None
) -> OCRResponse | CompareResponse:
    """`upload` through each of its backends: the unified response, or a comparison for several.

    `request_id` (the HTTP request's, `middleware.RequestID`) becomes the response's `request_id`, so
    the body and the `X-Request-ID` header agree; default: a new one.

        `pages` (0-based, checked by the caller) limits the work to those pages; default: all. Each
    backend's place is held before any work starts (`BackendPool.admitted`): a full backend raises
    `Busy` (429) at once. Failed pages are flagged (`status: partial`); a backend that read no page at
    all raises its first page's typed error when it is the only one. In a comparison a backend that is
    down (no healthy worker) or read no page answers `success: false` with its error, beside the
    others (`flow.recognize`); only when every one failed is the first one's error raised. The caller
    closes the document (figures may still be cropped from its pages).
    """
    document, settings = upload.document, gw.settings
    count = document.page_count if pages is None else len(pages)
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as held:
            recognizers: list[Recognizer] = []
            for name in upload.backends:
                pool = gw.router.pool(name)
                window = 1 if pool.reads_whole(document.media_type) else min(pool.window, count)
                try:
                    held.enter_context(pool.admitted(window))
                except BackendUnavailable as down:
                    if len(upload.backends) == 1:
                        raise
                    recognizers.append(Unavailable(name, down))  # answered with its error, beside the others
                    continue
                recognizers.append(
                    pool.recognizer(
                        settings.limits.page_timeout_s,
                        settings.gateway.page_retries,
                        reserved=True,
                        options=upload.backend_options.get(name),
                        request_id=request_id,
                    )
                )
            result = await flow.recognize(
                document,
                recognizers,
                upload.options,
                upload.boxes or "all",
                request_id=request_id,
                decode_seconds=upload.decode_seconds,
                pages=pages,
                text_layer=upload.text_layer,
            )
        for name in upload.backends:
            gw.metrics.pages_done(name, count)
        return result
    finally:
        for name in upload.backends:
            gw.metrics.request_seconds(name, time.perf_counter() - started + upload.decode_seconds)
