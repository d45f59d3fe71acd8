"""API keys, job ownership, the worker secret, and a hung worker that must not hang the gateway."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from ocrgate import errors
from ocrgate.client import AsyncOCRGateClient, OCRGateClient
from tests.gateway.cluster import Cluster

KEYS = ["alice-key-0123456789", "bob-key-9876543210"]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("guarded")
    cluster = Cluster(
        tmp,
        {"rapidocr": {"replicas": 2}},
        gateway={"api_keys": KEYS, "worker_secret": "s3cret-between-gateway-and-workers"},
        limits={"page_timeout_s": 20},
    ).start()
    yield cluster
    assert cluster.stop() == []


def test_requests_without_a_valid_key_are_refused(guarded: Cluster, phototest: Path) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer nope"}):
        response = httpx.post(
            f"{guarded.url}/v1/ocr", files={"file": phototest.read_bytes()}, headers=headers, timeout=30
        )
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    with OCRGateClient(guarded.url, api_key=KEYS[0]) as client:
        assert "quick brown" in client.ocr(phototest).markdown
    bearer = httpx.get(f"{guarded.url}/v1/jobs", headers={"Authorization": f"Bearer {KEYS[1]}"})
    assert bearer.status_code == 200
    for path in ("/v1/limits", "/v1/backends", "/v1/jobs"):  # every /v1 route, not only the ones with work
        assert httpx.get(f"{guarded.url}{path}", timeout=30).status_code == 401, path
        keyed = httpx.get(f"{guarded.url}{path}", headers={"X-API-Key": KEYS[0]}, timeout=30)
        assert keyed.status_code == 200, path


def test_a_key_sees_only_its_own_jobs(guarded: Cluster, phototest: Path) -> None:
    with (
        OCRGateClient(guarded.url, api_key=KEYS[0]) as alice,
        OCRGateClient(guarded.url, api_key=KEYS[1]) as bob,
    ):
        job = alice.submit_job(phototest)
        assert alice.job(job.id).id == job.id
        with pytest.raises(errors.NotFound):
            bob.job(job.id)
        with pytest.raises(errors.NotFound):
            bob.cancel_job(job.id)
        with pytest.raises(errors.NotFound):  # the event stream's error body is read for its type
            bob.wait_job(job.id)
        with pytest.raises(errors.NotFound):
            anyio.run(_async_wait, guarded.url, KEYS[1], job.id)
        assert job.id not in [j.id for j in bob.jobs()]
        assert job.id in [j.id for j in alice.jobs()]
        alice.wait_job(job.id)


async def _async_wait(url: str, key: str, job_id: str) -> None:
    async with AsyncOCRGateClient(url, api_key=key) as client:
        await client.wait_job(job_id)


def test_workers_refuse_requests_without_the_shared_secret(guarded: Cluster, phototest: Path) -> None:
    worker = guarded.workers()["rapidocr"][0]["url"]
    response = httpx.post(
        f"{worker}/v1/ocr", content=phototest.read_bytes(), headers={"content-type": "image/png"}
    )
    assert response.status_code == 401
    assert httpx.get(f"{worker}/health").status_code == 200  # health stays open for the launcher


def test_a_hung_worker_times_out_and_pages_move_to_the_other_replica(
    guarded: Cluster, phototest: Path
) -> None:
    workers = guarded.workers()["rapidocr"]
    stopped = workers[0]["health"]["pid"]
    os.kill(stopped, signal.SIGSTOP)
    try:
        with OCRGateClient(guarded.url, api_key=KEYS[0]) as client:
            for _ in range(3):  # least-loaded first: at least one of these goes to the hung worker first
                assert "quick brown" in client.ocr(phototest, boxes="none").markdown
    finally:
        os.kill(stopped, signal.SIGCONT)


def test_gateway_binds_loopback_by_default() -> None:
    from ocrgate.config import Settings

    assert Settings().gateway.host == "127.0.0.1"
    assert all(b.host == "127.0.0.1" for b in Settings().backends.values())
