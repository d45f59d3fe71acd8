"""Whether each backend's environment is present: `ocrgate backends`, a worker's /health and
`GET /v1/backends` say what is missing (python, server command, engine, model directory) and why."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ocrgate.cli import app
from tests.gateway.cluster import Cluster, write_config
from tests.worker_process import WorkerProcess


def _backends(config: Path) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(app, ["backends", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {row["backend"]: row for row in rows}


def _failed(row: dict[str, Any]) -> dict[str, str]:
    return {check["what"]: check["detail"] for check in row["checks"] if not check["ok"]}


def test_unconfigured_heavy_backends_are_not_available() -> None:
    """On a machine with neither environment: no vLLM server for DeepSeek-OCR, no MinerU server."""
    rows = {}
    result = CliRunner().invoke(app, ["backends", "--json"], env={"OCRGATE_CONFIG": ""})
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        row = json.loads(line)
        rows[row["backend"]] = row
    assert rows["rapidocr"]["available"]
    assert not rows["deepseek-ocr"]["available"] and "url" in _failed(rows["deepseek-ocr"])["engine"]
    assert not rows["mineru"]["available"] and "server" in _failed(rows["mineru"])["engine"]


def test_the_table_shows_the_config_keys_of_its_hints() -> None:
    """The table view prints a reason's `[backends.x.options]` as it is (rich would take it as markup)."""
    result = CliRunner().invoke(app, ["backends"], env={"OCRGATE_CONFIG": "", "COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "[backends.deepseek-ocr.options]" in result.stdout, result.stdout


def test_configured_paths_are_checked(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    config = write_config(
        tmp_path / "ocrgate.toml",
        {
            "backends.rapidocr": {"port": 5002},
            "backends.deepseek-ocr": {"port": 5000},
            "backends.deepseek-ocr.options": {"engine": "transformers", "model": str(tmp_path / "no-model")},
            "backends.mineru": {"port": 5001, "python": str(tmp_path / "no-venv" / "bin" / "python")},
            "backends.mineru.options": {"engine": "api"},
            "backends.mineru.server": {"command": ["{python}", "-m", "mineru"], "port": 8001},
        },
    )
    rows = _backends(config)
    assert rows["rapidocr"]["available"] and rows["rapidocr"]["configured"]
    deepseek = _failed(rows["deepseek-ocr"])
    assert (
        list(deepseek) == ["model directory"] and "no-model is not a directory" in deepseek["model directory"]
    )
    mineru = _failed(rows["mineru"])
    assert "no-venv/bin/python does not exist" in mineru["python"]
    assert "does not exist" in mineru["server command"]
    (tmp_path / "no-model").mkdir()
    assert "has no config.json" in _failed(_backends(config)["deepseek-ocr"])["model directory"]


def test_a_backend_is_checked_in_its_own_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `python` other than this one runs the backend's own checks (`ocrgate probe-environment`)."""
    other = tmp_path / "venv" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.symlink_to(sys.executable)
    config = write_config(
        tmp_path / "ocrgate.toml",
        {
            "backends.rapidocr": {"port": 5002, "python": str(other)},
            "backends.tesseract": {"port": 5003, "python": str(other)},
            "backends.tesseract.options": {"tesseract_cmd": str(tmp_path / "no-tesseract")},
        },
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [*sys.path, os.environ.get("PYTHONPATH")])))
    rows = _backends(config)
    assert rows["rapidocr"]["available"] and rows["rapidocr"]["python"] == str(other)
    assert "no-tesseract" in _failed(rows["tesseract"])["engine"]


def test_worker_and_gateway_report_the_environment(tmp_path: Path) -> None:
    section = {"options": {"tesseract_cmd": str(tmp_path / "no-tesseract")}}
    with WorkerProcess(tmp_path, "tesseract", section) as worker:
        health = worker.start()
        failed = {c["what"]: c["detail"] for c in health["environment"] if not c["ok"]}
        assert "no-tesseract" in failed["engine"]
    (tmp_path / "gw").mkdir()
    cluster = Cluster(tmp_path / "gw", {"rapidocr": {"options": {"threads": 1}}})
    try:
        cluster.start(120)
        [rapidocr] = httpx.get(f"{cluster.url}/v1/backends", timeout=10).json()
        environment = rapidocr["environment"]
        assert environment["present"] and environment["reason"] is None
        assert {c["what"] for c in environment["checks"]} == {"python", "engine"}
    finally:
        cluster.stop()
