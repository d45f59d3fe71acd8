"""deploy/ray/serve.yaml names builders that really build the applications from the TOML config."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import yaml

from tests.gateway.cluster import REPO

serve = pytest.importorskip("ray.serve", reason="Ray is an optional extra (ocrgate[ray])")


def test_committed_serve_yaml_builds_every_application() -> None:
    document = yaml.safe_load((REPO / "deploy/ray/serve.yaml").read_text())
    assert document["proxy_location"] == "EveryNode"
    names = [app["name"] for app in document["applications"]]
    assert names == ["worker-rapidocr", "worker-tesseract", "ocrgate"]
    for app in document["applications"]:
        module, _, attr = app["import_path"].partition(":")
        builder = getattr(importlib.import_module(module), attr)
        args = {**app["args"], "config": str(REPO / "deploy/ray/ocrgate.toml")}
        assert isinstance(builder(args), serve.Application)
    secrets = {app["args"]["worker_secret"] for app in document["applications"]}
    assert len(secrets) == 1, "workers and gateway must share one secret"


def test_cli_writes_the_same_structure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "serve.yaml"
    config = REPO / "deploy/ray/ocrgate.toml"
    cmd = [sys.executable, "-m", "ocrgate", "serve", "--engine", "ray", "--config", str(config)]
    subprocess.run([*cmd, "--serve-config", str(out)], check=True, cwd=REPO)
    written = yaml.safe_load(out.read_text())
    committed = yaml.safe_load((REPO / "deploy/ray/serve.yaml").read_text())
    assert [a["import_path"] for a in written["applications"]] == [
        a["import_path"] for a in committed["applications"]
    ]
    assert written["applications"][0]["args"]["config"] == str(config.resolve())
