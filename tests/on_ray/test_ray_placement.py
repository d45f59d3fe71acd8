"""Ray places each backend's replicas: GPUs per deployment, replicas on another node, kills survived."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ocrgate.client import OCRGateClient
from tests.gateway.test_gateway import pdf_of
from tests.on_ray.conftest import RayNodes, RayServeCluster, parent_pid

NOOP = "bench.noop_backend:NoopBackend"


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory, ray_nodes: RayNodes) -> Iterator[RayServeCluster]:
    backends = {
        "noop-a": {"class_path": NOOP, "gpu": "0"},
        "noop-b": {"class_path": NOOP, "gpu": "1"},
        # only the second node has the `node2` resource: both replicas must land there
        "rapidocr": {"replicas": 2, "options": {"threads": 1}, "ray": {"resources": {"node2": 1}}},
    }
    running = RayServeCluster(tmp_path_factory.mktemp("ray-placed"), ray_nodes, backends).start()
    yield running
    running.stop()


def replica_pids(cluster: RayServeCluster, backend: str, tries: int = 30) -> set[int]:
    """The pids of a backend's replicas, as their /health answers through Serve's proxy show them."""
    pids = set()
    for _ in range(tries):
        workers = cluster.workers()[backend]
        pids |= {w["health"]["pid"] for w in workers if w["health"]}
        time.sleep(0.1)
    return pids


def test_each_gpu_deployment_gets_its_own_gpu(placed: RayServeCluster) -> None:
    workers = placed.workers()
    seen = {
        name: workers[name][0]["health"]["device"]["cuda_visible_devices"] for name in ("noop-a", "noop-b")
    }
    assert sorted(seen.values()) == ["0", "1"], seen
    assert workers["rapidocr"][0]["health"]["device"]["cuda_visible_devices"] == ""


def test_replicas_run_on_the_second_node(placed: RayServeCluster, ray_nodes: RayNodes) -> None:
    pids = replica_pids(placed, "rapidocr")
    assert pids, "no rapidocr replica answered"
    assert {parent_pid(pid) for pid in pids} == {ray_nodes.node2_raylet_pid}
    gpu_pid = placed.workers()["noop-a"][0]["health"]["pid"]
    assert parent_pid(gpu_pid) == ray_nodes.head_raylet_pid


def test_killing_a_replica_loses_no_job(placed: RayServeCluster, phototest: Path) -> None:
    pdf = pdf_of(Image.open(phototest).convert("RGB"), 6)
    with OCRGateClient(placed.url) as client:
        job = client.submit_job(pdf, backend="rapidocr", filename="six.pdf")
        victim = next(iter(replica_pids(placed, "rapidocr", tries=5)))
        os.kill(victim, signal.SIGKILL)
        result = client.wait_job(job.id)
    status = httpx.get(f"{placed.url}/v1/jobs/{job.id}").json()
    assert status["status"] == "completed", status
    assert [p.index for p in result.pages] == list(range(6))
    assert all(p.markdown and not p.flags for p in result.pages)
    assert status["progress"]["rapidocr"]["failed"] == 0
