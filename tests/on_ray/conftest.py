"""A local Ray cluster for the session: a head that declares two GPUs and a second node.

Both nodes are real raylets on this machine (ray.cluster_utils); `ocrgate serve --engine ray` joins
them through RAY_ADDRESS like it would join any cluster. Serve keeps one HTTP port for the whole
Ray session, so every deployment in these tests uses the same gateway port.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.cluster import Cluster, free_ports, write_config

ray_cluster_utils = pytest.importorskip("ray.cluster_utils", reason="Ray is an optional extra (ocrgate[ray])")


@dataclass
class RayNodes:
    address: str
    head_raylet_pid: int
    node2_raylet_pid: int
    http_port: int


def _raylet_pid(node: Any) -> int:
    return int(node.all_processes["raylet"][0].process.pid)


@pytest.fixture(scope="session")
def ray_nodes() -> Iterator[RayNodes]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cluster = ray_cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 4, "num_gpus": 2, "include_dashboard": False},
    )
    node2 = cluster.add_node(num_cpus=2, resources={"node2": 2})
    cluster.wait_for_nodes()
    try:
        yield RayNodes(cluster.address, _raylet_pid(cluster.head_node), _raylet_pid(node2), free_ports(1))
    finally:
        cluster.shutdown()


class RayServeCluster(Cluster):
    """`ocrgate serve --engine ray --config ...` against the session's Ray nodes."""

    def __init__(self, tmp: Path, nodes: RayNodes, backends: dict[str, dict[str, Any]]) -> None:
        super().__init__(tmp, backends)
        self.nodes = nodes
        self.port = nodes.http_port
        self.url = f"http://127.0.0.1:{self.port}"
        sections: dict[str, dict[str, Any]] = {
            "gateway": {"port": self.port, "data_dir": str(tmp / "data"), "page_retries": 3},
            "backends.rapidocr": {"enabled": False},
            "backends.tesseract": {"enabled": False},
        }
        sections.update({f"backends.{name}": values for name, values in backends.items()})
        write_config(self.config, sections)

    def command(self) -> list[str]:
        return [*super().command(), "--engine", "ray"]

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "RAY_ADDRESS": self.nodes.address}

    def start(self, timeout_s: float = 180) -> RayServeCluster:
        super().start(timeout_s)
        return self

    def stop(self) -> list[int]:
        super().stop()
        return []  # replicas belong to Ray, which stops them when the applications are deleted


def parent_pid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise LookupError(pid)
