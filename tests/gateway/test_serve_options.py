"""`ocrgate serve --host/--port`: the gateway listens where the options say, over the config file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.gateway.cluster import Cluster, free_ports

NOOP = "bench.noop_backend:NoopBackend"


def test_serve_options_choose_the_gateway_address_over_the_config(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, {"noop": {"class_path": NOOP}})
    configured = cluster.port  # the config's gateway port; its worker listens on the next one
    port = next(p for p in iter(lambda: free_ports(1), None) if p not in (configured, configured + 1))
    cluster.serve_args = ("--host", "127.0.0.1", "--port", str(port))
    cluster.url = f"http://127.0.0.1:{port}"
    cluster.start()
    try:
        answer = httpx.get(f"{cluster.url}/health", timeout=5)
        assert answer.status_code == 200 and answer.json()["backends"]["noop"] is True
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{configured}/health", timeout=2)
    finally:
        assert cluster.stop() == []
