"""Things going wrong on a real cluster: overload, a worker killed mid-job, the gateway killed mid-job."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ocrgate.client import OCRGateClient
from tests.gateway.cluster import Cluster
from tests.gateway.test_gateway import pdf_of


@pytest.fixture
def page_pdf(phototest: Path) -> bytes:
    return pdf_of(Image.open(phototest).convert("RGB"), 4)


@pytest.fixture
def single(tmp_path: Path, eval_dir: Path) -> Iterator[Cluster]:
    """One rapidocr worker that takes one page at a time and queues none."""
    cluster = Cluster(tmp_path, {"rapidocr": {"concurrency": 1, "queue_size": 0}}).start()
    yield cluster
    assert cluster.stop() == []


def _wait_for(predicate, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError("condition not reached")


def test_overload_is_refused_with_429_and_retry_after(single: Cluster, phototest: Path) -> None:
    data = phototest.read_bytes()

    def post(_: int) -> httpx.Response:
        return httpx.post(f"{single.url}/v1/ocr", files={"file": ("p.png", data)}, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(post, range(6)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) >= 1 and codes.count(429) >= 1, codes
    assert set(codes) <= {200, 429}
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "busy"


def test_worker_killed_mid_job_is_restarted_and_the_job_finishes(single: Cluster, page_pdf: bytes) -> None:
    with OCRGateClient(single.url) as client:
        job = client.submit_job(page_pdf, "rapidocr", filename="four.pdf")
        old_pid = single.worker_pids()[0]
        _wait_for(lambda: client.job(job.id).status == "running")
        os.kill(old_pid, signal.SIGKILL)
        events = list(client.job_events(job.id))
        assert events[-1].status == "completed", events[-1]
        result = client.job_result(job.id)
    assert [p.index for p in result.pages] == [0, 1, 2, 3]
    assert all("12 point text" in p.markdown for p in result.pages)
    new_pid = _wait_for(lambda: single.worker_pids())[0]
    assert new_pid != old_pid


def test_gateway_killed_mid_job_resumes_it_on_restart(single: Cluster, page_pdf: bytes) -> None:
    with OCRGateClient(single.url) as client:
        job = client.submit_job(page_pdf, "rapidocr", filename="four.pdf")
        gateway_pid = client.health()["pid"]
        os.kill(gateway_pid, signal.SIGKILL)  # the launcher restarts it; the job must pick up again

        def restarted() -> bool:
            try:
                return client.health()["pid"] != gateway_pid
            except httpx.HTTPError:
                return False

        _wait_for(restarted)
        single.wait_healthy()
        final = _wait_for(
            lambda: client.job(job.id) if client.job(job.id).status == "completed" else None, 120
        )
        assert final.progress["rapidocr"].done == 4
        assert len(client.job_result(job.id).pages) == 4


def test_a_comparison_answers_with_the_engines_that_are_up(tmp_path: Path, phototest: Path) -> None:
    """`backend=all` with one engine down: the others' readings, the one down with its error (not a
    503 for the whole comparison); only that engine asked alone is a 503."""
    from tests.gateway.cluster import free_ports
    from tests.reliability.conftest import noop_backend

    down = {**noop_backend(), "urls": [f"http://127.0.0.1:{free_ports(1)}"]}  # nobody listens there
    cluster = Cluster(tmp_path, {"noop": noop_backend(), "noop-down": down})
    cluster.expected = ["noop"]  # the other one never comes up
    cluster.start()
    try:
        with phototest.open("rb") as handle:
            answer = httpx.post(
                f"{cluster.url}/v1/ocr", files={"file": handle}, data={"backend": "all"}, timeout=60
            )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["backends"] == ["noop", "noop-down"]
        assert body["results"]["noop"]["success"] is True and body["results"]["noop"]["error"] is None
        failed = body["results"]["noop-down"]
        assert failed["success"] is False and failed["error"]["code"] == "backend_unavailable", failed
        assert failed["status"] == "partial" and failed["pages"][0]["flags"][0].startswith("failed: ")
        assert body["agreement"] == []  # one engine answered: nothing to compare it with
        with phototest.open("rb") as handle:
            alone = httpx.post(
                f"{cluster.url}/v1/ocr", files={"file": handle}, data={"backend": "noop-down"}, timeout=60
            )
        assert alone.status_code == 503 and alone.json()["error"]["code"] == "backend_unavailable"
    finally:
        assert cluster.stop() == []
