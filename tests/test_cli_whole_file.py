"""`ocrgate ocr` runs the same flow as the gateway: a whole-file engine gets the original PDF.

MinerU's server is the protocol fake of `mineru-api` (tests/fakes/mineru_api.py: it knows the
recorded PDF by its bytes and fails any upload it does not know, such as a rasterised page).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.cluster import free_ports, write_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mineru_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_ports(1)
    log = (tmp_path_factory.mktemp("mineru") / "mineru-api.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.mineru_api", "--port", str(port), "--seconds-per-page", "0.05"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_cli_sends_the_whole_pdf_to_mineru(mineru_api: str, tmp_path: Path, multipage_pdf: Path) -> None:
    config = write_config(
        tmp_path / "ocrgate.toml",
        {"backends.mineru": {"options": {"engine": "api", "url": mineru_api, "tier": "standard"}}},
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "ocrgate", "ocr", str(multipage_pdf)),
            *("--backend", "mineru", "--config", str(config), "--boxes", "none"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    response = json.loads(done.stdout)
    assert response["backend"] == "mineru"
    assert [p["index"] for p in response["pages"]] == list(range(5))
    assert all(p["blocks"] and p["markdown"] for p in response["pages"])
    assert response["timings"]["ocr"] > 0
