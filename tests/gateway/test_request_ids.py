"""One request id per HTTP request, on every answer: the client's sane `X-Request-ID` or a new one,
in the `X-Request-ID` header, in every error body, as the unified response's `request_id`, and in
the gateway's log line for an unexpected error. A real `ocrgate serve` on loopback (one RapidOCR
worker that takes one page and queues none, so overload is a 429), and for the 500 the gateway app
in this process behind uvicorn on loopback with one route that fails."""

from __future__ import annotations

import base64
import concurrent.futures
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.responses import StreamingResponse

from ocrgate import errors
from ocrgate.client import OCRGateClient
from ocrgate.config import Settings
from ocrgate.gateway.app import create_gateway_app
from tests.gateway.cluster import Cluster, free_ports

NEW_ID = re.compile(r"[0-9a-f]{32}")
UPLOAD_LIMIT = 2_000_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("ids")
    running = Cluster(
        tmp, {"rapidocr": {"concurrency": 1, "queue_size": 0}}, limits={"max_upload_bytes": UPLOAD_LIMIT}
    ).start()
    yield running
    assert running.stop() == []


def post(
    cluster: Cluster, page: Path, form: dict[str, str], request_id: str | bytes | None
) -> httpx.Response:
    headers = {"X-Request-ID": request_id} if request_id is not None else {}
    files = {"file": (page.name, page.read_bytes())}
    return httpx.post(f"{cluster.url}/v1/ocr", files=files, data=form, headers=headers, timeout=120)


def test_a_client_id_is_the_answers_header_and_its_request_id(cluster: Cluster, phototest: Path) -> None:
    sent = "trace-4bf92f3577b34da6/span=00f067aa0ba902b7"
    answer = post(cluster, phototest, {"backend": "rapidocr", "boxes": "none"}, sent)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["x-request-id"] == sent
    assert answer.json()["request_id"] == sent


def test_without_one_each_request_gets_a_new_id_that_body_and_header_share(
    cluster: Cluster, phototest: Path
) -> None:
    first, second = (post(cluster, phototest, {"boxes": "none"}, None) for _ in range(2))
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(NEW_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]
    assert [first.json()["request_id"], second.json()["request_id"]] == ids
    for path in ("/health", "/v1/backends", "/metrics", "/openapi.json", "/"):  # every answer, not only OCR
        assert NEW_ID.fullmatch(httpx.get(f"{cluster.url}{path}", timeout=10).headers["x-request-id"]), path


@pytest.mark.parametrize(
    "sent",
    ["x" * 129, "two words", "caf\u00e9".encode(), "tab\there", ""],
    ids=["too-long", "space", "non-ascii", "tab", "empty"],
)
def test_an_id_that_is_not_sane_is_replaced_not_echoed(cluster: Cluster, sent: str | bytes) -> None:
    answer = httpx.get(f"{cluster.url}/health", headers={"X-Request-ID": sent}, timeout=10)
    assert NEW_ID.fullmatch(answer.headers["x-request-id"])


def test_white_space_around_an_id_is_not_part_of_it(cluster: Cluster) -> None:
    """Sent as raw bytes: HTTP clients trim a header value themselves; ids the server got padded."""
    host, port = httpx.URL(cluster.url).host, httpx.URL(cluster.url).port
    for value in (b"pad  ", b"  pad", b"\tpad\t"):
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + value + b"\r\n\r\n")
            head = connection.recv(65536).split(b"\r\n\r\n", 1)[0].lower()
        assert b"\r\nx-request-id: pad\r\n" in head + b"\r\n", (value, head)


def test_the_longest_and_oddest_sane_ids_are_kept(cluster: Cluster) -> None:
    for sent in ("y" * 128, "!", '{"trace":[1,2]}~'):
        answer = httpx.get(f"{cluster.url}/health", headers={"X-Request-ID": sent}, timeout=10)
        assert answer.headers["x-request-id"] == sent


@pytest.mark.parametrize(
    ("form", "data", "status", "code"),
    [
        ({"backend": "no-such-engine"}, None, 404, "unknown_backend"),
        ({"boxes": "sometimes"}, None, 422, "invalid_request"),
        ({"layout": "off"}, None, 422, "invalid_request"),
        ({}, b"not an image at all", 415, "unsupported_type"),
        ({}, b"\0" * (UPLOAD_LIMIT + 100_000), 413, "file_too_large"),
    ],
)
def test_every_error_body_and_header_carry_the_id(
    cluster: Cluster, phototest: Path, form: dict[str, str], data: bytes | None, status: int, code: str
) -> None:
    sent = f"err-{code}"
    payload = phototest.read_bytes() if data is None else data
    answer = httpx.post(
        f"{cluster.url}/v1/ocr",
        files={"file": ("x.png", payload)},
        data=form,
        headers={"X-Request-ID": sent},
        timeout=60,
    )
    assert answer.status_code == status, answer.text[:300]
    assert answer.json()["error"]["code"] == code
    assert answer.json()["request_id"] == answer.headers["x-request-id"] == sent


