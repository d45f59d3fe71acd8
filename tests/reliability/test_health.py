"""`GET /health` tells tools the truth through its status code: 200 while healthy or degraded, 503 while
no backend has a healthy worker, so `curl -f`, load balancers and container health checks see an
unusable gateway as down. Checked on a real gateway whose only working worker is stopped (SIGSTOP) and
resumed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import NOOP, noop_backend


def _until(predicate: Callable[[], Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.3)
    raise TimeoutError("condition not reached")


def _curl_fails(url: str) -> int | None:
    """`curl -f`'s exit code for the URL (22 for an HTTP error), None without curl."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    return subprocess.run([curl, "-sf", "-o", "/dev/null", url], check=False, timeout=30).returncode


def test_health_is_503_while_unhealthy_and_200_while_degraded(tmp_path: Path) -> None:
    nobody = {"class_path": NOOP, "urls": ["http://127.0.0.1:9"]}  # a worker that never answers
    cluster = Cluster(tmp_path, {"noop": noop_backend(), "ghost": nobody})
    cluster.expected = ["noop"]
    cluster.start()
    url = f"{cluster.url}/health"
    worker = cluster.worker_pids()[0]
    try:
        degraded = httpx.get(url, timeout=10)
        assert degraded.status_code == 200, degraded.text
        assert degraded.json()["status"] == "degraded"
        assert degraded.json()["backends"] == {"noop": True, "ghost": False}
        assert _curl_fails(url) in (0, None)
        os.kill(worker, signal.SIGSTOP)  # the only working worker stops answering its health checks
        try:
            down = _until(lambda: (r := httpx.get(url, timeout=10)).status_code == 503 and r)
            assert down.json()["status"] == "unhealthy" and down.json()["backends"] == {
                "noop": False,
                "ghost": False,
            }
            assert _curl_fails(url) in (22, None)
        finally:
            os.kill(worker, signal.SIGCONT)
        back = _until(lambda: (r := httpx.get(url, timeout=10)).status_code == 200 and r)
        assert back.json()["status"] == "degraded"
    finally:
        assert cluster.stop() == []
