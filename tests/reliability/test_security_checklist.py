"""The security checklist, each point against real processes where it can be: constant-time API keys,
unguessable job ids, a key sees only its own jobs (every job route), no path traversal through any
file route, engine HTML sanitised (nh3) before it reaches a client, a strict CSP on the web client,
gateway and workers on loopback only, workers answering only their gateway's shared secret.

tests/gateway/test_security.py covers the rest on a rapidocr cluster (401 without a key, a key's
own jobs through the client, the worker secret missing, a hung worker).
"""

from __future__ import annotations

import hmac
import http.client
import math
import re
import string
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.requests import Request

from ocrgate.documents import PageImage
from ocrgate.gateway import auth
from ocrgate.jobs import new_job_id
from ocrgate.wire import RAW_RGB, SECRET_HEADER, encode_page
from tests.gateway.cluster import Cluster
from tests.reliability.conftest import CORPUS_DIR, noop_backend

KEYS = ["alice-0123456789abcdef", "bob-fedcba9876543210"]
SECRET = "gateway-to-worker-0123456789"
HOSTILE = "tests.reliability.hostile_backend:HostileBackend"
PAGE = CORPUS_DIR / "png_named.pdf"  # a small valid PNG
LEAKS = (b"[project]", b"root:x:0:0", b"SQLite format 3", b"def create_gateway_app", b"worker_secret")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(
        tmp_path_factory.mktemp("guarded"),
        {"noop": noop_backend(), "hostile": {"class_path": HOSTILE}},
        gateway={"api_keys": KEYS, "worker_secret": SECRET},
    ).start()
    yield cluster
    assert cluster.stop() == []


