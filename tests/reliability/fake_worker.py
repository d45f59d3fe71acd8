"""A worker that answers whatever bytes it is given: a buggy or compromised worker, on loopback.

It is healthy for the gateway's health checks and answers every page with the next of its `answers`
(status 200, JSON content type), so a test decides exactly what the gateway reads back. It keeps the
`X-Request-ID` of every page it was sent (`request_ids`).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEALTH = {"status": "healthy", "model_loaded": True, "backend": "noop", "pid": 0}
INFO = {
    "backend": "noop",
    "ocrgate_version": "test",
    "options_schema": {"type": "object"},
    "limits": {},
}


class FakeWorker:
    def __init__(self, answers: list[bytes]) -> None:
        cycle: Iterator[bytes] = itertools.cycle(answers)
        lock = threading.Lock()
        self.request_ids: list[str | None] = []
        seen = self.request_ids

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply(json.dumps(INFO if self.path.startswith("/v1/info") else HEALTH).encode())

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    body = next(cycle)
                    seen.append(self.headers.get("X-Request-ID"))
                self._reply(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeWorker:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
