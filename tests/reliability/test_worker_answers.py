"""A worker whose answers are not page results (garbage, truncated JSON, wrong types), through a real
gateway: an interactive request must get 502 `backend_error`, and a job's page must fail with that
reason so the job ends, instead of an internal error and a job left running."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import CORPUS_DIR, NOOP
from tests.reliability.fake_worker import FakeWorker

PAGE = CORPUS_DIR / "png_named.pdf"  # a small valid PNG
MALFORMED = [
    b"not json",
    b"",
    b"[]",
    b'{"index": 0}',
    b'{"index": 0, "width": 1, "height": 1, "blocks": [{"bbox": [null, 0, 0, 0]}]}',
    b'{"index": -1, "width": 0, "height": 1, "blocks": []}',
]


def test_malformed_worker_answers_are_backend_errors(tmp_path: Path) -> None:
    with FakeWorker(MALFORMED) as fake:
        cluster = Cluster(tmp_path, {"noop": {"class_path": NOOP, "urls": [fake.url]}}).start()
        try:
            files = {"file": ("p.png", PAGE.read_bytes())}
            for _ in MALFORMED:
                response = httpx.post(
                    f"{cluster.url}/v1/ocr", files=files, data={"backend": "noop"}, timeout=30
                )
                assert response.status_code == 502, response.text
                assert response.json()["error"]["code"] == "backend_error"
            submitted = httpx.post(
                f"{cluster.url}/v1/jobs", files=files, data={"backend": "noop"}, timeout=30
            )
            job_id = submitted.json()["id"]
            deadline = time.monotonic() + 20
            while (job := httpx.get(f"{cluster.url}/v1/jobs/{job_id}", timeout=10).json())["status"] in (
                "queued",
                "running",
            ):
                assert time.monotonic() < deadline, job
                time.sleep(0.2)
            assert job["status"] == "failed" and "malformed answer" in job["error"], job
        finally:
            assert cluster.stop() == []


def test_workers_are_sent_the_request_id_and_a_job_pages_its_job_id(tmp_path: Path) -> None:
    """The gateway passes its request id to the worker that reads the page (and a job's id with each
    of the job's pages), so a worker's log lines and errors name what the client knows."""
    answer = b'{"index": 0, "width": 1, "height": 1, "blocks": []}'
    with FakeWorker([answer]) as fake:
        cluster = Cluster(tmp_path, {"noop": {"class_path": NOOP, "urls": [fake.url]}}).start()
        try:
            files = {"file": ("p.png", PAGE.read_bytes())}
            headers = {"X-Request-ID": "trace-me-42"}
            response = httpx.post(
                f"{cluster.url}/v1/ocr", files=files, data={"backend": "noop"}, headers=headers, timeout=30
            )
            assert response.status_code == 200, response.text
            assert fake.request_ids == ["trace-me-42"]
            job_id = httpx.post(
                f"{cluster.url}/v1/jobs", files=files, data={"backend": "noop"}, timeout=30
            ).json()["id"]
            deadline = time.monotonic() + 20
            while httpx.get(f"{cluster.url}/v1/jobs/{job_id}", timeout=10).json()["status"] != "completed":
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert fake.request_ids == ["trace-me-42", job_id]
        finally:
            assert cluster.stop() == []
