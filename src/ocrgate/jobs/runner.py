"""Runs jobs: pages from the store to the workers and back, events to listeners, resume on start.

Each round takes the job's queued pages through the one flow (`ocrgate.flow.run`): each page is
rasterised once and sent to every backend of the job, a whole-file backend gets the original upload,
a window of pages is in flight per job, and `JobSink` stores each outcome as it comes. A page whose
worker fails is tried again (bounded by `page_retries`) and then marked failed with the reason; a page
the document itself cannot give (an unreadable PDF page) fails at once. The store keeps every step, so
a restarted gateway picks up where the last one stopped.

Every job ends: whatever goes wrong ends pages, never the job. A document that cannot be opened fails
its pages; a storage error stops the round and resumes it a little later; an unexpected error counts
one failed attempt for the pages it hit, so a bug cannot loop for ever; the watchdog
(`ocrgate.jobs.watchdog`) ends pages that hang and adopts jobs nobody runs; cancelling a job abandons
its pages in flight (their worker requests are cancelled) and a result that arrives afterwards is
dropped. Each job's event stream ends with its `job` event.
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
from ocrgate.errors import InputError, InternalError, OCRGateError, StorageError
from ocrgate.gateway.routing import Router
from ocrgate.jobs import ACTIVE, JobRecord, JobStore, PageKey, PageTask, events
from ocrgate.jobs.watchdog import WORKER_WAIT_S, Deadline, Watchdog, page_stuck_s
from ocrgate.recognizer import Recognizer
from ocrgate.render import RenderedPage, respond
from ocrgate.schema import CompareResponse, JobEvent, JobProgress, JobStatus, OCRResponse, Timings

log = logging.getLogger("ocrgate.jobs")
EXPIRY_INTERVAL_S = 60.0
RESUME_AFTER_S = 5.0


def job_status(store: JobStore, job: JobRecord, progress: dict[str, JobProgress] | None = None) -> JobStatus:
    """The job as `GET /v1/jobs/{id}` shows it; `progress` as the runner knows it, else the store's."""
    fields = job.model_dump(include=set(JobStatus.model_fields) - {"progress"})
    return JobStatus(**fields, progress=progress if progress is not None else store.progress(job.id))


def job_pages(store: JobStore, job: JobRecord) -> dict[str, list[RenderedPage]]:
    """Each backend's pages stored so far, by page (a failed one: `RenderedPage.failed`, with its reason);
    in a job made of several files each page carries its name in the set (`Page.page_name`)."""
    pages: dict[str, list[RenderedPage]] = {}
    for backend in job.backends:
        pages[backend] = []
        for outcome in store.page_results(job.id, backend):
            if outcome.result_json:
                rendered = RenderedPage.model_validate_json(outcome.result_json)
            elif outcome.status == "failed":
                rendered = RenderedPage.failed(outcome.index, outcome.error or "failed")
            else:
                continue
            rendered.page.page_name = job.page_name(outcome.index)
            pages[backend].append(rendered)
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
    backend's `timings` are the sums of its pages' (`summed_timings`). A backend's `status` is
    `complete` only when it read every page of the document: a failed page, or a page it has not read
    (the job was cancelled, or runs still), makes it `partial`."""
    pages = job_pages(store, job)
    timings = {backend: summed_timings(rendered) for backend, rendered in pages.items()}
    completed = job.status == "completed"
    return respond(job.backends, pages, job.name, job.id, timings, completed, page_count=job.page_count)


class JobSink:
    """Where the flow delivers a job's pages: the store (claimed, saved or failed) and the listeners.

    A claimed page is in the runner's `inflight` until its outcome is stored; a result or failure that
    comes too late (the job was cancelled, the watchdog failed the page) is dropped by the store.
    """

    def __init__(self, runner: JobRunner, job: JobRecord) -> None:
        self.runner, self.job, self.store = runner, job, runner.store

    def claim(self, backend: str, index: int) -> bool:
        if not self.store.mark_running(self.job.id, backend, index):
            return False
        self.runner.inflight.add(PageKey(self.job.id, backend, index))
        return True

    def done(self, backend: str, page: RenderedPage) -> None:
        key = PageKey(self.job.id, backend, page.page.index)
        result_json = page.model_dump_json()
        saved = self.store.save_page(self.job.id, backend, page.page.index, result_json)
        self.runner.inflight.discard(key)
        if saved:
            name = self.job.page_name(key.index)
            self.runner.publish(
                self.runner.page_event(key.job_id, backend, key.index, result_json, None, name)
            )
        else:
            log.info("job %s page %d (%s): result dropped, the page was settled", *key)

    def failed(self, backend: str, index: int, error: OCRGateError) -> None:
        # the document itself cannot give this page (or the worker refuses its input): no retry helps
        attempts = 1 if isinstance(error, InputError) else self.runner.max_attempts
        self.runner.fail_page(PageKey(self.job.id, backend, index), error.message, attempts)

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


def _storage_error(exc: BaseException) -> StorageError | None:
    """The StorageError in `exc`, also inside the exception groups a task group raises."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if found := _storage_error(inner):
                return found
    return None


