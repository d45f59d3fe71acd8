"""Runs jobs: pages from the store to the workers and back, events to listeners, resume on start.

Each round takes the job's queued pages through the one flow (`ocrgate.flow.run`): each page is
rasterised once and sent to every backend of the job, a whole-file backend gets the original upload,
a window of pages is in flight per job, and `JobSink` stores each outcome as it comes. A page whose
worker fails is tried again (bounded by `page_retries`) and then marked failed with the reason; the
store keeps every step, so a restarted gateway picks up where the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator

import anyio

from ocrgate import flow
from ocrgate.config import Settings
from ocrgate.documents import Document, open_document
from ocrgate.errors import OCRGateError, StorageError
from ocrgate.gateway.routing import Router
from ocrgate.jobs import JobRecord, JobStore, PageTask
from ocrgate.render import RenderedPage
from ocrgate.schema import CompareResponse, JobEvent, JobProgress, JobStatus, OCRResponse, Timings

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
        page_names=job.page_names,
    )


def job_pages(store: JobStore, job: JobRecord) -> dict[str, list[RenderedPage]]:
    """Each backend's pages stored so far, by page (a failed one: `RenderedPage.failed`, with its reason)."""
    pages: dict[str, list[RenderedPage]] = {}
    for backend in job.backends:
        pages[backend] = []
        for outcome in store.page_results(job.id, backend):
            if outcome.result_json:
                pages[backend].append(RenderedPage.model_validate_json(outcome.result_json))
            elif outcome.status == "failed":
                pages[backend].append(RenderedPage.failed(outcome.index, outcome.error or "failed"))
    return pages


def summed_timings(pages: list[RenderedPage]) -> Timings:
    """The stage timings of `pages` added up (seconds of work: pages that ran at once count each)."""
    total = Timings()
    for page in pages:
        if page.timings is not None:
            for stage in Timings.model_fields:
                setattr(total, stage, getattr(total, stage) + getattr(page.timings, stage))
    return total


def job_result(store: JobStore, job: JobRecord) -> OCRResponse | CompareResponse:
    """The unified response from the pages stored so far (failed pages carry their reason); each
    backend's `timings` are the sums of its pages' (`summed_timings`)."""
    pages = job_pages(store, job)
    timings = {backend: summed_timings(rendered) for backend, rendered in pages.items()}
    return flow.respond(job.backends, pages, job.name, job.id, timings, success=job.status == "completed")


class JobSink:
    """Where the flow delivers a job's pages: the store (claimed, saved or failed) and the listeners."""

    def __init__(self, runner: JobRunner, job: JobRecord) -> None:
        self.runner, self.job, self.store = runner, job, runner.store

    def claim(self, backend: str, index: int) -> bool:
        return self.store.mark_running(self.job.id, backend, index)

    def done(self, backend: str, page: RenderedPage) -> None:
        result_json = page.model_dump_json()
        self.store.save_page(self.job.id, backend, page.page.index, result_json)
        self.runner.publish(self.runner.page_event(self.job.id, backend, page.page.index, result_json, None))

    def failed(self, backend: str, index: int, error: OCRGateError) -> None:
        attempts = self.runner.settings.gateway.page_retries + 1
        if self.store.fail_attempt(self.job.id, backend, index, error.message, attempts) == "failed":
            self.runner.publish(self.runner.page_event(self.job.id, backend, index, None, error.message))

    def progress(self, backend: str, done: int, total: int) -> None:
        self.runner.reported.setdefault(self.job.id, {})[backend] = done
        event = JobEvent(
            event="progress",
            job_id=self.job.id,
            status="running",
            backend=backend,
            progress=self.runner.progress(self.job.id),
        )
        self.runner.publish(event)


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
            self.publish(JobEvent(event="job", job_id=job_id, status="cancelled"))
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
                        yield self.page_event(
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

    def page_event(
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

    def publish(self, event: JobEvent) -> None:
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
            self.reported.pop(job_id, None)

    async def _run_pages(self, job: JobRecord, document: Document, tasks: list[PageTask]) -> None:
        """One round of the job's queued pages through the flow (failed ones come back queued)."""
        sink = JobSink(self, job)
        pages: dict[str, list[int]] = defaultdict(list)
        for task in tasks:
            pages[task.backend].append(task.index)
        recognizers = []
        for backend, indices in pages.items():
            try:
                pool = self.router.pool(backend)
            except OCRGateError as exc:  # e.g. no longer configured after a restart
                for index in indices:
                    if sink.claim(backend, index):
                        sink.failed(backend, index, exc)
                continue
            timeout, retries = self.settings.limits.page_timeout_s, self.settings.gateway.page_retries
            own = job.backend_options.get(backend)
            recognizers.append(
                pool.recognizer(timeout, retries, wait_for_worker_s=WORKER_WAIT_S, options=own)
            )
        await flow.run(
            document,
            recognizers,
            job.options,
            job.boxes,  # type: ignore[arg-type]
            sink,
            window=self.settings.gateway.job_concurrency,
            pages=pages,
        )

    async def _finish(self, job_id: str) -> None:
        status = self.store.finish_if_complete(job_id)
        if status:
            log.info("job %s %s", job_id, status)
            self.publish(JobEvent(event="job", job_id=job_id, status=status, progress=self.progress(job_id)))
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
