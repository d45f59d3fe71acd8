"""Stopping `ocrgate serve` (SIGINT / SIGTERM to the launcher) with work in flight: real processes on
loopback, real OCR, real signals.

- a request in flight within `shutdown_grace_s` is answered in full, and the workers are stopped only
  after the gateway has exited;
- a request still running when the grace period ends gets a JSON 503 `shutting_down`, never uvicorn's
  plain-text 500;
- a job's open event stream ends with a `stopping` event and a clean end of the chunked body.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from ocrgate.client import OCRGateClient
from ocrgate.errors import ShuttingDown
from tests.gateway.cluster import REPO, Cluster

BUGS = REPO.parent / "shared" / "bugs"
SIX_PAGES = BUGS / "pdf_six_pages.pdf"
RECEIPT = BUGS / "receipt_long.png"
WAIT_S = 180  # generous: the shared machine has 2 cores


@pytest.fixture(autouse=True)
def _shared_files() -> None:
    if not SIX_PAGES.exists() or not RECEIPT.exists():
        pytest.skip(f"{BUGS} not found (shared/bugs sits beside the checkout)")


def _post_in_thread(url: str, path: Path, backend: str) -> tuple[threading.Thread, dict[str, Any]]:
    """POST /v1/ocr of `path` (every page OCRed) in a thread; the answer lands in the dict."""
    answer: dict[str, Any] = {}

    def post() -> None:
        with path.open("rb") as handle:
            data = {"backend": backend, "text_layer": "never"}
            files = {"file": (path.name, handle)}
            try:
                answer["response"] = httpx.post(f"{url}/v1/ocr", data=data, files=files, timeout=WAIT_S)
            except httpx.HTTPError as exc:
                answer["error"] = exc

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread, answer


def _wait_worker_busy(worker_url: str) -> None:
    """Until the worker says a page is running there."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if httpx.get(f"{worker_url}/health", timeout=5).json().get("inflight", 0) >= 1:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{worker_url} never had a page in flight")


def _follow_in_thread(url: str, job_id: str) -> tuple[threading.Thread, threading.Event, dict[str, Any]]:
    """The job's event stream read in a thread: its events (name, data) and how it ended."""
    opened = threading.Event()
    got: dict[str, Any] = {"events": []}

    def follow() -> None:
        try:
            with (
                httpx.Client(timeout=None) as client,
                connect_sse(client, "GET", f"{url}/v1/jobs/{job_id}/events") as source,
            ):
                opened.set()
                for sse in source.iter_sse():
                    got["events"].append((sse.event, sse.data, sse.retry))
            got["clean"] = True
        except httpx.HTTPError as exc:
            got["error"] = exc
        finally:
            opened.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    return thread, opened, got


def _client_in_thread(url: str, job_id: str) -> tuple[threading.Thread, dict[str, Any]]:
    """The Python client following the job's events in a thread: the events, or the error it raised."""
    got: dict[str, Any] = {"events": []}

    def follow() -> None:
        try:
            with OCRGateClient(url) as client:
                for event in client.job_events(job_id):
                    got["events"].append(event)
        except Exception as exc:
            got["error"] = exc

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    return thread, got


def _stop(cluster: Cluster, signum: int) -> str:
    """Signal the launcher, wait for it to exit; its log."""
    assert cluster.process is not None
    cluster.process.send_signal(signum)
    assert cluster.process.wait(timeout=WAIT_S) == 0
    cluster.log.close()
    return Path(cluster.log.name).read_text(encoding="utf-8", errors="replace")


def test_stop_lets_requests_in_flight_finish_then_stops_the_workers(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path, {"rapidocr": {}, "tesseract": {}}, gateway={"shutdown_grace_s": WAIT_S}
    ).start()
    try:
        worker_pids = cluster.worker_pids()
        # a job on tesseract (7 pages) with its event stream open, a request on rapidocr in flight
        with SIX_PAGES.open("rb") as pdf, RECEIPT.open("rb") as receipt:
            files = [("file", (SIX_PAGES.name, pdf)), ("file", (RECEIPT.name, receipt))]
            job = httpx.post(f"{cluster.url}/v1/jobs", data={"backend": "tesseract"}, files=files, timeout=60)
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        stream, opened, got = _follow_in_thread(cluster.url, job_id)
        client, client_got = _client_in_thread(cluster.url, job_id)
        request, answer = _post_in_thread(cluster.url, SIX_PAGES, "rapidocr")
        assert opened.wait(WAIT_S)
        deadline = time.monotonic() + WAIT_S  # the client's stream is open once it has had an event
        while not client_got["events"] and "error" not in client_got and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client_got["events"], client_got
        _wait_worker_busy(f"http://127.0.0.1:{cluster.port + 1}")  # rapidocr's worker

        log = _stop(cluster, signal.SIGINT)
        request.join(WAIT_S)
        stream.join(WAIT_S)
        client.join(WAIT_S)
    finally:
        cluster.stop()

    # the request in flight was answered in full, by a worker still running while the gateway drained
    response = answer["response"]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["backend"] == "rapidocr" and len(body["pages"]) == 6
    assert all(page["markdown"].strip() for page in body["pages"])
    # the gateway exited before any worker was told to stop
    gateway_exited = log.index("gateway exited")
    assert gateway_exited < log.index("stopping worker rapidocr#0")
    assert "worker tesseract#0" in log[log.index("stopping worker") :].splitlines()[0]
    assert "Traceback" not in log and "ASGI callable returned without completing response" not in log
    assert not [pid for pid in worker_pids if Path(f"/proc/{pid}").exists()]
    # the stream ended cleanly, its last event `stopping`, before the job ended
    assert got.get("clean") and "error" not in got, got
    names = [name for name, _data, _retry in got["events"]]
    assert names[-1] == "stopping" and "job" not in names, names
    _name, data, retry = got["events"][-1]
    assert json.loads(data)["job_id"] == job_id and retry == 5000
    # the Python client says so with a typed error, rather than ending as if the job had ended
    assert isinstance(client_got.get("error"), ShuttingDown), client_got


def test_a_request_still_running_when_the_grace_period_ends_gets_a_json_503(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, {"rapidocr": {}}, gateway={"shutdown_grace_s": 0}).start()
    try:
        request, answer = _post_in_thread(cluster.url, SIX_PAGES, "rapidocr")
        _wait_worker_busy(f"http://127.0.0.1:{cluster.port + 1}")
        log = _stop(cluster, signal.SIGTERM)
        request.join(WAIT_S)
    finally:
        cluster.stop()

    response = answer["response"]
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "shutting_down"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in log and "Internal Server Error" not in log
    assert log.index("gateway exited") < log.index("stopping worker rapidocr#0")
