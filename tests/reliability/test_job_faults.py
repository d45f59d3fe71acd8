"""Jobs through faults, on a noop cluster of two replicas: the gateway killed -9 twice mid-job (the
launcher restarts it; jobs resume), a worker stopped with SIGSTOP (its pages time out and move to the
other replica) and then killed -9 (restarted). Every job completes with every page done, the SQLite
file passes `PRAGMA integrity_check`, zero jobs lost. tests/gateway/test_faults.py has the same
faults one at a time on real OCR."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image

from tests.reliability.conftest import gateway_pid, noop_cluster
from tests.reliability.reports import write_report

T = TypeVar("T")
JOBS, PAGES = 3, 12


def _tiff(pages: int) -> bytes:
    frames = [Image.new("L", (60, 40), 255) for _ in range(pages)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def _until(predicate: Callable[[], T | None], timeout_s: float = 90) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if value := predicate():
                return value
        time.sleep(0.2)
    raise TimeoutError("condition not reached")


@pytest.mark.slow
def test_jobs_survive_gateway_kills_and_a_stopped_worker(tmp_path: Path) -> None:
    cluster = noop_cluster(tmp_path, limits={"page_timeout_s": 3}, delay_s=0.15, replicas=2)
    try:
        url = cluster.url

        def job(job_id: str) -> dict[str, Any]:
            return httpx.get(f"{url}/v1/jobs/{job_id}", timeout=5).json()

        def done(job_id: str) -> int:
            return int(job(job_id)["progress"]["noop"]["done"])

        data = _tiff(PAGES)
        ids = [
            httpx.post(f"{url}/v1/jobs", files={"file": ("j.tif", data)}, data={"backend": "noop"}).json()[
                "id"
            ]
            for _ in range(JOBS)
        ]
        faults = []
        for _ in range(2):  # the gateway dies mid-job, twice
            _until(lambda: done(ids[0]) >= 1 and done(ids[0]) < PAGES)
            old = gateway_pid(cluster)
            os.kill(old, signal.SIGKILL)
            _until(lambda old=old: gateway_pid(cluster) != old)
            cluster.wait_healthy()
            faults.append("gateway SIGKILL")
        stopped = cluster.worker_pids()[0]
        os.kill(stopped, signal.SIGSTOP)  # hangs: its pages time out and move to the other replica
        faults.append("worker SIGSTOP")
        try:
            _until(lambda: sum(done(i) for i in ids) >= JOBS * PAGES // 2)
        finally:
            os.kill(stopped, signal.SIGCONT)
        os.kill(stopped, signal.SIGKILL)  # and then dies: the launcher starts another
        faults.append("worker SIGKILL")
        finals = [
            _until(lambda i=i: job(i) if job(i)["status"] not in ("queued", "running") else None) for i in ids
        ]
        assert [j["status"] for j in finals] == ["completed"] * JOBS, finals
        assert all(j["progress"]["noop"]["done"] == PAGES for j in finals), finals
        results = [httpx.get(f"{url}/v1/jobs/{i}/result", timeout=10).json() for i in ids]
        assert all([p["index"] for p in r["pages"]] == list(range(PAGES)) for r in results)
    finally:
        assert cluster.stop() == []
    db = tmp_path / "data" / "jobs.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        pages = conn.execute("SELECT status, COUNT(*) FROM pages GROUP BY status").fetchall()
    assert integrity == "ok" and pages == [("done", JOBS * PAGES)], (integrity, pages)
    write_report(
        "job_faults",
        {
            "faults": faults,
            "jobs": JOBS,
            "pages_per_job": PAGES,
            "jobs_completed": JOBS,
            "jobs_lost": 0,
            "integrity_check": integrity,
        },
    )
