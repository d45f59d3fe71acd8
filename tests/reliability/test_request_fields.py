"""Every request field gets a typed answer, on `/v1/ocr` and `/v1/jobs` alike, through a real gateway:
`options` too deep, too large, non-finite or out of the range the backend's published schema gives
(422 `invalid_option`); any text field over the part limit (413 `field_too_large`); several `file`
parts and fields the form does not take (422 `invalid_request`); file names sent as RFC 5987
`filename*` or with the browsers' `%22` escapes (decoded). Each kind is tried over generated
siblings (depths, sizes, fields, numbers)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ocrgate.config import Limits
from tests.gateway.cluster import Cluster
from tests.reliability.conftest import noop_backend
from tests.reliability.reports import write_report

LIMITS = Limits()
ROUTES = ["/v1/ocr", "/v1/jobs"]
ACCEPTED = {"/v1/ocr": 200, "/v1/jobs": 202}
RANGED = {"class_path": "tests.reliability.ranged_backend:RangedBackend"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("fields"), {"noop": noop_backend(), "ranged": RANGED}).start()
    yield running
    assert running.stop() == []


@pytest.fixture(scope="module")
def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(buffer, "PNG")
    return buffer.getvalue()


def post(cluster: Cluster, route: str, png: bytes, **form: str) -> httpx.Response:
    form.setdefault("backend", "ranged")
    return httpx.post(f"{cluster.url}{route}", files={"file": ("p.png", png)}, data=form, timeout=60)


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    return str(body["error"]["message"])


def nested(kind: str, depth: int) -> str:
    """`options` whose values nest exactly `depth` levels deep (the top object counts as one)."""
    opens = {"object": ['{"a": '], "array": ["["], "mixed": ['{"a": ', "["]}[kind]
    closes = {'{"a": ': "}", "[": "]"}
    chain = [opens[i % len(opens)] for i in range(depth - 1)]
    return '{"weights": ' + "".join(chain) + "1" + "".join(closes[o] for o in reversed(chain)) + "}"


@pytest.mark.parametrize("route", ROUTES)
def test_options_nested_too_deep_are_refused_before_parsing(cluster: Cluster, png: bytes, route: str) -> None:
    limit = LIMITS.max_options_depth
    for kind in ("object", "array", "mixed"):
        for depth in (limit + 1, limit + 2, 2000):
            text = nested(kind, depth)
            if len(text) > LIMITS.max_options_bytes:
                continue
            message = error(post(cluster, route, png, options=text), 422, "invalid_option")
            assert "levels deep" in message, (kind, depth, message)
        within = error(post(cluster, route, png, options=nested(kind, limit)), 422, "invalid_option")
        assert "levels deep" not in within  # parsed, then refused by the backend's schema
    # brackets inside strings are text, not nesting
    text = json.dumps({"lang": "[" * 5000 + "{" * 5000})
    assert "levels deep" not in error(post(cluster, route, png, options=text), 422, "invalid_option")


@pytest.mark.parametrize("route", ROUTES)
def test_options_over_the_size_limit_are_refused(cluster: Cluster, png: bytes, route: str) -> None:
    for text in ("[" * 100_000, "{" * 100_000, '{"lang": "%s"}' % ("x" * LIMITS.max_options_bytes)):
        assert "over the limit" in error(post(cluster, route, png, options=text), 422, "invalid_option")


@pytest.mark.parametrize("route", ROUTES)
def test_numbers_must_be_finite_and_in_the_published_range(cluster: Cluster, png: bytes, route: str) -> None:
    schema = httpx.get(f"{cluster.url}/openapi.json", timeout=10).json()["components"]["schemas"]
    served = schema["Options_ranged"]["properties"]["text_score"]["anyOf"][0]
    assert (served["minimum"], served["maximum"]) == (0, 1)  # the range the worker publishes
    refused = [
        '{"text_score": 5}', '{"text_score": -0.1}', '{"text_score": 1.0000001}', '{"max_lines": 0}',
        '{"max_lines": 10001}', '{"text_score": NaN}', '{"text_score": Infinity}',
        '{"text_score": -Infinity}', '{"text_score": 1e999}', '{"text_score": -1e999}',
        '{"weights": {"a": NaN}}', '{"weights": {"a": [1e400]}}', '{"max_lines": %s}' % ("9" * 5000),
        '{"text_score": "0.5"}', '{"lang": "xx"}',
    ]  # fmt: skip
    for text in refused:
        error(post(cluster, route, png, options=text), 422, "invalid_option")
    for text in ('{"text_score": 0}', '{"text_score": 1}', '{"text_score": 0.5, "max_lines": 3}', "{}"):
        assert post(cluster, route, png, options=text).status_code == ACCEPTED[route], text


@pytest.mark.parametrize("route", ROUTES)
def test_a_field_over_the_part_limit_is_a_413_of_its_own(cluster: Cluster, png: bytes, route: str) -> None:
    sizes = (LIMITS.max_field_bytes + 1, 3 * 1024 * 1024)
    for field in ("options", "prompt", "backend", "boxes", "dpi", "unknown_field"):
        for size in sizes:
            message = error(post(cluster, route, png, **{field: "x" * size}), 413, "field_too_large")
            assert repr(field) in message
    # just under the limit is read, and then judged on its content: the prompt travels with the options
    message = error(
        post(cluster, route, png, prompt="x" * (LIMITS.max_field_bytes - 1)), 422, "invalid_option"
    )
    assert "over the limit" in message
    assert post(cluster, route, png, prompt="x" * 10_000).status_code == ACCEPTED[route]


@pytest.mark.parametrize("route", ROUTES)
def test_a_field_the_form_does_not_take_is_refused(cluster: Cluster, png: bytes, route: str) -> None:
    """An engine option sent as its own field (`layout=off`) was ignored without a word: now a 422 that
    says where engine options go; so is any other unknown field."""
    for field in ("layout", "orientation", "text_score", "Backend", "bogus", "file_name"):
        message = error(post(cluster, route, png, **{field: "off"}), 422, "invalid_request")
        assert repr(field) in message and "`options`" in message, message
        assert f'"{field}"' not in message  # no made-up option suggested (`pages` is no option)
    assert post(cluster, route, png, options='{"text_score": 0.5}').status_code == ACCEPTED[route]


@pytest.mark.parametrize("limit", ["0", "-1", "501", "many"])
def test_a_job_list_limit_out_of_range_is_refused(cluster: Cluster, limit: str) -> None:
    answer = httpx.get(f"{cluster.url}/v1/jobs", params={"limit": limit}, timeout=30)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_request", answer.text
    assert httpx.get(f"{cluster.url}/v1/jobs", params={"limit": "500"}, timeout=30).status_code == 200


def multipart(*parts: tuple[str, bytes]) -> tuple[bytes, str]:
    """A multipart body from (Content-Disposition, content) pairs, written as clients write them (the
    headers in UTF-8, as browsers send a file name)."""
    boundary = uuid.uuid4().hex
    body = b""
    for disposition, content in parts:
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def send(cluster: Cluster, route: str, *parts: tuple[str, bytes]) -> httpx.Response:
    body, content_type = multipart(*parts, ('form-data; name="backend"', b"noop"))
    return httpx.post(
        f"{cluster.url}{route}", content=body, headers={"content-type": content_type}, timeout=60
    )


def uploaded_name(response: httpx.Response, route: str) -> str:
    assert response.status_code == ACCEPTED[route], response.text[:500]
    body: dict[str, Any] = response.json()
    return str(body["image_name"] if route == "/v1/ocr" else body["name"])


def test_one_file_per_request(cluster: Cluster, png: bytes) -> None:
    route = "/v1/ocr"
    part = ('form-data; name="file"; filename="p.png"', png)
    for count in (2, 3):
        message = error(send(cluster, route, *[part] * count), 422, "invalid_request")
        assert "one file per request" in message
    named = ("form-data; name=\"file\"; filename*=UTF-8''q.png", png)
    assert "one file per request" in error(send(cluster, route, part, named), 422, "invalid_request")
    # a file under another name is not the document: refused, not silently dropped
    other = ('form-data; name="other"; filename="o.png"', png)
    assert "'other'" in error(send(cluster, route, other, part), 422, "invalid_request")


@pytest.mark.parametrize("route", ROUTES)
def test_a_malformed_form_is_a_400_that_says_what_is_wrong(cluster: Cluster, png: bytes, route: str) -> None:
    """Every way a multipart body can be broken is a 400 `bad_input` naming it, never a 500."""
    part = ('form-data; name="file"; filename="p.png"', png)
    body, content_type = multipart(part, ('form-data; name="backend"', b"noop"))

    def post(content: bytes, kind: str) -> httpx.Response:
        return httpx.post(
            f"{cluster.url}{route}", content=content, headers={"content-type": kind}, timeout=60
        )

    cut = post(body[: len(body) // 2], content_type)  # a client that stopped sending half way
    assert "ends before its closing boundary" in error(cut, 400, "bad_input")
    assert "names no boundary" in error(post(body, "multipart/form-data"), 400, "bad_input")
    garbage = error(post(b"not a form at all", content_type), 400, "bad_input")
    assert "malformed multipart form" in garbage and "boundary its Content-Type names" in garbage
    nameless = multipart(('form-data; filename="p.png"', png))
    assert "a part without a name" in error(post(*nameless), 400, "bad_input")
    many = multipart(part, *[(f'form-data; name="f{n}"', b"x") for n in range(33)])
    assert "more than 32 text fields" in error(post(*many), 422, "invalid_request")
    if route == "/v1/ocr":  # file parts past the one `file` and one stray (which `check_fields` names)
        stray = ('form-data; name="other"; filename="o.png"', png)
        assert "more than 2 file parts" in error(post(*multipart(stray, stray, stray)), 400, "bad_input")
    assert post(body, content_type).status_code == ACCEPTED[route]  # the same form, whole


def test_a_body_that_stops_coming_is_a_408_and_the_gateway_goes_on(tmp_path: Path, png: bytes) -> None:
    """A client that sends its headers and half its body, then nothing, gets a 408 `request_timeout`
    once `body_idle_timeout_s` passes without a byte, on each route, the form and a JSON body alike."""
    running = Cluster(tmp_path, {"noop": noop_backend()}, limits={"body_idle_timeout_s": 1.0}).start()
    try:
        body, content_type = multipart(('form-data; name="file"; filename="p.png"', png))
        json_body = json.dumps({"image": "A" * 4000}).encode()
        for route, content, kind in (
            ("/v1/ocr", body, content_type),
            ("/v1/jobs", body, content_type),
            ("/v1/ocr", json_body, "application/json"),
        ):
            with socket.create_connection(("127.0.0.1", running.port), timeout=30) as conn:
                head = f"POST {route} HTTP/1.1\r\nHost: gw\r\nContent-Type: {kind}\r\n"
                conn.sendall(
                    f"{head}Content-Length: {len(content)}\r\n\r\n".encode() + content[: len(content) // 2]
                )
                started = time.monotonic()
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
                    if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                        break
            assert 0.9 < time.monotonic() - started < 10, route
            status, _, rest = answer.partition(b"\r\n")
            assert b" 408 " in status, answer[:300]
            error_body = json.loads(rest.partition(b"\r\n\r\n")[2])
            assert (
                error_body["error"]["code"] == "request_timeout"
                and "1 s without a byte" in error_body["error"]["message"]
            )
        assert httpx.get(f"{running.url}/health", timeout=10).status_code == 200
    finally:
        assert running.stop() == []


def test_a_body_trickled_too_slowly_is_a_408(tmp_path: Path, png: bytes) -> None:
    """A client that keeps sending a few bytes now and then, never idle for `body_idle_timeout_s`, gets
    a 408 `request_timeout` once its body falls behind `body_min_rate_bytes_s` after that grace; a
    body sent at once is read as ever."""
    limits = {"body_idle_timeout_s": 1.0, "body_min_rate_bytes_s": 200.0}
    running = Cluster(tmp_path, {"noop": noop_backend()}, limits=limits).start()
    try:
        body, content_type = multipart(
            ('form-data; name="file"; filename="p.png"', png), ('form-data; name="backend"', b"noop")
        )
        with socket.create_connection(("127.0.0.1", running.port), timeout=30) as conn:
            head = f"POST /v1/ocr HTTP/1.1\r\nHost: gw\r\nContent-Type: {content_type}\r\n"
            conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode())
            started, answer, sent = time.monotonic(), b"", 0
            conn.settimeout(0.3)  # 10 bytes every 0.3 s: never idle, about 33 bytes a second
            while not (b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}")) and sent < len(body):
                conn.sendall(body[sent : sent + 10])
                sent += 10
                with contextlib.suppress(TimeoutError):
                    answer += conn.recv(65536)
        assert 1.0 < time.monotonic() - started < 10
        status, _, rest = answer.partition(b"\r\n")
        assert b" 408 " in status, answer[:300]
        message = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["message"]
        assert "came too slowly" in message and "200 bytes a second after the first 1 s" in message
        assert b"connection: close" in answer.lower()
        with socket.create_connection(("127.0.0.1", running.port), timeout=30) as conn:  # no byte of it
            conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode())
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
                if answer.rstrip().endswith(b"}"):
                    break
            assert conn.recv(65536) == b""  # closed: nothing it sends later is read as a next request
        assert b" 408 " in answer.partition(b"\r\n")[0] and b"1 s without a byte" in answer, answer[:300]
        assert b"connection: close" in answer.lower()
        whole = httpx.post(f"{running.url}/v1/ocr", content=body, headers={"content-type": content_type})
        assert whole.status_code == 200, whole.text
    finally:
        assert running.stop() == []


@pytest.mark.parametrize("route", ROUTES)
def test_a_field_sent_twice_is_refused(cluster: Cluster, png: bytes, route: str) -> None:
    """Which of two values would count is a guess: refused, as a second file is, not the last taken."""
    part = ('form-data; name="file"; filename="p.png"', png)
    again = send(cluster, route, part, ('form-data; name="backend"', b"noop"))  # `send` adds one
    message = error(again, 422, "invalid_request")
    assert "`backend` twice" in message and "comma-separated" in message
    boxes = ('form-data; name="boxes"', b"none")
    assert "`boxes` twice" in error(send(cluster, route, part, boxes, boxes), 422, "invalid_request")
    assert send(cluster, route, part, boxes).status_code == ACCEPTED[route]


def test_a_job_reads_several_files_as_one_set(cluster: Cluster, png: bytes) -> None:
    """A job's form may carry several `file` parts: one document of all their pages, each page named."""
    part = ('form-data; name="file"; filename="p.png"', png)
    named = ("form-data; name=\"file\"; filename*=UTF-8''q.png", png)
    answer = send(cluster, "/v1/jobs", part, named)
    assert answer.status_code == 202, answer.text
    assert answer.json()["page_count"] == 2 and answer.json()["page_names"] == ["p.png", "q.png"]


