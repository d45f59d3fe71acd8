"""The upload limit is enforced while the body streams in, through a real socket: a body several times
the limit gets 413 `file_too_large` before the client has finished sending it, a declared
Content-Length over the limit gets it before any body at all, and the gateway keeps neither the body
in memory nor its own health on the line."""

from __future__ import annotations

import json
import select
import socket
import time

import httpx

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import CORPUS_DIR, gateway_pid
from tests.reliability.reports import rss_bytes, write_report

BOUNDARY = "ocrgate-reliability"
PIECE = 64 * 1024


def _connect(cluster: Cluster) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", cluster.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIECE)  # little buffering: what we send arrives
    return sock


def _part_header(name: str = "big.png") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()


def _read_response(sock: socket.socket, timeout_s: float = 30) -> tuple[int, dict]:
    sock.settimeout(timeout_s)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return status, json.loads(body[:length])


def _limit(cluster: Cluster) -> int:
    return int(httpx.get(f"{cluster.url}/v1/limits", timeout=10).json()["max_upload_bytes"])


def _still_serves(cluster: Cluster) -> None:
    page = (CORPUS_DIR / "png_named.pdf").read_bytes()  # a valid PNG
    response = httpx.post(
        f"{cluster.url}/v1/ocr", files={"file": ("p.png", page)}, data={"backend": "noop"}, timeout=30
    )
    assert response.status_code == 200, response.text


def test_a_declared_length_over_the_limit_is_refused_before_the_body(gateway: Cluster) -> None:
    declared = 50 * _limit(gateway)
    with _connect(gateway) as sock:
        sock.sendall(
            f"POST /v1/ocr HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {declared}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n".encode()
        )
        started = time.monotonic()
        status, body = _read_response(sock, timeout_s=10)  # no byte of the body was sent
    assert status == 413 and body["error"]["code"] == "file_too_large", body
    assert body["error"]["message"].startswith(f"the request body has {declared:,} bytes"), body
    assert time.monotonic() - started < 10
    _still_serves(gateway)


def test_a_streamed_body_over_the_limit_is_cut_off_while_it_is_sent(gateway: Cluster) -> None:
    limit = _limit(gateway)
    total = 20 * limit
    pid = gateway_pid(gateway)
    rss_start = rss_bytes(pid)
    sent = 0
    answer: tuple[int, dict] | None = None
    with _connect(gateway) as sock:
        sock.sendall(
            f"POST /v1/ocr HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n".encode()
        )
        piece = b"\x89PNG\r\n\x1a\n" + b"\0" * (PIECE - 8)
        for chunk in [_part_header()] + [piece] * (total // PIECE):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:  # the gateway answered while we are still sending
                answer = _read_response(sock)
                break
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
        else:
            answer = _read_response(sock)
    rss_end = rss_bytes(pid)
    assert answer is not None
    status, body = answer
    assert status == 413 and body["error"]["code"] == "file_too_large", body
    write_report(
        "upload_limit",
        {
            "limit_bytes": limit,
            "body_bytes": total,
            "sent_before_413_bytes": sent,
            "gateway_rss_start_mb": round(rss_start / 2**20, 1),
            "gateway_rss_end_mb": round(rss_end / 2**20, 1),
        },
    )
    assert sent < total // 2, f"413 only after {sent:,} of {total:,} bytes"
    assert rss_end - rss_start < total // 2, (rss_start, rss_end)
    assert gateway_pid(gateway) == pid
    _still_serves(gateway)
