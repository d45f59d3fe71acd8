"""A job's server-sent event stream (`GET /v1/jobs/{id}/events`): the pages already finished, replayed
from the store, then live events from this gateway's runner, then the job's end, always.

Live events come only from the gateway that runs the job. When the stream hears nothing for
`EVENT_POLL_S` it reads the store: pages finished meanwhile (by another gateway sharing a PostgreSQL
store) are sent, and a job that ended without this gateway hearing of it ends the stream with its
`job` event (`expired` once the job is gone). Each page is sent once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ocrgate.jobs.records import JobRecord
from ocrgate.schema import JobEvent

if TYPE_CHECKING:
    from ocrgate.jobs.runner import JobRunner

#: a stream that heard nothing for this long reads the store (seconds)
EVENT_POLL_S = 3.0
FINAL = ("completed", "failed", "cancelled")


async def stream(runner: JobRunner, job_id: str) -> AsyncIterator[JobEvent]:
    """The job's events, ending with one `job` event."""
    queue: asyncio.Queue[JobEvent] = asyncio.Queue()
    runner.listeners[job_id].add(queue)  # before reading the store: nothing falls between the two
    sent: set[tuple[str, int]] = set()
    try:
        job, read = runner.store.load_job(job_id), True
        while True:
            if read and job is not None:  # what the store has that this stream has not sent yet
                for settled in settled_pages(runner, job, sent):
                    yield settled
            read = False
            if job is None or job.status in FINAL:
                status = job.status if job else "expired"
                progress = runner.progress(job_id) if job else {}
                yield JobEvent(event="job", job_id=job_id, status=status, progress=progress)
                return
            try:
                event = await asyncio.wait_for(queue.get(), EVENT_POLL_S)
            except TimeoutError:  # nothing heard here: read the store again
                job, read = runner.store.load_job(job_id), True
                continue
            if event.event == "page" and event.backend is not None and event.index is not None:
                if (event.backend, event.index) in sent:
                    continue
                sent.add((event.backend, event.index))
            if event.event == "job":  # pages another gateway settled unheard here come first
                job = runner.store.load_job(job_id)
                for settled in settled_pages(runner, job, sent) if job is not None else ():
                    yield settled
                yield event
                return
            yield event
    finally:
        runner.listeners[job_id].discard(queue)
        if not runner.listeners[job_id]:
            runner.listeners.pop(job_id, None)


def settled_pages(runner: JobRunner, job: JobRecord, sent: set[tuple[str, int]]) -> list[JobEvent]:
    """`page` events for the job's pages done or failed that `sent` lacks (added to it); the pages are
    read only when the store's counts say there are some."""
    progress = runner.store.progress(job.id)
    if sum(p.done + p.failed for p in progress.values()) <= len(sent):
        return []
    events = []
    for backend in job.backends:
        for outcome in runner.store.page_results(job.id, backend):
            if outcome.status in ("done", "failed") and (backend, outcome.index) not in sent:
                sent.add((backend, outcome.index))
                events.append(
                    runner.page_event(
                        job.id,
                        backend,
                        outcome.index,
                        outcome.result_json,
                        outcome.error,
                        job.page_name(outcome.index),
                    )
                )
    return events
