"""The hostile corpus (tests/fixtures/hostile, made by scripts/make_hostile_corpus.py) through a real
gateway: every file gets the status and error code its manifest promises, as JSON, on /v1/ocr and on
/v1/jobs; the gateway process stays the same one, healthy, and within memory."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import CORPUS_DIR, gateway_pid
from tests.reliability.reports import rss_bytes, write_report

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import make_hostile_corpus  # noqa: E402

RSS_BUDGET = 150 * 1024 * 1024
PASSES = 2  # the second pass shows whether memory keeps growing


def post(cluster: Cluster, route: str, name: str, data: bytes) -> httpx.Response:
    files = {"file": (name, data, "application/octet-stream")}
    return httpx.post(f"{cluster.url}{route}", files=files, data={"backend": "noop"}, timeout=60)


def check_answer(response: httpx.Response, status: int, code: str | None, name: str) -> None:
    if code is None:
        assert response.status_code in (200, 202), (name, response.status_code, response.text[:300])
        return
    assert response.status_code == status, (name, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), name
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, (name, body)
    assert body["error"]["message"].strip(), name


def wait_done(cluster: Cluster, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = httpx.get(f"{cluster.url}/v1/jobs/{job_id}", timeout=10).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} not finished")


def test_committed_corpus_is_what_the_generator_makes(tmp_path: Path) -> None:
    entries = make_hostile_corpus.write_corpus(tmp_path)
    for entry in entries:
        made = (tmp_path / entry.name).read_bytes()
        assert (CORPUS_DIR / entry.name).read_bytes() == made, (
            f"rerun scripts/make_hostile_corpus.py ({entry.name})"
        )
        assert len(made) <= make_hostile_corpus.MAX_FILE_BYTES
    assert (CORPUS_DIR / "manifest.json").read_text() == (tmp_path / "manifest.json").read_text()


def test_every_hostile_file_gets_its_answer_and_the_gateway_stays_up(
    gateway: Cluster, corpus_manifest: dict[str, Any]
) -> None:
    pid = gateway_pid(gateway)
    rss_start = rss_bytes(pid)
    files = corpus_manifest["files"]
    extra = [("tiff_10000_frames.tif", make_hostile_corpus.tiff_many_frames(10_000), 413, "too_many_pages")]
    answers: dict[str, int] = {}
    jobs: list[str] = []
    rss_after_pass = []
    for _ in range(PASSES):
        cases = [(f["name"], (CORPUS_DIR / f["name"]).read_bytes(), f["status"], f["code"]) for f in files]
        for name, data, status, code in cases + extra:
            response = post(gateway, "/v1/ocr", name, data)
            check_answer(response, status, code, name)
            if code is None:
                assert len(response.json()["pages"]) == 1, name
            answers[name] = response.status_code
            submitted = post(gateway, "/v1/jobs", name, data)
            check_answer(submitted, status, code, f"job {name}")
            if code is None:
                jobs.append(submitted.json()["id"])
        for job_id in jobs:
            job = wait_done(gateway, job_id)
            assert job["status"] == "completed" and job["progress"]["noop"]["done"] == 1, job
        rss_after_pass.append(rss_bytes(pid))
    rss_end = rss_after_pass[-1]
    assert gateway_pid(gateway) == pid  # never restarted
    assert httpx.get(f"{gateway.url}/health", timeout=10).json()["status"] == "healthy"
    write_report(
        "hostile_corpus",
        {
            "files": len(answers),
            "passes": PASSES,
            "requests": 2 * PASSES * len(answers),
            "answers": answers,
            "accepted_jobs_completed": len(set(jobs)),
            "gateway_rss_start_mb": round(rss_start / 2**20, 1),
            "gateway_rss_end_mb": round(rss_end / 2**20, 1),
            "gateway_rss_after_each_pass_mb": [round(r / 2**20, 1) for r in rss_after_pass],
        },
    )
    assert rss_end - rss_start < RSS_BUDGET, (rss_start, rss_end)
