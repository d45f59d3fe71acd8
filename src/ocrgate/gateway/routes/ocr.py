"""`POST /v1/ocr`: a document through one backend (unified response) or several (compare), now."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Form, Header, Response

from ocrgate import flow
from ocrgate.formats import Format
from ocrgate.gateway.formatting import (
    FORMAT_DESCRIPTION,
    FORMAT_RESPONSES,
    check_backends,
    file_response,
    requested_format,
)
from ocrgate.gateway.routes.errors import ERRORS
from ocrgate.gateway.state import GatewayDep, OwnerDep
from ocrgate.gateway.uploads import Upload, upload_form
from ocrgate.schema import CompareResponse, OCRResponse

router = APIRouter(tags=["ocr"])


@router.post(
    "/v1/ocr", response_model=OCRResponse | CompareResponse, responses={**ERRORS, **FORMAT_RESPONSES}
)
async def ocr(
    gw: GatewayDep,
    _owner: OwnerDep,
    upload: Annotated[Upload, Depends(upload_form)],
    fmt: Annotated[Format | None, Form(alias="format", description=FORMAT_DESCRIPTION)] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> OCRResponse | CompareResponse | Response:
    """Recognise an image or PDF with one backend (unified response) or several (compare); with
    `format` (or `Accept`), the result as markdown, text, ALTO, hOCR or a searchable PDF."""
    document, settings = upload.document, gw.settings
    started = time.perf_counter()
    try:
        wanted = requested_format(fmt, accept)
        check_backends(wanted, upload.backends)
        boxes = upload.boxes or ("all" if wanted == "json" else "none")
        with contextlib.ExitStack() as held:
            recognizers = []
            for name in upload.backends:
                pool = gw.router.pool(name)
                pages = 1 if pool.reads_whole(document.media_type) else min(pool.window, document.page_count)
                held.enter_context(pool.admitted(pages))
                recognizers.append(
                    pool.recognizer(
                        settings.limits.page_timeout_s, settings.gateway.page_retries, reserved=True
                    )
                )
            result = await flow.recognize(
                document, recognizers, upload.options, boxes, decode_seconds=upload.decode_seconds
            )
        for name in upload.backends:
            gw.metrics.pages.labels(name, "done").inc(document.page_count)
        if wanted == "json":
            return result
        return await anyio.to_thread.run_sync(file_response, result, wanted, document)
    finally:
        document.close()
        for name in upload.backends:
            gw.metrics.latency.labels(name).observe(time.perf_counter() - started + upload.decode_seconds)
