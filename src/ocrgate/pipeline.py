"""In-process recognition: one document through one backend into the unified response."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from PIL import Image

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import Document
from ocrgate.render import BoxesMode, RenderedPage, assemble_response, render_page, wants_boxes
from ocrgate.schema import OCRResponse, PageResult, Timings

PageCallback = Callable[[PageResult, int], None]


def new_request_id() -> str:
    return uuid.uuid4().hex


def reads_documents_natively(backend: Backend) -> bool:
    return type(backend).ocr_document is not Backend.ocr_document


def recognize(
    document: Document,
    backend: Backend,
    options: BackendOptions,
    boxes: BoxesMode = "all",
    on_page: PageCallback | None = None,
    decode_seconds: float = 0.0,
) -> OCRResponse:
    """Run every page of `document` through `backend` (loaded on first use) and render the result.

    Each page is rendered right after it is recognised, while its image is in memory, so a PDF
    page is rasterised once. `on_page(result, total)` is called after each page (progress bars).
    """
    started = time.perf_counter()
    if not backend.loaded:
        backend.load()
    timings = Timings(decode=decode_seconds)
    rendered: list[RenderedPage] = []

    def finish(result: PageResult, position: int, image: Image.Image) -> None:
        t0 = time.perf_counter()
        rendered.append(render_page(result, image, wants_boxes(boxes, position)))
        timings.render += time.perf_counter() - t0
        if on_page:
            on_page(result, document.page_count)

    if reads_documents_natively(backend):
        t0 = time.perf_counter()
        results = backend.ocr_document(document, options)
        timings.ocr += time.perf_counter() - t0
        for position, result in enumerate(results):
            finish(result, position, document.page(result.index).image)
    else:
        for position in range(document.page_count):
            t0 = time.perf_counter()
            page = document.page(position)
            t1 = time.perf_counter()
            result = backend.ocr_page(page, options)
            timings.decode += t1 - t0
            timings.ocr += time.perf_counter() - t1
            finish(result, position, page.image)
    response = assemble_response(backend.name, document.name, rendered, request_id=new_request_id())
    timings.total = time.perf_counter() - started + decode_seconds
    response.timings = timings
    response.processing_time = timings.total
    return response