@pytest.mark.parametrize("route", ROUTES)
def test_file_names_are_decoded(cluster: Cluster, png: bytes, route: str) -> None:
    cases = {
        "form-data; name=\"file\"; filename*=UTF-8''%E2%82%AC%20r%C3%A9sum%C3%A9.png": "€ résumé.png",
        "form-data; name=\"file\"; filename*=utf-8''report%20%22final%22.png": 'report "final".png',
        "form-data; name=\"file\"; filename*=iso-8859-1'en'%E9t%E9.png": "été.png",
        'form-data; name="file"; filename="report %22final%22.png"': 'report "final".png',
        'form-data; name="file"; filename="two%0D%0Alines.png"': "two\r\nlines.png",
        'form-data; name="file"; filename="plain 100%.png"': "plain 100%.png",
        'form-data; name="file"; filename="fallback.png"; filename*=UTF-8\'\'%E2%82%AC.png': "€.png",
        'form-data; name="file"; filename*=UTF-8\'\'%E2%82%AC.png; filename="fallback.png"': "€.png",
        'form-data; name="file"; filename="r\u00e9sum\u00e9.png"': "résumé.png",
        # a client's folders are not part of the name (RFC 7578, 4.2): the last segment, either slash
        'form-data; name="file"; filename="C:\\scans\\a.png"': "a.png",
        'form-data; name="file"; filename="/home/me/scans/b.png"': "b.png",
        'form-data; name="file"; filename="../../c.png"': "c.png",
        "form-data; name=\"file\"; filename*=UTF-8''d%2Fe%5Cf.png": "f.png",
        'form-data; name="file"; filename="D:g.png"': "g.png",  # a drive without a folder
        'form-data; name="file"; filename=".."': "upload",  # a step, not a name
        'form-data; name="file"; filename="x.png"; filename*=UTF-8\'\'': "x.png",  # an empty filename*
    }
    seen = {}
    for disposition, expected in cases.items():
        seen[disposition] = uploaded_name(send(cluster, route, (disposition, png)), route)
        assert seen[disposition] == expected, (disposition, seen[disposition])
    assert "file part" in error(send(cluster, route, ('form-data; name="file"', png)), 422, "invalid_request")
    if route == "/v1/jobs":
        write_report("request_fields_names", seen)


