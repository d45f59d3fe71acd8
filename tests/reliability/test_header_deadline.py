"""Slow clients before the app sees a request: a connection that sends nothing, or its headers a few
bytes at a time, is answered 408 `request_timeout` and closed once `limits.header_timeout_s` passes,
on the gateway and on its workers (`ocrgate.header_deadline`); requests whose headers come in time,
slow answers and keep-alive connections are left alone. Real `ocrgate serve`, raw sockets."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import noop_backend

DEADLINE_S = 1.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp: Path = tmp_path_factory.mktemp("header-deadline")
    limits = {"header_timeout_s": DEADLINE_S}
    running = Cluster(tmp, {"noop": noop_backend(delay_s=1.5)}, limits=limits).start()
    try:
        yield running
    finally:
        assert running.stop() == []


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def answer_to(port: int, *pieces: bytes, pause_s: float = 0.0) -> tuple[bytes, float]:
    """What the server sends back on a new connection after `pieces` (each `pause_s` apart), until it
    closes the connection, and how long after the last piece it closed it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        for piece in pieces:
            conn.sendall(piece)
            time.sleep(pause_s)
        started = time.monotonic()
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received, time.monotonic() - started


def assert_timed_out(received: bytes) -> None:
    status, _, rest = received.partition(b"\r\n")
    assert b" 408 " in status, received[:300]
    head, _, raw = rest.partition(b"\r\n\r\n")
    body = json.loads(raw)
    assert body["error"]["code"] == "request_timeout" and "headers did not come" in body["error"]["message"]
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
    # the headers every answer has, the request id a new one, as the body's
    assert headers[b"x-request-id"].decode() == body["request_id"] and len(body["request_id"]) == 32
    assert headers[b"x-content-type-options"] == b"nosniff" and headers[b"connection"] == b"close"


@pytest.mark.parametrize(
    "pieces",
    [(), (b"POST /v1/ocr HTTP/1.1\r\nHost: gw\r\n",), (b"GET /hea",)],
    ids=["nothing", "half the headers", "half the request line"],
)
def test_headers_that_do_not_come_are_a_408_and_the_connection_closes(
    cluster: Cluster, pieces: tuple[bytes, ...]
) -> None:
    worker_port = int(cluster.workers()["noop"][0]["url"].rsplit(":", 1)[1])
    for port in (cluster.port, worker_port):
        received, waited = answer_to(port, *pieces)
        assert_timed_out(received)
        assert waited < DEADLINE_S + 5
    assert httpx.get(f"{cluster.url}/health", timeout=10).status_code == 200


def test_a_keep_alive_connection_gets_the_deadline_for_each_request(cluster: Cluster) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\n"
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=30) as conn:
        conn.sendall(request)
        first = conn.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:200]
        time.sleep(0.5)  # under uvicorn's keep-alive timeout (5 s): the connection stays
        conn.sendall(b"GET /health HTTP/1.1\r\n")  # the next request's headers, begun but not finished
        started = time.monotonic()
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    assert_timed_out(received)
    assert DEADLINE_S * 0.8 < time.monotonic() - started < DEADLINE_S + 5


def test_headers_in_time_and_a_slow_answer_are_left_alone(cluster: Cluster) -> None:
    """Headers sent in pieces within the deadline are read; the answer itself may take longer than
    the deadline (the no-op engine waits 1.5 s): the deadline is for the headers only."""
    received, _ = answer_to(
        cluster.port,
        b"GET /health HTTP/1.1\r\n",
        b"Host: gw\r\nConnection: close\r\n\r\n",
        pause_s=DEADLINE_S / 3,
    )
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    started = time.monotonic()
    answer = httpx.post(
        f"{cluster.url}/v1/ocr",
        files={"file": ("p.png", small_png())},
        data={"backend": "noop", "boxes": "none"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:300]
    assert time.monotonic() - started > DEADLINE_S
