"""The gateway's HTTP calls to a worker (`gateway.forward`) against real servers on loopback: a whole
file's NDJSON answer read however its lines are cut, the failures a pool must tell apart (a worker
gone, a worker too slow) typed as such, and the request id sent with every call."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from ocrgate.documents import Document, open_document
from ocrgate.errors import BackendUnavailable, Timeout
from ocrgate.gateway.forward import WorkerClient, WorkerConnections
from ocrgate.schema import Block, PageResult
from tests.gateway.cluster import free_ports
from tests.gateway.file_server import serving

SAMPLE_PAGE = Path(__file__).resolve().parents[2] / "src" / "ocrgate" / "samples" / "sample_page.png"
PAGES = 40
WORDS_PER_PAGE = 2_000  # the last line of the answer is then several megabytes


def whole_file_answer() -> list[bytes]:
    """A worker's NDJSON answer to a whole file: progress lines, then every page on one long line."""
    pages = [
        PageResult(
            index=i,
            width=1000,
            height=1000,
            blocks=[
                Block(text=f"word{w} of page {i}", bbox=(0, w % 900, 100, w % 900 + 10))
                for w in range(WORDS_PER_PAGE)
            ],
        )
        for i in range(PAGES)
    ]
    progress = [json.dumps({"done": i + 1, "total": PAGES}).encode() + b"\n" for i in range(PAGES)]
    final = json.dumps({"pages": [p.model_dump(mode="json") for p in pages]}).encode() + b"\n"
    return [*progress, final]


@pytest.fixture
async def client() -> AsyncIterator[WorkerClient]:
    connections = WorkerConnections(8)
    await connections.open()
    yield WorkerClient("noop", connections, secret=None)
    await connections.close()


@pytest.fixture
def document() -> Iterator[Document]:
    opened = open_document(SAMPLE_PAGE.read_bytes(), "page.png")  # its page goes as the file's own bytes
    yield opened
    opened.close()


class Quiet(BaseHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass


class Streaming(Quiet):
    """Answers `POST /v1/ocr/file` with `whole_file_answer`, written in small pieces that cut lines
    anywhere (HTTP/1.0: the body ends when the connection closes)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "application/x-ndjson")
        self.end_headers()
        body = b"".join(whole_file_answer())
        for start in range(0, len(body), 7_919):  # a prime: pieces end mid-line and mid-character
            self.wfile.write(body[start : start + 7_919])
            self.wfile.flush()


class Slow(Quiet):
    """Takes a page and answers nothing for two seconds."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        time.sleep(2)


class Recording(Quiet):
    """Answers a page with an empty result and a file with its pages, keeping each call's request id."""

    seen: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.seen.append(self.headers.get("X-Request-ID"))
        page = {"index": 0, "width": 1, "height": 1, "blocks": []}
        body = json.dumps({"pages": [page]} if self.path.startswith("/v1/ocr/file") else page).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def test_a_whole_file_answer_is_read_whatever_its_lines_are_cut_into(
    client: WorkerClient, document: Document
) -> None:
    seen: list[tuple[int, int]] = []
    with serving(Streaming) as url:
        pages = await client.file(url, document, {}, timeout_s=30, progress=lambda d, t: seen.append((d, t)))
    assert [p.index for p in pages] == list(range(PAGES))
    assert all(len(p.blocks) == WORDS_PER_PAGE for p in pages)
    assert pages[-1].blocks[-1].text == f"word{WORDS_PER_PAGE - 1} of page {PAGES - 1}"
    assert seen == [(i + 1, PAGES) for i in range(PAGES)]


async def test_a_worker_gone_or_too_slow_is_told_apart(client: WorkerClient, document: Document) -> None:
    page = document.page(0)
    with pytest.raises(BackendUnavailable, match="unreachable"):
        await client.page(f"http://127.0.0.1:{free_ports(1)}", page, {}, timeout_s=5)
    with serving(Slow) as url:
        started = time.monotonic()
        with pytest.raises(Timeout, match=r"longer than 0\.5 s"):
            await client.page(url, page, {}, timeout_s=0.5)
        assert time.monotonic() - started < 1.5


async def test_the_request_id_goes_with_every_call(client: WorkerClient, document: Document) -> None:
    with serving(Recording) as url:
        await client.page(url, document.page(0), {}, timeout_s=5, request_id="page-call-1")
        await client.file(url, document, {}, timeout_s=5, request_id="file-call-2")
        await client.page(url, document.page(0), {}, timeout_s=5)
    assert Recording.seen == ["page-call-1", "file-call-2", None]
