"""A gateway in this process, in front of workers that already run: it serves one request and one job
per configured backend, then prints what it answered and which `ocrgate` modules this process
imported, as one JSON object on stdout.

    python -m tests.gateway.import_probe CONFIG PORT DATA_DIR PAGE
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from ocrgate.client import OCRGateClient
from ocrgate.config import load_settings
from ocrgate.gateway.app import create_gateway_app


def main(config: str, port: int, data_dir: str, page: str) -> None:
    settings = load_settings(config)
    settings.gateway.data_dir = Path(data_dir)
    server = uvicorn.Server(
        uvicorn.Config(create_gateway_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).json()["status"] == "healthy":
                break
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    answers: dict[str, object] = {}
    with OCRGateClient(url, timeout=120) as client:
        for name in settings.backends:
            response = client.ocr(Path(page), backend=name, boxes="none")
            job = client.submit_job(Path(page), name)
            final = client.wait_job(job.id)
            answers[name] = {"ocr": bool(response.markdown), "job": bool(final.markdown)}
    server.should_exit = True
    thread.join(timeout=10)
    modules = sorted(m for m in sys.modules if m.startswith("ocrgate"))
    print(json.dumps({"answers": answers, "modules": modules}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
