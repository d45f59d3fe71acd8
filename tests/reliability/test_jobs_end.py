"""Every job ends, through a real `ocrgate serve`: PDFs with unreadable pages in every position, with the
gateway killed (-9) mid-job and restarted by the launcher; a worker that hangs for ever; a job cancelled
while pages are in flight. Each job reaches a final state, with each page done or failed with its reason,
and its event stream ends with the `job` event."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from ocrgate.client import OCRGateClient
from ocrgate.schema import JobEvent
from tests.gateway.cluster import REPO, Cluster
from tests.gateway.postgres import postgres_server, postgres_url
from tests.reliability.broken_pdfs import pdf_with_missing_pages
from tests.reliability.conftest import NOOP, gateway_pid, noop_backend, noop_cluster
from tests.reliability.reports import write_report

__all__ = ["postgres_server", "postgres_url"]  # fixtures, for the PostgreSQL variants
T = TypeVar("T")
BUGS = REPO.parent / "shared" / "bugs"
FINAL = ("completed", "failed", "cancelled")

# the noop engine is what these jobs exercise: their PDFs have a text layer, which would answer instead
NOOP_FORM = {"backend": "noop", "text_layer": "never"}


def _until(predicate: Callable[[], T | None], timeout_s: float = 90, every_s: float = 0.2) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if value := predicate():
                return value
        time.sleep(every_s)
    raise TimeoutError("condition not reached")


def _events(url: str, job_id: str, timeout_s: float = 120) -> list[JobEvent]:
    """The job's whole event stream, read in a thread: a stream that never ends fails the test."""

    def read() -> list[JobEvent]:
        with OCRGateClient(url) as client:
            return list(client.job_events(job_id))

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(read).result(timeout=timeout_s)


def _job(url: str, job_id: str) -> dict[str, Any]:
    return httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()


def _cases() -> dict[str, tuple[bytes, int, set[int]]]:
    """name -> (PDF, pages, indices that cannot be read)."""
    cases = {
        "first": (pdf_with_missing_pages(5, {0}), 5, {0}),
        "middle": (pdf_with_missing_pages(5, {2}), 5, {2}),
        "last": (pdf_with_missing_pages(5, {4}), 5, {4}),
        "two": (pdf_with_missing_pages(6, {1, 4}), 6, {1, 4}),
        "count": (pdf_with_missing_pages(3, {1}, extra_count=2), 5, {1, 3, 4}),
    }
    if (BUGS / "pdf_bogus_count.pdf").is_file():
        cases["pdf_bogus_count.pdf"] = ((BUGS / "pdf_bogus_count.pdf").read_bytes(), 3, {1, 2})
    return cases


def test_jobs_with_unreadable_pages_end_through_a_gateway_kill(tmp_path: Path) -> None:
    cluster = noop_cluster(tmp_path, delay_s=0.25, gateway={"job_concurrency": 2})
    url = cluster.url
    try:
        jobs: dict[str, tuple[str, int, set[int]]] = {}
        refused: dict[str, str] = {}
        for name, (data, pages, bad) in _cases().items():
            answer = httpx.post(
                f"{url}/v1/jobs", files={"file": (f"{name}.pdf", data)}, data=NOOP_FORM, timeout=30
            )
            if answer.status_code == 422 and 0 in bad:  # the intake may refuse a PDF whose first page is gone
                assert answer.json()["error"]["code"] == "corrupt_file", answer.text
                refused[name] = answer.json()["error"]["message"]
                continue
            assert answer.status_code == 202, answer.text
            jobs[name] = (answer.json()["id"], pages, bad)
        ids = [job_id for job_id, _, _ in jobs.values()]

        def settled() -> int:
            return sum(p["done"] + p["failed"] for i in ids for p in _job(url, i)["progress"].values())

        before_kill = _until(lambda: settled() >= 3 and settled())
        total = sum(pages for _, pages, _ in jobs.values())
        assert before_kill < total, "the jobs ended before the gateway could be killed"
        old = gateway_pid(cluster)
        os.kill(old, signal.SIGKILL)  # mid-job: the launcher restarts it, the new gateway resumes the jobs
        _until(lambda: gateway_pid(cluster) != old)
        outcomes = {}
        for name, (job_id, pages, bad) in jobs.items():
            events = _events(url, job_id)
            assert events and events[-1].event == "job", (name, events[-3:])
            status = _job(url, job_id)
            assert events[-1].status == status["status"] == "failed", (name, status)
            progress = status["progress"]["noop"]
            assert progress == {
                "total": pages, "done": pages - len(bad), "failed": len(bad), "running": 0, "queued": 0,
                "reported": None,
            }, (name, progress)  # fmt: skip
            result = httpx.get(f"{url}/v1/jobs/{job_id}/result", timeout=10).json()
            assert [p["index"] for p in result["pages"]] == list(range(pages))
            failed = {p["index"] for p in result["pages"] if any(f.startswith("failed") for f in p["flags"])}
            assert failed == bad, (name, result["pages"])
            assert result["status"] == "partial", (name, result["status"])
            # the first failed page named from 1, as every message names pages
            assert f"{len(bad)} of {pages} pages failed; first: page {min(bad) + 1} " in status["error"]
            outcomes[name] = {"pages": pages, "failed": sorted(bad), "status": status["status"]}
    finally:
        assert cluster.stop() == []
    write_report(
        "jobs_end",
        {"gateway_kills": 1, "pages_settled_before_kill": before_kill, "pages": total, "jobs": outcomes,
         "refused_at_intake": refused},
    )  # fmt: skip


