"""No job page stays `running` for ever: a deadline on every page sent to a worker, and a watchdog that
fails pages left running with nobody working on them and adopts jobs nobody runs.

A page is `running` from the moment a gateway claims it until its result or failure is stored. Two
things can leave it there:

- the work hangs in this gateway: `Deadline` ends every page call after `page_stuck_s` (a `Timeout`,
  which counts as a failed attempt, so the page is retried, then failed);
- the gateway that claimed it is gone, or lost track of it: `Watchdog.check` puts back at once the
  running pages of gateways that are gone (`requeue_running_pages`: with SQLite, of any job no task of
  this gateway runs; with PostgreSQL, those whose claimer's lease is gone; no attempt counted, as after
  a restart) and runs their jobs here, as well as every unfinished job no gateway has touched for
  `page_stuck_s`; a page still running after that for longer than `page_stuck_s` that no job task of
  this gateway holds is failed with one attempt counted (retried, and `failed` once out of attempts).

Whole-file engines (MinerU) are bounded by the silence limit of their progress stream instead
(`limits.page_timeout_s` between two lines), as a long document legitimately takes longer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ocrgate.config import Settings
from ocrgate.documents import Document, PageImage
from ocrgate.errors import Timeout
from ocrgate.recognizer import Progress, Recognizer
from ocrgate.schema import PageResult

if TYPE_CHECKING:
    from ocrgate.jobs.runner import JobRunner

log = logging.getLogger("ocrgate.jobs")
#: how long a job page waits for a worker of its backend to come (back) up before it counts as failed
WORKER_WAIT_S = 60.0
STUCK_MARGIN_S = 60.0


def page_stuck_s(settings: Settings) -> float:
    """Seconds after which a running job page counts as stuck: `[gateway] page_stuck_s`, or the longest
    a page can legitimately take: every attempt (`page_retries` + 1) waiting up to `WORKER_WAIT_S` for a
    worker and `limits.page_timeout_s` at it, plus `STUCK_MARGIN_S` for rasterising and rendering."""
    if settings.gateway.page_stuck_s:
        return settings.gateway.page_stuck_s
    attempts = settings.gateway.page_retries + 1
    return attempts * (settings.limits.page_timeout_s + WORKER_WAIT_S) + STUCK_MARGIN_S


def check_interval_s(stuck_s: float) -> float:
    """How often the watchdog looks: a quarter of `stuck_s`, between 0.5 and 30 seconds."""
    return max(0.5, min(30.0, stuck_s / 4))


class Deadline:
    """A recognizer whose page calls end after `seconds` with `Timeout` (`ocrgate.recognizer.Recognizer`)."""

    def __init__(self, inner: Recognizer, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds
        self.name, self.window = inner.name, inner.window

    def reads_whole(self, media_type: str) -> bool:
        return self.inner.reads_whole(media_type)

    async def page(self, page: PageImage, options: Mapping[str, Any], *, boxes: bool = False) -> PageResult:
        with anyio.move_on_after(self.seconds):
            return await self.inner.page(page, options, boxes=boxes)
        raise Timeout(f"page {page.index + 1} got no answer within {self.seconds:g} s (page_stuck_s)")

    async def file(
        self, document: Document, options: Mapping[str, Any], progress: Progress | None = None
    ) -> list[PageResult]:
        return await self.inner.file(document, options, progress)


class Watchdog:
    """Checks the store every `check_interval_s` for pages and jobs nobody works on (see the module)."""

    def __init__(self, runner: JobRunner, stuck_s: float) -> None:
        self.runner, self.stuck_s = runner, stuck_s
        self.interval_s = check_interval_s(stuck_s)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except Exception:  # the watchdog must outlive a store outage or a bug in one round
                log.exception("job watchdog round failed")

    async def check(self) -> None:
        """One round: cancel what others cancelled, adopt jobs nobody runs, fail orphaned pages."""
        runner, store = self.runner, self.runner.store
        now = time.time()
        for job_id in store.unfinished_jobs():
            if runner.running(job_id):
                job = store.load_job(job_id)
                if job is None or job.status == "cancelled":  # by another gateway, or expired
                    await runner.stop(job_id)
                continue
            requeued = store.requeue_running_pages(job_id)  # those of gone gateways, no attempt counted
            job = store.load_job(job_id)
            if job is not None and (requeued or now - job.updated_at > self.stuck_s):
                log.info("job %s: nobody runs it (%d pages requeued); running it here", job_id, requeued)
                runner.schedule(job_id)
        for key in store.stale_pages(now - self.stuck_s):
            if key in runner.inflight:  # this gateway works on it; its deadline ends it
                continue
            reason = f"left running for more than {self.stuck_s:g} s with no gateway working on it"
            log.warning("job %s page %d (%s): %s", key.job_id, key.index, key.backend, reason)
            runner.fail_page(key, reason, runner.max_attempts)
            runner.schedule(key.job_id)