def _as(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _submit(cluster: Cluster, key: str) -> str:
    response = httpx.post(
        f"{cluster.url}/v1/jobs",
        files={"file": ("p.png", PAGE.read_bytes())},
        data={"backend": "noop"},
        headers=_as(key),
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_api_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every configured key goes through hmac.compare_digest on every request, match or not."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording)
    keys = auth.APIKeys(KEYS)
    for given, owner in [(KEYS[0], True), (KEYS[1], True), (KEYS[0][:-1] + "X", False), ("", False)]:
        calls.clear()
        request = Request({"type": "http", "headers": [(b"x-api-key", given.encode())]})
        if owner:
            assert keys(request) == auth.owner_of(given)
        else:
            with pytest.raises(auth.Unauthorized):
                keys(request)
        assert [b for _, b in calls] == [k.encode() for k in KEYS], given  # all keys, in order, each time
    assert auth.owner_of(KEYS[0]) != KEYS[0]  # the store keeps a digest, never the key


def test_job_ids_are_unguessable(guarded: Cluster) -> None:
    alphabet = set(string.ascii_letters + string.digits + "-_")
    ids = [new_job_id() for _ in range(3000)]
    assert len(set(ids)) == len(ids) and {len(i) for i in ids} == {24}
    # every position takes all 64 URL-safe symbols: 24 x 6 = 144 random bits, not a counter or a clock
    for position in range(24):
        assert {i[position] for i in ids} == alphabet, position
    assert 24 * math.log2(len(alphabet)) == 144
    served = {_submit(guarded, KEYS[0]) for _ in range(3)}
    assert len(served) == 3 and all(len(i) == 24 and set(i) <= alphabet for i in served)


def test_a_key_sees_only_its_own_jobs_on_every_route(guarded: Cluster) -> None:
    job_id = _submit(guarded, KEYS[0])
    url = f"{guarded.url}/v1/jobs/{job_id}"
    for method, path in [("GET", ""), ("GET", "/result"), ("GET", "/events"), ("DELETE", "")]:
        response = httpx.request(method, url + path, headers=_as(KEYS[1]), timeout=10)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", (method, path)
        assert (
            job_id in response.json()["error"]["message"] or "no job" in response.json()["error"]["message"]
        )
    listed = httpx.get(f"{guarded.url}/v1/jobs", headers=_as(KEYS[1]), timeout=10).json()
    assert job_id not in [j["id"] for j in listed]
    assert httpx.get(url, headers=_as(KEYS[0]), timeout=10).status_code == 200
    assert httpx.get(url + "/result", headers=_as(KEYS[0]), timeout=10).status_code == 200
    assert httpx.get(url, timeout=10).status_code == 401  # and nobody without a key


TRAVERSALS = [
    "/static/../pyproject.toml",
    "/static/../../pyproject.toml",
    "/static/../../../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2f..%2f..%2fpyproject.toml",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/static/....//....//....//pyproject.toml",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..%5c..%5c..%5cpyproject.toml",
    "/static/%252e%252e/%252e%252e/pyproject.toml",
    "/static/app.js%00.html",
    "/static/../gateway/app.py",
    "/v1/jobs/..%2fjobs.sqlite3",
    "/v1/jobs/%2e%2e%2fjobs.sqlite3/result",
    "/v1/jobs/%2e%2e/result",
    "/v1/jobs/..",
    "/v1/jobs/.%2e/events",
    "/v1/jobs/..%2f..%2f..%2fetc%2fpasswd/result",
    "/v1/jobs/%2e%2e%2f%2e%2e%2fdata%2fjobs.sqlite3",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_traversal_through_any_file_route(guarded: Cluster, path: str) -> None:
    """Sent byte for byte (no client-side normalisation): never a file outside the served folder."""
    connection = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=10)
    try:
        connection.request("GET", path, headers=_as(KEYS[0]))
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status in (400, 404, 405), (path, response.status, body[:200])
    assert not any(leak in body for leak in LEAKS), (path, body[:200])


def test_engine_html_is_sanitised_and_boxes_kept_on_the_page(guarded: Cluster) -> None:
    response = httpx.post(
        f"{guarded.url}/v1/ocr",
        files={"file": ("p.png", PAGE.read_bytes())},
        data={"backend": "hostile"},
        headers=_as(KEYS[0]),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    page = response.json()["pages"][0]
    table = next(b for b in page["blocks"] if b["kind"] == "table")
    for html in (table["html"], response.json()["markdown"].split("\n\n")[1]):
        lowered = html.lower()
        assert "<table>" in lowered and "cell" in lowered and "link" in lowered, html
        for bad in ("<script", "onclick", "onerror", "javascript:", "<img", "<a "):
            assert bad not in lowered, (bad, html)
    for block in page["blocks"]:
        x0, y0, x1, y1 = block["bbox"]
        assert 0 <= x0 <= x1 <= page["width"] and 0 <= y0 <= y1 <= page["height"], block
    # OCR text is data: kept verbatim in markdown (the web client renders it as text, never as HTML)
    assert "a < b & c" in response.json()["markdown"]


def test_web_client_is_served_with_a_strict_csp(guarded: Cluster) -> None:
    for path in ("/", "/static/app.js", "/static/app.css"):
        response = httpx.get(f"{guarded.url}{path}", timeout=10)
        assert response.status_code == 200, path
        policy = dict(
            part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";")
        )
        assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'", policy
        assert policy["style-src"] == "'self'" and policy["object-src"] == "'none'", policy
        assert policy["base-uri"] == "'none'" and policy["frame-ancestors"] == "'none'", policy
        assert "unsafe" not in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    html = httpx.get(f"{guarded.url}/", timeout=10).text
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))  # no inline script
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html)  # no inline style or handler


def _listening(port: int) -> list[str]:
    """Local addresses of LISTEN sockets on `port`, from /proc/net/tcp and tcp6."""
    found = []
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.exists():  # no IPv6 on this host
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":
                found.append(address)
    return found


def test_gateway_and_workers_listen_on_loopback_only(guarded: Cluster) -> None:
    ports = [guarded.port] + [
        int(w["url"].rsplit(":", 1)[1]) for ws in guarded.workers().values() for w in ws
    ]
    assert len(ports) == 3
    for port in ports:
        assert _listening(port) == ["0100007F"], port  # 127.0.0.1, not 0.0.0.0 or ::


def test_workers_answer_only_the_shared_secret(guarded: Cluster) -> None:
    worker = guarded.workers()["noop"][0]["url"]
    body, params = encode_page(PageImage(index=0, image=Image.open(PAGE).convert("RGB")))
    for secret in (None, "", "wrong", SECRET[:-1], SECRET + "x"):
        headers = {"content-type": RAW_RGB} | ({SECRET_HEADER: secret} if secret is not None else {})
        response = httpx.post(f"{worker}/v1/ocr", content=body, params=params, headers=headers, timeout=10)
        assert response.status_code == 401, secret
        assert response.json()["error"]["code"] == "unauthorized"
    headers = {"content-type": RAW_RGB, SECRET_HEADER: SECRET}
    response = httpx.post(f"{worker}/v1/ocr", content=body, params=params, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
