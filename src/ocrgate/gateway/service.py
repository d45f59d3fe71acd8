"""A document through one or several backends' workers into the unified response."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import anyio
from rapidfuzz.distance import Levenshtein

from ocrgate.backends import registry
from ocrgate.config import Settings
from ocrgate.documents import Document
from ocrgate.errors import BackendError, InvalidOption
from ocrgate.gateway.routing import BackendPool, Router
from ocrgate.render import (
    BoxesMode,
    RenderedPage,
    assemble_response,
    render_page,
    wants_boxes,
)
from ocrgate.schema import Agreement, CompareResponse, OCRResponse, PageResult, Timings


def parse_backends(value: str | None, router: Router, default: str) -> list[str]:
    """`rapidocr`, `rapidocr,tesseract` or `all` (every configured backend) -> checked names."""
    text = (value or default).strip()
    names = list(router.pools) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InvalidOption("no backend named; give one name, a comma list, or `all`")
    for name in names:
        router.pool(name)
    return list(dict.fromkeys(names))


def check_options(names: list[str], options: dict[str, Any]) -> dict[str, Any]:
    """Validate request options against every chosen backend's options model (4xx on unknown ones)."""
    for name in names:
        registry.get(name).parse_options(options)
    return {k: v for k, v in options.items() if v is not None}


def agreement(results: dict[str, OCRResponse]) -> list[Agreement]:
    """Pairwise normalised edit similarity (1 = same text) of the backends' markdown."""
    texts = {name: " ".join(r.markdown.split()) for name, r in results.items()}
    return [
        Agreement(a=a, b=b, similarity=round(Levenshtein.normalized_similarity(texts[a], texts[b]), 4))
        for a, b in itertools.combinations(texts, 2)
    ]


async def recognize_document(
    pool: BackendPool,
    document: Document,
    options: dict[str, Any],
    boxes: BoxesMode,
    settings: Settings,
    request_id: str,
) -> OCRResponse:
    """`document` through `pool`: page by page, or whole for backends that read the file natively."""
    started = time.perf_counter()
    recognize = _whole_file if pool.reads_files(document.media_type) else _page_by_page
    rendered, timings = await recognize(pool, document, options, boxes, settings)
    response = assemble_response(pool.name, document.name, rendered, request_id=request_id)
    timings.total = time.perf_counter() - started
    response.timings, response.processing_time = timings, timings.total
    return response


async def _page_by_page(
    pool: BackendPool, document: Document, options: dict[str, Any], boxes: BoxesMode, settings: Settings
) -> tuple[list[RenderedPage], Timings]:
    """Every page through `pool`, a window of pages in flight across its replicas."""
    # twice the engine window: the next pages are rasterised while the current ones are recognised
    gate = asyncio.Semaphore(2 * pool.window)
    timings = Timings()

    async def one(index: int) -> RenderedPage:
        async with gate:
            t0 = time.perf_counter()
            page = await anyio.to_thread.run_sync(document.page, index)
            t1 = time.perf_counter()
            result = await pool.run_page(
                page, options, settings.limits.page_timeout_s, settings.gateway.page_retries, reserved=True
            )
            t2 = time.perf_counter()
            rendered = await anyio.to_thread.run_sync(
                render_page, result, page.image, wants_boxes(boxes, index)
            )
            timings.decode += t1 - t0
            timings.ocr += result.ocr_seconds
            timings.queue += max(0.0, (t2 - t1) - result.ocr_seconds)
            timings.render += time.perf_counter() - t2
            return rendered

    with pool.admitted(min(pool.window, document.page_count)):
        rendered = await asyncio.gather(*(one(i) for i in range(document.page_count)))
    return list(rendered), timings


async def _whole_file(
    pool: BackendPool, document: Document, options: dict[str, Any], boxes: BoxesMode, settings: Settings
) -> tuple[list[RenderedPage], Timings]:
    """The original upload to a backend that reads files whole; pages rendered here for display."""
    started = time.perf_counter()
    with pool.admitted(1):
        results = await pool.run_file(
            document, options, settings.limits.page_timeout_s, settings.gateway.page_retries, reserved=True
        )
    t_ocr = time.perf_counter()
    rendered = [await render_result(document, result, boxes) for result in results]
    return rendered, Timings(ocr=t_ocr - started, render=time.perf_counter() - t_ocr)


async def render_result(document: Document, result: PageResult, boxes: BoxesMode) -> RenderedPage:
    """A whole-file backend's page rendered against the page image this gateway shows."""
    if not 0 <= result.index < document.page_count:
        raise BackendError(f"the backend returned page {result.index} of a {document.page_count}-page file")
    page = await anyio.to_thread.run_sync(document.page, result.index)
    fitted = result.fitted(page.width, page.height)
    return await anyio.to_thread.run_sync(render_page, fitted, page.image, wants_boxes(boxes, result.index))


async def compare_document(
    router: Router,
    names: list[str],
    document: Document,
    options: dict[str, Any],
    boxes: BoxesMode,
    settings: Settings,
    request_id: str,
) -> CompareResponse:
    """The same document through several backends at once, with their pairwise agreement."""
    started = time.perf_counter()
    for name in names:
        pool = router.pool(name)
        pool.admit(min(document.page_count, pool.window))
    responses = await asyncio.gather(
        *(recognize_document(router.pool(n), document, options, boxes, settings, request_id) for n in names)
    )
    results = dict(zip(names, responses, strict=True))
    return CompareResponse(
        request_id=request_id,
        image_name=document.name,
        backends=names,
        results=results,
        agreement=agreement(results),
        processing_time=time.perf_counter() - started,
    )
