"""`ocrgate eval`'s exit code, run as a child process: 2 for a usage error found before any page is read,
1 when no page could be evaluated, 0 when some were (the failed ones named on stderr).

The gateway is a real `ocrgate gateway` on loopback that asks for an API key and has no worker running:
it answers the key check and the backend names itself, and fails every page it is sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.evaluate.conftest import subset_manifest
from tests.gateway.cluster import REPO, free_ports, write_config
from tests.helpers import ocrgate_cli

KEY = "eval-exit-key"


def run_eval(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`ocrgate eval ARGS` without any OCRGATE_ variable of this environment (plus `env`)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OCRGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "ocrgate", "eval", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**clean, **(env or {})},
    )


@pytest.fixture(scope="module")
def page(eval_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A manifest of one real page (tess_phototest)."""
    return subset_manifest(eval_dir, ("tess_phototest",), tmp_path_factory.mktemp("one"))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("gateway")
    port = free_ports(1)
    config = write_config(
        folder / "ocrgate.toml",
        {"gateway": {"port": port, "api_keys": [KEY], "data_dir": str(folder / "data")}},
    )
    with (folder / "gateway.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ocrgate", "gateway", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert process.poll() is None, (folder / "gateway.log").read_text()
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_an_unknown_backend_is_a_usage_error_before_any_page(page: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run_eval("--manifest", str(page), "--backends", "tesseract,nosuch", "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: unknown backend 'nosuch'; known backends: {', '.join(known_backends())}"
    ]
    assert not out.exists()  # nothing ran


def known_backends() -> list[str]:
    from ocrgate.backends import registry

    return registry.names()


def test_a_gateway_that_needs_a_key_stops_the_run(gateway: str, page: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ("--manifest", str(page), "--backends", "rapidocr", "--via", gateway, "--out", str(out))
    no_key = run_eval(*args)
    assert no_key.returncode == 1, no_key.stderr
    assert "refused the request: missing or invalid API key" in no_key.stderr
    assert "--api-key or OCRGATE_API_KEY" in no_key.stderr and not out.exists()

    unknown = run_eval(*args[:3], "nosuch", *args[4:], env={"OCRGATE_API_KEY": KEY})
    assert unknown.returncode == 2, unknown.stderr
    assert "unknown backend 'nosuch'; this gateway serves" in unknown.stderr and not out.exists()

    # the key (from the environment, as `ocrgate ocr` takes it) is right, but no worker reads the page
    no_worker = run_eval(*args, env={"OCRGATE_API_KEY": KEY})
    assert no_worker.returncode == 1, no_worker.stderr
    assert "failed: rapidocr: 1 of 1 pages failed (backend_unavailable ×1)" in no_worker.stderr
    assert "no page could be evaluated: all 1 failed" in no_worker.stderr
    (record,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert not record["ok"] and record["cause"] == "backend_unavailable"
    assert (out / "report.html").is_file()  # the report still says what happened


def test_some_pages_evaluated_exits_0_and_names_the_failures(
    eval_dir: Path, phototest: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data" / "scans"
    data.mkdir(parents=True)
    truth = (eval_dir / "tesseract_test" / "gt" / "phototest.txt").read_text(encoding="utf-8")
    raw = phototest.read_bytes()
    for name, content in (("photo.png", raw), ("cut.png", raw[: len(raw) // 2])):  # cut: undecodable
        (data / name).write_bytes(content)
        (data / name).with_suffix(".txt").write_text(truth, encoding="utf-8")
    out = tmp_path / "run"
    done = ocrgate_cli(
        "eval", "--manifest", str(tmp_path / "data"), "--backends", "tesseract", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "failed: tesseract: 1 of 2 pages failed (corrupt_file ×1)" in done.stderr
    records = {r["page_id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert records["scans__photo"]["ok"] and records["scans__photo"]["cer"] <= 0.05
    assert not records["scans__cut"]["ok"]
