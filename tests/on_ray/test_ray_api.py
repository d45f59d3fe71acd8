"""The gateway's API test suite, run against ocrgate on Ray Serve instead of local processes.

The tests are imported from tests/gateway/test_gateway.py; only the `cluster` they get differs. Left
out: the ones about local worker processes (pinning per replica, replica spread, two worker URLs),
whose Ray counterparts are in test_ray_placement.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ocrgate.client import OCRGateClient
from tests.gateway.test_gateway import (  # noqa: F401  (collected here, against the Ray cluster)
    small_pdf,
    test_all_compares_every_backend,
    test_async_client_waits_for_a_job,
    test_bad_uploads_get_a_json_4xx,
    test_cancelled_job_stops,
    test_job_streams_pages_then_completes,
    test_missing_file_and_missing_job,
    test_ocr_returns_the_unified_response,
    test_plain_multipart_post_as_curl_sends_it,
)
from tests.on_ray.conftest import RayNodes, RayServeCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, ray_nodes: RayNodes) -> Iterator[RayServeCluster]:
    backends = {"rapidocr": {"replicas": 2, "options": {"threads": 1}}, "tesseract": {}}
    running = RayServeCluster(tmp_path_factory.mktemp("ray-api"), ray_nodes, backends).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(cluster: RayServeCluster) -> Iterator[OCRGateClient]:
    with OCRGateClient(cluster.url) as c:
        yield c


def test_health_backends_metrics_docs_and_web_client(client: OCRGateClient, cluster: RayServeCluster) -> None:
    backends = {b["name"]: b for b in client.backends()}
    assert backends["rapidocr"]["healthy"] and backends["tesseract"]["healthy"]
    assert client.health()["status"] == "healthy"
    assert "ocrgate_requests_total" in httpx.get(f"{cluster.url}/metrics").text
    assert httpx.get(f"{cluster.url}/openapi.json").json()["paths"]["/v1/jobs/{job_id}/events"]
    assert "<html" in httpx.get(f"{cluster.url}/", follow_redirects=True).text.lower()


def test_workers_refuse_callers_without_the_secret(cluster: RayServeCluster) -> None:
    answer = httpx.post(
        f"{cluster.url}/_workers/rapidocr/v1/ocr", content=b"x", headers={"content-type": "image/png"}
    )
    assert answer.status_code == 401