def test_routing_errors_and_missing_jobs_carry_a_new_id(cluster: Cluster) -> None:
    for method, path, status in (("GET", "/no/such/route", 404), ("GET", "/v1/jobs/nope", 404)):
        answer = httpx.request(method, f"{cluster.url}{path}", timeout=10)
        assert answer.status_code == status
        assert NEW_ID.fullmatch(answer.headers["x-request-id"])
        assert answer.json()["request_id"] == answer.headers["x-request-id"]
    with OCRGateClient(cluster.url) as client, pytest.raises(errors.NotFound) as raised:
        client.job("nope")
    assert raised.value.request_id is not None and NEW_ID.fullmatch(raised.value.request_id)


def test_a_429_carries_its_own_id(cluster: Cluster, phototest: Path) -> None:
    data = phototest.read_bytes()

    def send(n: int) -> tuple[str, httpx.Response]:
        sent = f"burst-{n}"
        response = httpx.post(
            f"{cluster.url}/v1/ocr",
            files={"file": ("p.png", data)},
            data={"boxes": "none"},
            headers={"X-Request-ID": sent},
            timeout=120,
        )
        return sent, response

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(6)))
    assert {r.status_code for _, r in answers} == {200, 429}
    for sent, response in answers:
        assert response.headers["x-request-id"] == sent == response.json()["request_id"]


def test_files_and_both_json_conventions_carry_the_id(cluster: Cluster, phototest: Path) -> None:
    as_pdf = post(cluster, phototest, {"format": "pdf"}, "want-a-pdf")
    assert as_pdf.status_code == 200 and as_pdf.headers["x-request-id"] == "want-a-pdf"
    png = base64.b64encode(phototest.read_bytes()).decode()
    seed = {"image": png, "backend": "rapidocr", "boxes": "none"}
    answer = httpx.post(f"{cluster.url}/v1/ocr", json=seed, headers={"X-Request-ID": "seed-1"}, timeout=120)
    assert answer.status_code == 200 and answer.json()["request_id"] == "seed-1"
    assert answer.headers["x-request-id"] == "seed-1"
    mistral = {
        "model": "rapidocr",
        "document": {"type": "image_url", "image_url": f"data:image/png;base64,{png}"},
    }
    answer = httpx.post(f"{cluster.url}/v1/ocr", json=mistral, headers={"X-Request-ID": "m-1"}, timeout=120)
    assert answer.status_code == 200 and answer.json()["id"] == answer.headers["x-request-id"] == "m-1"
    job = httpx.post(
        f"{cluster.url}/v1/jobs",
        files={"file": ("p.png", phototest.read_bytes())},
        headers={"X-Request-ID": "j"},
    )
    assert job.status_code == 202 and job.headers["x-request-id"] == "j" and job.json()["id"] != "j"


def test_workers_answer_with_an_id_too(cluster: Cluster) -> None:
    worker = cluster.workers()["rapidocr"][0]["url"]
    missing = httpx.get(f"{worker}/no/such/route", headers={"X-Request-ID": "to-the-worker"}, timeout=10)
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == missing.json()["request_id"] == "to-the-worker"


@pytest.fixture
def failing_gateway(tmp_path: Path) -> Iterator[str]:
    """The gateway app (no backends) with one extra route that raises, served on loopback here."""
    settings = Settings(
        backends={}, gateway={"data_dir": tmp_path / "data", "cors_origins": ["https://ui.example"]}
    )
    app = create_gateway_app(settings)

    @app.get("/v1/boom")
    async def boom() -> None:
        raise KeyError("a bug")

    @app.get("/v1/boom-midway")
    async def boom_midway() -> StreamingResponse:
        async def lines() -> AsyncIterator[bytes]:
            yield b"first line\n"
            raise KeyError("a bug after the answer started")

        return StreamingResponse(lines(), media_type="text/plain")

    port = free_ports(1)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the gateway did not start"
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_an_unexpected_error_names_the_id_in_body_header_and_log(
    failing_gateway: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ocrgate.http"):
        answer = httpx.get(f"{failing_gateway}/v1/boom", headers={"X-Request-ID": "bug-report-7"}, timeout=10)
    assert answer.status_code == 500
    body = answer.json()
    assert body["error"]["code"] == "internal_error" and "bug-report-7" in body["error"]["message"]
    assert body["request_id"] == answer.headers["x-request-id"] == "bug-report-7"
    [record] = [r for r in caplog.records if r.name == "ocrgate.http"]
    assert "bug-report-7" in record.getMessage() and "GET /v1/boom" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_an_unexpected_error_is_an_answer_like_any_other(failing_gateway: str) -> None:
    """The 500 goes out through the middleware: counted in /metrics, with the fixed headers and CORS."""
    answer = httpx.get(f"{failing_gateway}/v1/boom", headers={"Origin": "https://ui.example"}, timeout=10)
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["access-control-allow-origin"] == "https://ui.example"
    metrics = httpx.get(f"{failing_gateway}/metrics", timeout=10).text
    assert 'ocrgate_requests_total{route="/v1/boom",status="500"} 1.0' in metrics
    assert 'ocrgate_errors_total{code="500"} 1.0' in metrics


def test_an_error_after_the_answer_started_cuts_it_off(failing_gateway: str) -> None:
    """Half an answer is never completed with an error body: the connection is closed."""
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{failing_gateway}/v1/boom-midway", timeout=10)
    assert httpx.get(f"{failing_gateway}/metrics", timeout=10).status_code == 200  # the service is up
