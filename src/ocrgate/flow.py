"""The one recognition flow: a document through one or several recognizers into rendered pages.

    document -> pages (rasterised once each, at most `window` ahead; an uploaded image is not decoded
                here unless something here needs its pixels: it travels to a worker as its own bytes)
             -> every recognizer that reads page images (the same page image for all of them)
                or, for a recognizer that reads this file type whole, the original upload once
             -> page results -> render (markdown, boxes picture) -> the caller's sink

The CLI, `ocrgate eval`, `POST /v1/ocr` and jobs all run documents through `run`; they differ only in
their recognizers (a backend in this process, or the gateway's pool of workers) and their sink
(`Collector` gathers a response; the job runner stores each page as it finishes). Stage timings are
collected here, once, per recognizer, and per page: each page the sink gets carries the seconds it
took for that recognizer (`RenderedPage.timings`), so a job can add up its pages' timings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import anyio

from ocrgate.collector import Collector
from ocrgate.documents import Document, EncodedImage, PageImage
from ocrgate.errors import BackendError, InternalError, OCRGateError
from ocrgate.recognizer import PageSink, Recognizer
from ocrgate.render import BoxesMode, RenderedPage, page_href, render_page, respond, wants_boxes
from ocrgate.render.response import cheap_to_render, needs_pixels
from ocrgate.schema import (
    CompareResponse,
    ErrorInfo,
    OCRResponse,
    PageResult,
    TextLayerMode,
    Timings,
    new_request_id,
)
from ocrgate.structure.orientation import result_as_sent, rotation, turned_upright
from ocrgate.textlayer import TextLayer, assess, layer_blocks, merged, pictures_to_read

log = logging.getLogger("ocrgate.flow")


async def run(
    document: Document,
    recognizers: Sequence[Recognizer],
    options: Mapping[str, Any],
    boxes: BoxesMode,
    sink: PageSink,
    *,
    window: int = 2,
    pages: Mapping[str, Collection[int]] | None = None,
    text_layer: TextLayerMode = "auto",
) -> dict[str, Timings]:
    """Every wanted page of `document` through every recognizer; each outcome goes to `sink`.

    `pages` limits the work per recognizer name (jobs resume with what is left; default: all pages).
    `window` is how many pages are held (rasterised) at once. A failure (a page that cannot be
    rasterised, a backend that fails on it, a bug) is given to `sink.failed` and the flow goes on with
    the other pages. `text_layer` (PDF pages): `auto` reads a page from its text layer where the layer
    is reliable, and has the engine read only the pictures the layer does not cover where it is partial
    (`ocrgate.textlayer`); `never` always asks the engine; `only` never does. Returns each recognizer's
    timings in seconds: its stages summed over its pages, and `total`, the wall clock from the start
    of the run until its last page was delivered (with several recognizers, each one's own).
    """
    started = time.perf_counter()
    run_ = _Run(document, options, boxes, sink, text_layer)
    wanted = {
        r.name: sorted(range(document.page_count) if pages is None else set(pages.get(r.name, ())))
        for r in recognizers
    }
    whole = [r for r in recognizers if r.reads_whole(document.media_type) and wanted[r.name]]
    by_page = [r for r in recognizers if r not in whole and wanted[r.name]]
    needed = sorted({i for r in by_page for i in wanted[r.name]})
    if not whole and len(needed) == 1:  # one page and nothing beside it (most requests): no task group
        await run_.one_page(needed[0], by_page, None)
    else:
        gate = anyio.Semaphore(max(1, window))
        async with anyio.create_task_group() as group:
            for recognizer in whole:
                group.start_soon(run_.whole_file, recognizer, wanted[recognizer.name])
            for index in needed:
                await gate.acquire()  # back-pressure: never more than `window` pages rasterised at once
                readers = [r for r in by_page if index in wanted[r.name]]
                group.start_soon(run_.one_page, index, readers, gate)
    ended = time.perf_counter()
    for r in recognizers:  # until its last page was delivered: beside a slower one, its own time
        run_.timings.setdefault(r.name, Timings()).total = run_.finished.get(r.name, ended) - started
    return {r.name: run_.timings[r.name] for r in recognizers}


class _Run:
    """The state of one `run`: what it delivers to the sink and the timings it adds up."""

    def __init__(
        self,
        document: Document,
        options: Mapping[str, Any],
        boxes: BoxesMode,
        sink: PageSink,
        text_layer: TextLayerMode,
    ) -> None:
        self.document, self.options, self.boxes, self.sink = document, options, boxes, sink
        self.text_layer = text_layer
        self.timings: dict[str, Timings] = {}
        #: when each recognizer's latest page was delivered (done or failed), `time.perf_counter()`
        self.finished: dict[str, float] = {}

    def _timings(self, name: str) -> Timings:
        timings = self.timings.get(name)
        if timings is None:  # not `setdefault(name, Timings())`, which would make one on every call
            timings = self.timings[name] = Timings()
        return timings

    def _failed(self, name: str, index: int, error: Exception) -> None:
        if not isinstance(error, OCRGateError):
            log.error("page %d of %s failed in %s", index, self.document.name, name, exc_info=error)
            error = InternalError(f"internal error ({type(error).__name__}) on page {index + 1}")
        self.sink.failed(name, index, error)
        self.finished[name] = time.perf_counter()

    async def _render(
        self, names: Sequence[str], result: PageResult, page: PageImage | None, spent: Mapping[str, Timings]
    ) -> None:
        """`result` rendered against its page image (None: not rasterised, so no pictures) once, then
        delivered for each of `names` with the seconds that page took for it (`spent`: the stages before
        rendering; render and total are added here)."""
        t0 = time.perf_counter()
        boxes = wants_boxes(self.boxes, result.index)
        upload = self._shown(page) if boxes else None
        shown = page_href(upload.data, upload.media_type) if upload is not None else None
        if cheap_to_render(result, boxes, shown is not None):  # less than a hand-off to a thread and back
            rendered = _render_on(result, page, boxes, shown)
        else:
            rendered = await anyio.to_thread.run_sync(_render_on, result, page, boxes, shown)
        seconds = time.perf_counter() - t0
        for name in names:
            self._timings(name).render += seconds
            before = spent[name]
            own = Timings(
                queue=before.queue,
                decode=before.decode,
                ocr=before.ocr,
                render=seconds,
                total=before.decode + before.queue + before.ocr + seconds,
            )
            if len(names) == 1:  # the page is this backend's alone: no copy to make
                rendered.timings = own
                self.sink.done(name, rendered)
            else:
                self.sink.done(name, rendered.model_copy(update={"timings": own}))
            self.finished[name] = time.perf_counter()

    def _shown(self, page: PageImage | None) -> EncodedImage | None:
        """The upload itself as the boxes picture's page, where a browser shows it as `page`'s pixels
        and it is at most `limits.boxes_embed_max_bytes`; None when the picture needs the pixels."""
        encoded = page.encoded if page is not None else None
        if encoded is None or len(encoded.data) > self.document.limits.boxes_embed_max_bytes:
            return None
        return encoded if encoded.as_stored else None

    async def _rasterise(self, index: int, pixels: bool = False) -> tuple[PageImage, float]:
        t0 = time.perf_counter()
        page = await self._page(index, pixels)
        return page, time.perf_counter() - t0

    async def _page(self, index: int, pixels: bool = False) -> PageImage:
        """Page `index`, its pixels made (in a thread) unless it can travel as the upload's own bytes
        and `pixels` is not asked for."""
        if self.document.is_pdf:
            return await anyio.to_thread.run_sync(self.document.page, index)
        page = self.document.page(index)  # an image file's page: its headers are read already
        if pixels or page.encoded is None:
            await anyio.to_thread.run_sync(getattr, page, "image")
        return page

    async def one_page(self, index: int, readers: list[Recognizer], gate: anyio.Semaphore | None) -> None:
        """Page `index` read by each of `readers` at the same time: from its PDF text layer where that
        layer serves (`ocrgate.textlayer`; the page is then rasterised only when a picture must be
        checked or a boxes picture is asked for), else rasterised once for all of them. `gate` (the
        window's place this page holds) is released at the end."""
        try:
            claimed = [r for r in readers if self.sink.claim(r.name, index)]
            if not claimed:
                return
            names = [r.name for r in claimed]
            started = time.perf_counter()
            try:
                layer = None
                if self.text_layer != "never" and self.document.is_pdf:  # an image has no text layer
                    layer = await anyio.to_thread.run_sync(self.document.text_layer, index)
                page = None
                if layer is None or layer.pictures or wants_boxes(self.boxes, index):
                    page = await self._page(index)
                quality, crops = None, None
                if layer is not None:
                    quality = await anyio.to_thread.run_sync(assess, layer, page.image if page else None)
                if layer is not None and page is not None and quality == "partial":
                    crops = await anyio.to_thread.run_sync(pictures_to_read, layer, page.image)
                if self.text_layer == "only" and layer is None:  # an image: no layer, and no engine
                    assert page is not None
                    image = await anyio.to_thread.run_sync(getattr, page, "image")  # its size
                    layer, quality = TextLayer(image.width, image.height), "none"
                if layer is not None and (quality == "reliable" or self.text_layer == "only" or crops == []):
                    decoded = time.perf_counter() - started
                    self._decoded(names, decoded)
                    flags = [] if quality in ("reliable", "partial") else [f"text_layer_{quality}"]
                    result = PageResult(
                        index=index,
                        width=layer.width,
                        height=layer.height,
                        blocks=layer_blocks(layer),
                        flags=flags,
                    )
                    await self._render(names, result, page, _spent(claimed, decoded))
                    return
                if page is None:
                    page = await self._page(index)
            except Exception as exc:  # a page that cannot be read fails alone, not the document
                for name in names:
                    self._failed(name, index, exc)
                return
            decoded = time.perf_counter() - started
            self._decoded(names, decoded)
            if len(claimed) == 1:  # one reader: no task group to set up
                await self._read_page(claimed[0], page, crops, layer, decoded)
                return
            async with anyio.create_task_group() as group:
                for recognizer in claimed:
                    group.start_soon(self._read_page, recognizer, page, crops, layer, decoded)
        finally:
            if gate is not None:
                gate.release()

    def _decoded(self, names: Sequence[str], seconds: float) -> None:
        for name in names:
            self._timings(name).decode += seconds

    async def _read_page(
        self,
        recognizer: Recognizer,
        page: PageImage,
        crops: list[tuple[int, int, int, int]] | None,
        layer: TextLayer | None,
        decode_seconds: float,
    ) -> None:
        """The engine's reading of the page, or (`crops`) of the pictures the text layer misses."""
        timings = self._timings(recognizer.name)
        try:
            pieces = (
                [(page, (0, 0))]
                if crops is None
                else [
                    (PageImage(index=page.index, image=page.image.crop(box)), (box[0], box[1]))
                    for box in crops
                ]
            )
            found = []
            # the picture is made from the upload itself where it can be, else where the pixels are:
            # here once they are made, else by the worker
            boxes = (
                crops is None
                and not page.decoded
                and wants_boxes(self.boxes, page.index)
                and self._shown(page) is None
            )
            ocr = queue = 0.0
            for piece, origin in pieces:
                t0 = time.perf_counter()
                result = await recognizer.page(piece, self.options, boxes=boxes)
                queued = max(0.0, time.perf_counter() - t0 - result.ocr_seconds)  # waiting, hand-offs
                ocr, queue = ocr + result.ocr_seconds, queue + queued
                timings.ocr += result.ocr_seconds  # the run's, so far: a later piece may fail
                timings.queue += queued
                found.append((origin, result_as_sent(result) if crops is not None else result))
            if crops is not None:
                assert layer is not None
                result = merged(layer, page.index, page.width, page.height, found)
            elif angle := rotation(result.flags):  # read upright: rendered on the page turned the same way
                page = PageImage(index=page.index, image=turned_upright(page.image, angle), dpi=page.dpi)
            own = Timings(decode=decode_seconds, ocr=ocr, queue=queue)
            await self._render([recognizer.name], result, page, {recognizer.name: own})
        except Exception as exc:
            self._failed(recognizer.name, page.index, exc)

    async def whole_file(self, recognizer: Recognizer, indices: list[int]) -> None:
        """The original upload to a recognizer that reads it whole; its pages rendered on ours."""
        name = recognizer.name
        claimed = [i for i in indices if self.sink.claim(name, i)]
        if not claimed:
            return
        t0 = time.perf_counter()
        try:
            results = await recognizer.file(
                self.document, self.options, lambda done, total: self.sink.progress(name, done, total)
            )
        except Exception as exc:
            for index in claimed:
                self._failed(name, index, exc)
            return
        read_seconds = time.perf_counter() - t0
        self._timings(name).ocr += read_seconds
        by_index: dict[int, PageResult] = {}
        for result in results:
            if not 0 <= result.index < self.document.page_count:
                error = BackendError(
                    f"the backend returned page {result.index} of a {self.document.page_count}-page file"
                )
                for index in claimed:
                    self._failed(name, index, error)
                return
            by_index[result.index] = result
        for index in claimed:
            result = by_index.get(index)
            if result is None:
                self._failed(name, index, BackendError("the backend returned no result for this page"))
                continue
            try:
                page, seconds = await self._rasterise(index, pixels=True)
                self._timings(name).decode += seconds
                own = {name: Timings(decode=seconds, ocr=read_seconds / len(claimed))}  # its share
                await self._render([name], result.fitted(page.width, page.height), page, own)
            except Exception as exc:
                self._failed(name, index, exc)


def _render_on(
    result: PageResult, page: PageImage | None, boxes: bool, shown: str | None = None
) -> RenderedPage:
    """`render_page` against the page's pixels where they are made or needed (figures to crop, a boxes
    picture that neither the result nor the upload makes: `shown`, its `data:` URL), else against the
    result's own size (blocking: decodes)."""
    needed = page is not None and (page.decoded or needs_pixels(result, boxes, shown is not None))
    return render_page(result, page.image if needed else None, boxes, shown)


def _spent(readers: Sequence[Recognizer], decode_seconds: float) -> dict[str, Timings]:
    """What a page read from its text layer cost each of `readers`: its rasterising."""
    return {r.name: Timings(decode=decode_seconds) for r in readers}


async def recognize(
    document: Document,
    recognizers: Sequence[Recognizer],
    options: Mapping[str, Any],
    boxes: BoxesMode = "all",
    *,
    request_id: str | None = None,
    window: int | None = None,
    decode_seconds: float = 0.0,
    on_page: Callable[[str, int], None] | None = None,
    text_layer: TextLayerMode = "auto",
    pages: Collection[int] | None = None,
) -> OCRResponse | CompareResponse:
    """`document` through `recognizers` into the unified response.

    A page that fails (cannot be rasterised, or its backend fails on it) is a failed page: flagged
    `failed: <reason>` and the response's `status` is `partial`. A backend that read no page at all
    raises its first error when it is the only one (so a one-page request still answers 503, 504, ...
    as it did), or when every backend of a comparison failed (the first backend's); else it answers
    in the comparison with `success: false` and that `error`, beside the others.
    `decode_seconds` (reading and checking the upload, done by the caller) is added to each
    backend's `decode` and `total` timings. `window` defaults to twice the largest recognizer window,
    so the next pages are rasterised while the current ones are recognised. `pages` (0-based
    indices) limits the work and the response to those pages; default: every page.
    """
    names = [r.name for r in recognizers]
    collector = Collector(names, on_page)
    window = window or 2 * max((r.window for r in recognizers), default=1)
    wanted = None if pages is None else dict.fromkeys(names, pages)
    timings = await run(
        document, recognizers, options, boxes, collector, window=window, pages=wanted, text_layer=text_layer
    )
    failed = {  # backends that read no page: each one's first error
        name: errors[min(errors)]
        for name in names
        if (errors := collector.errors[name]) and len(errors) == len(collector.pages[name])
    }
    if failed and len(failed) == len(names):  # nothing to answer with: the first backend's error
        raise failed[names[0]]
    for t in timings.values():
        t.decode += decode_seconds
        t.total += decode_seconds
    infos = {name: ErrorInfo(code=e.code, message=e.message) for name, e in failed.items()}
    return respond(
        names, collector.pages, document.name, request_id or new_request_id(), timings, failed=infos
    )
