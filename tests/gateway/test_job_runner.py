"""The job runner's own paths out of a round, on a real SQLite store, run in this process: a bug in the
round (injected into the flow: nothing real raises there on purpose) costs the pages it hit one
attempt each, so the job still ends; a document that can no longer be opened fails its pages; a
backend no longer configured fails its pages at once. Every job ends with its `job` event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ocrgate import flow
from ocrgate.config import Settings
from ocrgate.documents import open_document
from ocrgate.errors import OCRGateError
from ocrgate.gateway.routing import Router
from ocrgate.jobs import NewJob, SQLiteJobStore, runner
from ocrgate.jobs.runner import JobRunner
from ocrgate.schema import JobEvent
from tests.reliability.broken_pdfs import pdf_with_missing_pages

NOOP = "bench.noop_backend:NoopBackend"


@pytest.fixture
async def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[JobRunner]:
    monkeypatch.setattr(runner, "RESUME_AFTER_S", 0.05)
    settings = Settings(
        gateway={"data_dir": tmp_path, "page_retries": 1},
        backends={"noop": {"class_path": NOOP, "urls": ["http://127.0.0.1:9"]}},  # never reached here
    )
    store = SQLiteJobStore(tmp_path)
    router = Router(settings)
    running = JobRunner(store, router, settings)
    yield running
    await running.close()
    await router.close()
    store.close()


def submit(jobs: JobRunner, pages: int = 2, backend: str = "noop") -> str:
    job = jobs.store.create_job(
        NewJob(data=pdf_with_missing_pages(pages, ()), name="two.pdf", media_type="application/pdf",
               backends=[backend], boxes="none", page_count=pages, ttl_s=600)
    )  # fmt: skip
    jobs.schedule(job.id)
    return job.id


async def stream(jobs: JobRunner, job_id: str) -> list[JobEvent]:
    async def read() -> list[JobEvent]:
        return [event async for event in jobs.events(job_id)]

    return await asyncio.wait_for(read(), timeout=30)


async def test_a_bug_in_a_round_costs_attempts_and_the_job_still_ends(
    jobs: JobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds = 0

    async def broken(document: Any, recognizers: Any, options: Any, boxes: Any, sink: Any, **_: Any) -> None:
        nonlocal rounds
        rounds += 1
        sink.claim("noop", 0)  # page 0 is in flight when the bug strikes (from round 3 on it is failed)
        raise RuntimeError("a bug in the round")

    monkeypatch.setattr(flow, "run", broken)
    job_id = submit(jobs)
    events = await stream(jobs, job_id)
    assert events[-1].event == "job" and events[-1].status == "failed", events
    failed = {e.index: e.error for e in events if e.event == "page"}
    assert set(failed) == {0, 1} and all("internal error (RuntimeError)" in str(e) for e in failed.values())
    progress = jobs.store.progress(job_id)["noop"]
    assert (progress.failed, progress.running, progress.queued) == (2, 0, 0)
    assert rounds == 4  # page 0 twice (its two attempts), then page 1 twice: bounded, not a loop
    await asyncio.sleep(0.3)
    assert rounds == 4 and not jobs.running(job_id) and not jobs.inflight


async def test_a_document_that_no_longer_opens_fails_its_pages(jobs: JobRunner) -> None:
    job_id = submit(jobs)
    stored = jobs.store.jobs_dir / job_id / "input"  # type: ignore[attr-defined]
    stored.write_bytes(stored.read_bytes()[:300])  # the disk lost the end of it
    events = await stream(jobs, job_id)
    assert [(e.event, e.index, e.status) for e in events] == [
        ("page", 0, "failed"), ("page", 1, "failed"), ("job", None, "failed"),
    ]  # fmt: skip
    with pytest.raises(OCRGateError) as raised:  # whatever the intake makes of it
        open_document(stored.read_bytes(), "two.pdf")
    assert events[0].error == events[1].error == raised.value.message


async def test_a_backend_no_longer_configured_fails_its_pages_at_once(jobs: JobRunner) -> None:
    job_id = submit(jobs, backend="gone")
    events = await stream(jobs, job_id)
    assert events[-1].status == "failed" and len([e for e in events if e.event == "page"]) == 2
    [outcome, _] = jobs.store.page_results(job_id, "gone")
    assert outcome.attempts == 1 and "gone" in str(outcome.error)