def test_the_options_limits_are_in_the_limits_answer(cluster: Cluster, tmp_path: Path) -> None:
    limits = httpx.get(f"{cluster.url}/v1/limits", timeout=10).json()
    assert limits["max_field_bytes"] == LIMITS.max_field_bytes
    assert (limits["max_options_bytes"], limits["max_options_depth"]) == (16 * 1024, 32)


def test_a_body_that_is_not_a_form_is_named_in_the_answer(cluster: Cluster, png: bytes) -> None:
    body, content_type = multipart(('form-data; name="file"; filename="p.png"', png))
    for route in ROUTES:
        for kind in (content_type.replace("form-data", "mixed"), "text/plain", "application/octet-stream"):
            headers = {"content-type": kind}
            answer = httpx.post(f"{cluster.url}{route}", content=body, headers=headers, timeout=60)
            message = error(answer, 400, "bad_input")
            assert f"the body is `{kind.split(';')[0]}`, not a form" in message
            assert "multipart/form-data" in message


def test_a_json_body_names_its_file_as_a_form_does(cluster: Cluster, png: bytes) -> None:
    """The seed's JSON body and Mistral's `document_name` leave a client's folders out of the name too."""
    image = base64.b64encode(png).decode()
    for sent, expected in (("../../c.png", "c.png"), ("C:\\scans\\a.png", "a.png"), ("..", "upload")):
        seed = {"image": image, "backend": "noop", "filename": sent}
        answer = httpx.post(f"{cluster.url}/v1/ocr", json=seed, timeout=60)
        assert answer.status_code == 200, answer.text[:300]
        assert answer.json()["image_name"] == expected, sent
