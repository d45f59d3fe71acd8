"""Runs jobs: pages from the store to the workers and back, events to listeners, resume on start.

Each page of a job is rasterised once and sent to every backend of the job; a window of pages is
in flight per job. A page whose worker fails is tried again (bounded by `page_retries`) and then
marked failed with the reason; the store keeps every step, so a restarted gateway picks up where
the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator

import anyio

from ocrgate.config import Settings
from ocrgate.documents import Document, PageImage, open_document
from ocrgate.errors import OCRGateError, StorageError
from ocrgate.gateway.routing import Router
from ocrgate.jobs import JobRecord, JobStore, PageTask
from ocrgate.render import RenderedPage, assemble_response, render_page, wants_boxes
from ocrgate.schema import CompareResponse, JobEvent, JobProgress, JobStatus, OCRResponse, Page

log = logging.getLogger("ocrgate.jobs")
EXPIRY_INTERVAL_S = 60.0
# how long a job page waits for a worker of its backend to come (back) up before it counts as failed
WORKER_WAIT_S = 60.0
RESUME_AFTER_S = 5.0


def job_status(store: JobStore, job: JobRecord, progress: dict[str, JobProgress] | None = None) -> JobStatus:
    return JobStatus(
        id=job.id,
        status=job.status,
        name=job.name,
        page_count=job.page_count,
        backends=job.backends,
        progress=progress if progress is not None else store.progress(job.id),
        created_at=job.created_at,
        updated_at=job.updated_at,
        expires_at=job.expires_at,
        error=job.error,
    )


def job_result(store: JobStore, job: JobRecord) -> OCRResponse | CompareResponse:
    """The unified response from the pages stored so far (failed pages carry their reason)."""
    from ocrgate.gateway.service import agreement

    results: dict[str, OCRResponse] = {}
    for backend in job.backends:
        rendered = []
        for outcome in store.page_results(job.id, backend):
            if outcome.result_json:
                rendered.append(RenderedPage.model_validate_json(outcome.result_json))
            elif outcome.status == "failed":
                page = Page(
                    index=outcome.index,
                    width=0,
                    height=0,
                    markdown="",
                    blocks=[],
                    flags=[f"failed: {outcome.error}"],
                )
                rendered.append(RenderedPage(page=page, source_markdown=""))
        response = assemble_response(backend, job.name, rendered, request_id=job.id)
        response.success = job.status == "completed"
        results[backend] = response
    if len(job.backends) == 1:
        return results[job.backends[0]]
    return CompareResponse(
        success=job.status == "completed",
        request_id=job.id,
        image_name=job.name,
        backends=job.backends,
        results=results,
        agreement=agreement(results),
    )


class JobRunner:
    def __init__(self, store: JobStore, router: Router, settings: Settings) -> None:
        self.store = store
        self.router = router
        self.settings = settings
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.listeners: dict[str, set[asyncio.Queue[JobEvent]]] = defaultdict(set)
        #: pages done so far by whole-file backends, as their engines report it (job -> backend -> n)
        self.reported: dict[str, dict[str, int]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Resume every job a previous gateway left queued or running."""
        for job_id in self.store.unfinished_jobs():
            requeued = self.store.requeue_running_pages(job_id)
            log.info("resuming job %s (%d pages were in flight)", job_id, requeued)
            self.schedule(job_id)
        self._sweeper = asyncio.create_task(self._sweep())

    def schedule(self, job_id: str) -> None:
        if job_id not in self.tasks or self.tasks[job_id].done():
            self.tasks[job_id] = asyncio.create_task(self._run(job_id), name=f"job-{job_id}")

    async def cancel(self, job_id: str) -> bool:
        changed = self.store.cancel(job_id)
        task = self.tasks.pop(job_id, None)
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if changed:
            self._publish(JobEvent(event="job", job_id=job_id, status="cancelled"))
        return changed

    async def close(self) -> None:
        tasks = [*self.tasks.values(), *([self._sweeper] if self._sweeper else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Pages already finished (replayed from the store), then live ones, then the job's end."""
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        self.listeners[job_id].add(queue)
        try:
            job = self.store.load_job(job_id)
            if job is None:
                return
            for backend in job.backends:
                for outcome in self.store.page_results(job_id, backend):
                    if outcome.status in ("done", "failed"):
                        yield self._page_event(
                            job_id, backend, outcome.index, outcome.result_json, outcome.error
                        )
            job = self.store.load_job(job_id)
            if job is None or job.status in ("completed", "failed", "cancelled"):
                yield JobEvent(
                    event="job",
                    job_id=job_id,
                    status=job.status if job else "expired",
                    progress=self.progress(job_id),
                )
                return
            while True:
                event = await queue.get()
                yield event
                if event.event == "job":
                    return
        finally:
            self.listeners[job_id].discard(queue)
            if not self.listeners[job_id]:
                self.listeners.pop(job_id, None)

    def progress(self, job_id: str) -> dict[str, JobProgress]:
        """The store's counts, plus what whole-file engines report while they work."""
        progress = self.store.progress(job_id)
        for backend, done in self.reported.get(job_id, {}).items():
            if backend in progress:
                progress[backend].reported = done
        return progress

    def _page_event(
        self, job_id: str, backend: str, index: int, result_json: str | None, error: str | None
    ) -> JobEvent:
        page = None
        if result_json:
            page = RenderedPage.model_validate_json(result_json).page.model_copy(update={"boxes_image": None})
        return JobEvent(
            event="page",
            job_id=job_id,
            status="done" if page else "failed",
            backend=backend,
            index=index,
            page=page,
            error=error,
            progress=self.progress(job_id),
        )

    def _publish(self, event: JobEvent) -> None:
        for queue in self.listeners.get(event.job_id, ()):
            queue.put_nowait(event)

    async def _run(self, job_id: str) -> None:
        try:
            await self._run_job(job_id)
        except asyncio.CancelledError:
            raise
        except StorageError:  # e.g. the disk filled up: try again later, without a restart
            log.exception("job %s stopped on a storage error; resuming in %.0f s", job_id, RESUME_AFTER_S)
            asyncio.get_running_loop().call_later(RESUME_AFTER_S, self._resume, job_id)
        except Exception:  # a bug here must not end the job silently: it stays queued for a restart
            log.exception("job %s stopped on an unexpected error", job_id)

    def _resume(self, job_id: str) -> None:
        """Put the job's in-flight pages back in the queue and run it again (after a storage error)."""
        try:
            self.store.requeue_running_pages(job_id)
        except StorageError:
            asyncio.get_running_loop().call_later(RESUME_AFTER_S, self._resume, job_id)
            return
        self.schedule(job_id)

    async def _run_job(self, job_id: str) -> None:
        job = self.store.load_job(job_id)
        if job is None or job.status in ("completed", "failed", "cancelled"):
            return
        try:
            data = await anyio.to_thread.run_sync(self.store.input_bytes, job_id)
            document = await anyio.to_thread.run_sync(
                open_document, data, job.name, self.settings.limits, job.dpi
            )
        except OCRGateError as exc:
            for task in self.store.queued_pages(job_id):
                self.store.fail_attempt(job_id, task.backend, task.index, exc.message, max_attempts=1)
            await self._finish(job_id)
            return
        try:
            while tasks := self.store.queued_pages(job_id):
                await self._run_pages(job, document, tasks)
            await self._finish(job_id)
        finally:
            document.close()

    async def _run_pages(self, job: JobRecord, document: Document, tasks: list[PageTask]) -> None:
        by_page: dict[int, list[PageTask]] = defaultdict(list)
        by_file: dict[str, list[PageTask]] = defaultdict(list)
        for task in tasks:
            if self.router.pool(task.backend).reads_files(document.media_type):
                by_file[task.backend].append(task)
            else:
                by_page[task.index].append(task)
        window = asyncio.Semaphore(self.settings.gateway.job_concurrency)

        async def one_page(index: int, page_tasks: list[PageTask]) -> None:
            async with window:
                page = await anyio.to_thread.run_sync(document.page, index)
                await asyncio.gather(*(self._run_task(job, page, t) for t in page_tasks))

        await asyncio.gather(
            *(one_page(i, ts) for i, ts in sorted(by_page.items())),
            *(self._run_file(job, document, backend, ts) for backend, ts in by_file.items()),
        )

    async def _run_file(
        self, job: JobRecord, document: Document, backend: str, tasks: list[PageTask]
    ) -> None:
        """All of a job's pages for a backend that reads the file whole, as one call to one worker."""
        from ocrgate.gateway.service import render_result

        tasks = [t for t in tasks if self.store.mark_running(job.id, backend, t.index)]
        if not tasks:
            return

        def progress(done: int, total: int) -> None:
            self.reported.setdefault(job.id, {})[backend] = done
            self._publish(
                JobEvent(
                    event="progress",
                    job_id=job.id,
                    status="running",
                    backend=backend,
                    progress=self.progress(job.id),
                )
            )

        try:
            results = await self.router.pool(backend).run_file(
                document,
                dict(job.options),
                self.settings.limits.page_timeout_s,
                self.settings.gateway.page_retries,
                progress=progress,
                wait_for_worker_s=WORKER_WAIT_S,
            )
            by_index = {r.index: r for r in results}
            rendered = {
                t.index: await render_result(document, by_index[t.index], job.boxes)  # type: ignore[arg-type]
                for t in tasks
                if t.index in by_index
            }
        except OCRGateError as exc:
            rendered, error = {}, exc.message
        else:
            error = "the backend returned no result for this page"
        finally:
            self.reported.get(job.id, {}).pop(backend, None)
        for task in tasks:
            if task.index in rendered:
                result_json = rendered[task.index].model_dump_json()
                self.store.save_page(job.id, backend, task.index, result_json)
                self._publish(self._page_event(job.id, backend, task.index, result_json, None))
            else:
                self._fail(job, task, error)

    def _fail(self, job: JobRecord, task: PageTask, error: str) -> None:
        status = self.store.fail_attempt(
            job.id, task.backend, task.index, error, self.settings.gateway.page_retries + 1
        )
        if status == "failed":
            self._publish(self._page_event(job.id, task.backend, task.index, None, error))

    async def _run_task(self, job: JobRecord, page: PageImage, task: PageTask) -> None:
        options = dict(job.options)
        if not self.store.mark_running(job.id, task.backend, task.index):
            return  # claimed elsewhere or cancelled meanwhile
        try:
            pool = self.router.pool(task.backend)
            result = await pool.run_page(
                page,
                options,
                self.settings.limits.page_timeout_s,
                self.settings.gateway.page_retries,
                wait_for_worker_s=WORKER_WAIT_S,
            )
            rendered = await anyio.to_thread.run_sync(
                render_page,
                result,
                page.image,
                wants_boxes(job.boxes, task.index),  # type: ignore[arg-type]
            )
        except OCRGateError as exc:
            self._fail(job, task, exc.message)
            return
        result_json = rendered.model_dump_json()
        self.store.save_page(job.id, task.backend, task.index, result_json)
        self._publish(self._page_event(job.id, task.backend, task.index, result_json, None))

    async def _finish(self, job_id: str) -> None:
        status = self.store.finish_if_complete(job_id)
        if status:
            log.info("job %s %s", job_id, status)
            self._publish(JobEvent(event="job", job_id=job_id, status=status, progress=self.progress(job_id)))
        self.tasks.pop(job_id, None)

    async def _sweep(self) -> None:
        while True:
            try:
                removed = await anyio.to_thread.run_sync(self.store.delete_expired, time.time())
                if removed:
                    log.info("removed %d expired jobs", removed)
            except Exception:
                log.exception("expiry sweep failed")
            await asyncio.sleep(EXPIRY_INTERVAL_S)
