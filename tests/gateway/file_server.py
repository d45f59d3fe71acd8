"""A real HTTP server on loopback that serves documents for URL-fetching tests.

`/docs/...` is the part a test allows; `/private/...` is not. Beside the page itself it serves the
awkward answers a fetcher must survive: redirects in and out of `/docs/`, a redirect loop, bodies
over a small limit (declared, or chunked with no length), a body that trickles in, a 404.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class _Handler(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        # the client may stop reading: that is what the limits are for
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route(self.path)

    def _route(self, path: str) -> None:
        redirects = {
            "/docs/hop": "/docs/page.png",
            "/docs/out": "/private/page.png",
            "/docs/loop": "/docs/loop",
        }
        if path in redirects:
            self._answer(302, b"", {"Location": redirects[path]})
        elif path.startswith(("/docs/", "/private/")) and path.rsplit("/", 1)[-1] in self.files:
            self._answer(200, self.files[path.rsplit("/", 1)[-1]])
        elif path == "/docs/big-declared":
            self._answer(200, b"x" * 2048)
        elif path == "/docs/big-streamed":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(4):
                self.wfile.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/docs/slow":
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            for _ in range(10):
                time.sleep(0.5)
                self.wfile.write(b"x")
                self.wfile.flush()
        else:
            self._answer(404, b"no such file")

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def file_server(files: dict[str, bytes]) -> Iterator[str]:
    """Serve `files` (name -> bytes) under `/docs/<name>` and `/private/<name>`; yields the base URL."""
    with serving(type("FilesHandler", (_Handler,), {"files": dict(files)})) as url:
        yield url


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server with `handler` on a free loopback port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
