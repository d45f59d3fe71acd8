"""`POST /v1/ocr`: a document through one backend (unified response) or several (compare), now."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, Depends

from ocrgate import flow
from ocrgate.gateway.routes.errors import ERRORS
from ocrgate.gateway.state import GatewayDep, OwnerDep
from ocrgate.gateway.uploads import Upload, upload_form
from ocrgate.schema import CompareResponse, OCRResponse

router = APIRouter(tags=["ocr"])


@router.post("/v1/ocr", response_model=OCRResponse | CompareResponse, responses=ERRORS)
async def ocr(
    gw: GatewayDep, _owner: OwnerDep, upload: Annotated[Upload, Depends(upload_form)]
) -> OCRResponse | CompareResponse:
    """Recognise an image or PDF with one backend (unified response) or several (compare)."""
    document, settings = upload.document, gw.settings
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as held:
            recognizers = []
            for name in upload.backends:
                pool = gw.router.pool(name)
                pages = 1 if pool.reads_whole(document.media_type) else min(pool.window, document.page_count)
                held.enter_context(pool.admitted(pages))
                recognizers.append(
                    pool.recognizer(
                        settings.limits.page_timeout_s,
                        settings.gateway.page_retries,
                        reserved=True,
                        options=upload.backend_options.get(name),
                    )
                )
            result = await flow.recognize(
                document,
                recognizers,
                upload.options,
                upload.boxes or "all",
                decode_seconds=upload.decode_seconds,
                text_layer=upload.text_layer,
            )
        for name in upload.backends:
            gw.metrics.pages.labels(name, "done").inc(document.page_count)
        return result
    finally:
        document.close()
        for name in upload.backends:
            gw.metrics.latency.labels(name).observe(time.perf_counter() - started + upload.decode_seconds)