class JobRunner:
    def __init__(self, store: JobStore, router: Router, settings: Settings) -> None:
        self.store = store
        self.router = router
        self.settings = settings
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.listeners: dict[str, set[asyncio.Queue[JobEvent]]] = defaultdict(set)
        #: pages done so far by whole-file backends, as their engines report it (job -> backend -> n)
        self.reported: dict[str, dict[str, int]] = {}
        #: pages this gateway claimed and has not settled yet
        self.inflight: set[PageKey] = set()
        #: pages a stopped round left running, to put back in the queue before the job runs again
        self.abandoned: dict[str, set[PageKey]] = defaultdict(set)
        self.stuck_s = page_stuck_s(settings)
        self.max_attempts = settings.gateway.page_retries + 1
        self.watchdog = Watchdog(self, self.stuck_s)
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Resume every job a previous gateway left queued or running; start the sweeper and watchdog."""
        for job_id in self.store.unfinished_jobs():
            requeued = self.store.requeue_running_pages(job_id)
            log.info("resuming job %s (%d pages were in flight)", job_id, requeued)
            self.schedule(job_id)
        self._background = [asyncio.create_task(self._sweep()), asyncio.create_task(self.watchdog.run())]

    def running(self, job_id: str) -> bool:
        task = self.tasks.get(job_id)
        return task is not None and not task.done()

    def schedule(self, job_id: str) -> None:
        if not self.running(job_id):
            self.tasks[job_id] = asyncio.create_task(self._run(job_id), name=f"job-{job_id}")

    async def stop(self, job_id: str) -> None:
        """Stop this gateway's work on the job: its task is cancelled, so are its worker requests."""
        task = self.tasks.pop(job_id, None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.inflight -= {k for k in self.inflight if k.job_id == job_id}
        self.abandoned.pop(job_id, None)

    async def cancel(self, job_id: str) -> bool:
        """Cancel the job: its queued and running pages become `cancelled` in the store first (so a
        result arriving meanwhile is dropped), then the work in flight here is abandoned."""
        changed = self.store.cancel(job_id)
        await self.stop(job_id)
        if changed:
            self.publish(
                JobEvent(event="job", job_id=job_id, status="cancelled", progress=self.progress(job_id))
            )
        return changed

    async def close(self) -> None:
        """Stop every job task (their running pages are requeued by the next gateway) and the loops."""
        tasks = [*self.tasks.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def fail_page(self, key: PageKey, reason: str, attempts: int) -> str:
        """Count a failed attempt of the page; its `page` event once it has failed for good."""
        status = self.store.fail_attempt(key.job_id, key.backend, key.index, reason, attempts)
        self.inflight.discard(key)
        if status == "failed":
            self.publish(self.page_event(key.job_id, key.backend, key.index, None, reason))
        return status

    def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        """The job's event stream (`ocrgate.jobs.events.stream`): replayed pages, live ones, its end."""
        return events.stream(self, job_id)

    def progress(self, job_id: str) -> dict[str, JobProgress]:
        """The store's counts, plus what whole-file engines report while they work."""
        progress = self.store.progress(job_id)
        for backend, done in self.reported.get(job_id, {}).items():
            if backend in progress:
                progress[backend].reported = done
        return progress

    def page_event(
        self,
        job_id: str,
        backend: str,
        index: int,
        result_json: str | None,
        error: str | None,
        page_name: str | None = None,
    ) -> JobEvent:
        """A page's `page` event: the page read (without its boxes picture; `page_name`: its name in a
        set of several files, `JobRecord.page_name`), or the error of a failed one."""
        page, timings = None, None
        if result_json:
            rendered = RenderedPage.model_validate_json(result_json)
            page = rendered.page.model_copy(update={"boxes_image": None, "page_name": page_name})
            timings = rendered.timings
        return JobEvent(
            event="page",
            job_id=job_id,
            status="done" if page else "failed",
            backend=backend,
            index=index,
            page=page,
            timings=timings,
            error=error,
            progress=self.progress(job_id),
        )

    def publish(self, event: JobEvent) -> None:
        for queue in self.listeners.get(event.job_id, ()):
            queue.put_nowait(event)

    async def _run(self, job_id: str) -> None:
        """Run the job; whatever stops a round ends in pages settled or the job resumed later."""
        try:
            await self._run_job(job_id)
        except asyncio.CancelledError:  # cancelled, or the gateway stops: the store has the pages
            raise
        except Exception as exc:
            if storage := _storage_error(exc):  # e.g. the disk filled up: again later, without a restart
                log.error("job %s stopped on a storage error (%s); resuming in %.0f s", job_id, storage,
                          RESUME_AFTER_S)  # fmt: skip
            else:  # a bug: the pages it hit count one failed attempt each, so it cannot loop for ever
                log.exception("job %s stopped on an unexpected error", job_id)
                try:
                    if not self._charge(
                        job_id, f"internal error ({type(exc).__name__}); see the gateway log"
                    ):
                        return  # no page of it is open here: nothing to resume
                    if self._finish(job_id):
                        return
                except StorageError:
                    pass
                except OCRGateError:  # e.g. the job is gone
                    return
            self.abandoned[job_id].update(k for k in self.inflight if k.job_id == job_id)
            asyncio.get_running_loop().call_later(RESUME_AFTER_S, self._resume, job_id)
        finally:
            self.inflight -= {k for k in self.inflight if k.job_id == job_id}
            if self.tasks.get(job_id) is asyncio.current_task():
                self.tasks.pop(job_id, None)

    def _charge(self, job_id: str, reason: str) -> int:
        """One failed attempt for the job's pages in flight, or its queued pages when none was; how many."""
        keys = [k for k in self.inflight if k.job_id == job_id]
        if not keys:
            keys = [PageKey(job_id, t.backend, t.index) for t in self.store.queued_pages(job_id)]
        for key in keys:
            self.fail_page(key, reason, self.max_attempts)
        return len(keys)

    def _resume(self, job_id: str) -> None:
        """Put back the pages a stopped round left running, then run the job again."""
        abandoned = self.abandoned.pop(job_id, set())
        try:
            if abandoned:
                self.store.release_pages(job_id, [(k.backend, k.index) for k in abandoned])
        except StorageError:
            self.abandoned[job_id].update(abandoned)
            asyncio.get_running_loop().call_later(RESUME_AFTER_S, self._resume, job_id)
            return
        self.schedule(job_id)

    async def _run_job(self, job_id: str) -> None:
        job = self.store.load_job(job_id)
        if job is None or job.status not in ACTIVE:
            return
        try:
            data = await anyio.to_thread.run_sync(self.store.input_bytes, job_id)
            document = await anyio.to_thread.run_sync(
                open_document, data, job.name, self.settings.limits, job.dpi
            )
        except StorageError:
            raise
        except Exception as exc:  # the document cannot be read: every page left fails with the reason
            if not isinstance(exc, OCRGateError):
                log.exception("job %s: its document cannot be opened", job_id)
                exc = InternalError(f"the document cannot be opened ({type(exc).__name__})")
            for task in self.store.queued_pages(job_id):
                self.fail_page(PageKey(job_id, task.backend, task.index), exc.message, 1)
            self._finish(job_id)
            return
        try:
            while tasks := self.store.queued_pages(job_id):
                await self._run_pages(job, document, tasks)
            self._finish(job_id)
        finally:
            document.close()
            self.reported.pop(job_id, None)

    async def _run_pages(self, job: JobRecord, document: Document, tasks: list[PageTask]) -> None:
        """One round of the job's queued pages through the flow (failed ones come back queued)."""
        sink = JobSink(self, job)
        pages: dict[str, list[int]] = defaultdict(list)
        for task in tasks:
            pages[task.backend].append(task.index)
        recognizers: list[Recognizer] = []
        for backend, indices in pages.items():
            try:
                pool = self.router.pool(backend)
            except OCRGateError as exc:  # e.g. no longer configured after a restart: no retry helps
                for index in indices:
                    self.fail_page(PageKey(job.id, backend, index), exc.message, 1)
                continue
            timeout, retries = self.settings.limits.page_timeout_s, self.settings.gateway.page_retries
            own = job.backend_options.get(backend)
            remote = pool.recognizer(  # the job's id names its pages in the workers' logs
                timeout, retries, wait_for_worker_s=WORKER_WAIT_S, options=own, request_id=job.id
            )
            recognizers.append(Deadline(remote, self.stuck_s))
        await flow.run(
            document,
            recognizers,
            job.options,
            job.boxes,  # type: ignore[arg-type]
            sink,
            # at least job_concurrency pages, and enough to fill every worker (a GPU engine decodes many)
            window=max([self.settings.gateway.job_concurrency, *(r.window for r in recognizers)]),
            pages=pages,
            text_layer=job.text_layer,
        )

    def _finish(self, job_id: str) -> str | None:
        """Settle the job if none of its pages is open; its final status (and `job` event), else None."""
        status = self.store.finish_if_complete(job_id)
        if status:
            log.info("job %s %s", job_id, status)
            self.publish(JobEvent(event="job", job_id=job_id, status=status, progress=self.progress(job_id)))
        return status

    async def _sweep(self) -> None:
        while True:
            try:
                removed = await anyio.to_thread.run_sync(self.store.delete_expired, time.time())
                if removed:
                    log.info("removed %d expired jobs", removed)
            except Exception:
                log.exception("expiry sweep failed")
            await asyncio.sleep(EXPIRY_INTERVAL_S)