def test_a_hung_worker_cannot_keep_a_job_running(tmp_path: Path) -> None:
    """The only worker stops answering (SIGSTOP) and the page timeout is far away: the watchdog's
    deadline ends each attempt after `page_stuck_s`, so the job ends, its pages failed with the reason."""
    cluster = noop_cluster(
        tmp_path, limits={"page_timeout_s": 600}, gateway={"page_stuck_s": 2, "page_retries": 1}
    )
    url = cluster.url
    worker = cluster.worker_pids()[0]
    try:
        os.kill(worker, signal.SIGSTOP)
        data = pdf_with_missing_pages(2, ())
        answer = httpx.post(f"{url}/v1/jobs", files={"file": ("two.pdf", data)}, data=NOOP_FORM)
        job_id = answer.json()["id"]
        started = time.monotonic()
        events = _events(url, job_id, timeout_s=60)
        took = time.monotonic() - started
        assert events[-1].event == "job" and events[-1].status == "failed", events
        status = _job(url, job_id)
        assert status["progress"]["noop"]["failed"] == 2 and status["progress"]["noop"]["running"] == 0
        assert "no answer within 2 s" in status["error"], status["error"]
    finally:
        os.kill(worker, signal.SIGCONT)
        assert cluster.stop() == []
    write_report("hung_worker", {"page_stuck_s": 2, "page_retries": 1, "job_ended_after_s": round(took, 1)})


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_cancel_abandons_the_pages_in_flight(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """A 6-page job cancelled while 3 pages are at the worker: at once no page counts as running, the
    gateway holds none of them any more (its requests are cancelled), and the answers the worker still
    sends later are dropped: nothing becomes done, the job stays cancelled, its stream ends."""
    gateway: dict[str, Any] = {"job_concurrency": 3}
    if store == "postgres":
        gateway |= {"job_store": "postgres", "database_url": request.getfixturevalue("postgres_url")}
    delay_s = 3.0
    cluster = noop_cluster(tmp_path, gateway=gateway, delay_s=delay_s, concurrency=3)
    url = cluster.url
    try:
        data = (BUGS / "pdf_six_pages.pdf").read_bytes() if BUGS.is_dir() else pdf_with_missing_pages(6, ())
        job_id = httpx.post(
            f"{url}/v1/jobs", files={"file": ("six.pdf", data)}, data=NOOP_FORM, timeout=30
        ).json()["id"]
        _until(lambda: _job(url, job_id)["progress"]["noop"]["running"] == 3, every_s=0.05)
        cancelled = httpx.delete(f"{url}/v1/jobs/{job_id}", timeout=30).json()
        assert cancelled["status"] == "cancelled", cancelled
        idle = {"total": 6, "done": 0, "failed": 0, "running": 0, "queued": 0, "reported": None}
        assert cancelled["progress"]["noop"] == idle, cancelled
        [backend] = httpx.get(f"{url}/v1/backends", timeout=10).json()
        assert backend["queue_depth"] == 0 and [w["load"] for w in backend["workers"]] == [0], backend
        events = _events(url, job_id, timeout_s=30)
        assert [(e.event, e.status) for e in events] == [("job", "cancelled")], events
        time.sleep(delay_s + 1)  # the worker has answered the abandoned pages by now
        later = _job(url, job_id)
        assert later["status"] == "cancelled" and later["progress"]["noop"] == idle, later
        result = httpx.get(f"{url}/v1/jobs/{job_id}/result", timeout=10).json()
        assert result["pages"] == [] and result["status"] == "partial", result  # 6 pages, none read
    finally:
        assert cluster.stop() == []


def test_a_job_left_by_a_dead_gateway_is_adopted_by_a_live_one(tmp_path: Path, postgres_url: str) -> None:
    """Two gateways on one PostgreSQL database; the one running a job dies for good (its launcher is
    killed -9, so nothing restarts it). The other one's watchdog finds the pages it left running, runs
    the job to its end, and the event stream opened on the live gateway ends with the `job` event."""
    shared = {"job_store": "postgres", "database_url": postgres_url, "page_stuck_s": 4, "job_concurrency": 2}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Cluster(tmp_path / "a", {"noop": noop_backend(delay_s=1.0, concurrency=2)}, gateway=shared).start()
    worker = {"class_path": NOOP, "urls": [f"http://127.0.0.1:{a.port + 1}"]}
    b = Cluster(tmp_path / "b", {"noop": worker}, gateway=shared).start()
    try:
        data = pdf_with_missing_pages(6, ())
        job_id = httpx.post(
            f"{b.url}/v1/jobs", files={"file": ("six.pdf", data)}, data=NOOP_FORM, timeout=30
        ).json()["id"]
        _until(lambda: _job(a.url, job_id)["progress"]["noop"]["running"] >= 1, every_s=0.05)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            stream = pool.submit(_events, a.url, job_id)  # on the gateway that does not run the job
            assert b.process is not None
            b.process.kill()  # the launcher: its gateway dies with it (PR_SET_PDEATHSIG), nobody restarts it
            b.process.wait()
            events = stream.result(timeout=120)
        status = _job(a.url, job_id)
        assert status["status"] == "completed" and status["progress"]["noop"]["done"] == 6, status
        assert events[-1].event == "job" and events[-1].status == "completed", events[-3:]
        assert sorted(e.index for e in events if e.event == "page") == list(range(6))
        assert "running it here" in (tmp_path / "a" / "serve.log").read_text()
    finally:
        b.stop()
        assert a.stop() == []
