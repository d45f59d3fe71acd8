"""A checked upload through its backends' pools now: admission, the one flow, metrics.

`POST /v1/ocr` answers every request body it takes (the multipart form, the Mistral OCR convention,
the seed's JSON) through `recognize_now`, so all of them are admitted, limited and counted alike.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from ocrgate import flow
from ocrgate.gateway.state import Gateway
from ocrgate.gateway.uploads import Upload
from ocrgate.schema import CompareResponse, OCRResponse


async def recognize_now(
    gw: Gateway, upload: Upload, pages: Sequence[int] | None = None, request_id: str | None = None
) -> OCRResponse | CompareResponse:
    """`upload` through each of its backends: the unified response, or a comparison for several.

    `request_id` (the HTTP request's, `middleware.RequestID`) becomes the response's `request_id`, so
    the body and the `X-Request-ID` header agree; default: a new one.

        `pages` (0-based, checked by the caller) limits the work to those pages; default: all. Each
        backend's place is held before any work starts (`BackendPool.admitted`): a full backend raises
        `Busy` (429) at once. Failed pages are flagged (`status: partial`); a backend that read no page at
    all raises its first page's typed error. The caller closes the
        document (figures may still be cropped from its pages).
    """
    document, settings = upload.document, gw.settings
    count = document.page_count if pages is None else len(pages)
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as held:
            recognizers = []
            for name in upload.backends:
                pool = gw.router.pool(name)
                window = 1 if pool.reads_whole(document.media_type) else min(pool.window, count)
                held.enter_context(pool.admitted(window))
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
            gw.metrics.pages.labels(name, "done").inc(count)
        return result
    finally:
        for name in upload.backends:
            gw.metrics.latency.labels(name).observe(time.perf_counter() - started + upload.decode_seconds)
