"""Clusters of `noop` workers (bench/noop_backend.py): real processes on loopback, no OCR cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.cluster import Cluster

NOOP = "bench.noop_backend:NoopBackend"


def noop_backend(**values: Any) -> dict[str, Any]:
    """Config of a `noop` backend; `delay_s` makes each page take that long at the worker."""
    delay_s = values.pop("delay_s", 0.0)
    return {"class_path": NOOP, "options": {"delay_s": delay_s}, **values}


def noop_cluster(
    tmp: Path,
    gateway: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    **backend: Any,
) -> Cluster:
    """A started `ocrgate serve` with one `noop` backend; requests must name `backend=noop`."""
    return Cluster(tmp, {"noop": noop_backend(**backend)}, gateway=gateway, limits=limits).start()


def gateway_pid(cluster: Cluster) -> int:
    return int(httpx.get(f"{cluster.url}/health", timeout=10).json()["pid"])


CORPUS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"


@pytest.fixture(scope="session")
def corpus_manifest() -> dict[str, Any]:
    return json.loads((CORPUS_DIR / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, corpus_manifest: dict[str, Any]) -> Iterator[Cluster]:
    """One noop cluster under the hostile corpus's limits, shared by the intake and upload tests."""
    cluster = noop_cluster(tmp_path_factory.mktemp("gateway"), limits=corpus_manifest["limits"])
    yield cluster
    assert cluster.stop() == []
