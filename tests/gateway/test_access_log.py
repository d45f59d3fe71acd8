"""`[gateway] access_log`: one line per answer on `ocrgate.access`, with the request id, so a refused
upload leaves a trace in the gateway's log; off by default. Real `ocrgate serve`, its real log."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import noop_backend


def log_text(cluster: Cluster, needle: str, timeout_s: float = 10) -> str:
    """The cluster's log once it holds `needle` (log lines reach the file a little after the answer)."""
    deadline = time.monotonic() + timeout_s
    while True:
        cluster.log.flush()
        text = Path(cluster.log.name).read_text(errors="replace")
        if needle in text or time.monotonic() > deadline:
            return text


def test_each_answer_is_one_line_with_its_status_and_request_id(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, {"noop": noop_backend()}, gateway={"access_log": True}).start()
    try:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), "white").save(buffer, format="PNG")
        data = buffer.getvalue()
        refused = httpx.post(
            f"{cluster.url}/v1/ocr",
            files={"file": ("p.png", data)},
            data={"backend": "noop", "layout": "yes"},  # not a field of the form: 422
            headers={"X-Request-ID": "trial-422"},
            timeout=30,
        )
        assert refused.status_code == 422
        read = httpx.post(
            f"{cluster.url}/v1/ocr",
            files={"file": ("p.png", data)},
            data={"backend": "noop"},
            headers={"X-Request-ID": "trial-200"},
            timeout=30,
        )
        assert read.status_code == 200, read.text[:300]
        httpx.get(f"{cluster.url}/health%0Aforged", timeout=10)  # a line break in the path
        text = log_text(cluster, "forged")
        line = r'ocrgate\.access: 127\.0\.0\.1:\d+ "POST /v1/ocr" {} [\d.]+ ms request_id={}'
        assert re.search(line.format(422, "trial-422"), text), text[-2000:]
        assert re.search(line.format(200, "trial-200"), text), text[-2000:]
        assert '"GET /health\\nforged" 404' in text and "\nforged" not in text
    finally:
        assert cluster.stop() == []


def test_off_by_default(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, {"noop": noop_backend()}).start()
    try:
        assert httpx.get(f"{cluster.url}/health", timeout=10).status_code == 200
        time.sleep(0.5)
        cluster.log.flush()
        assert "ocrgate.access" not in Path(cluster.log.name).read_text(errors="replace")
    finally:
        assert cluster.stop() == []
