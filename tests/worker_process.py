"""One real `ocrgate worker` process on loopback for tests: its config file, its log, a clean stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.cluster import REPO, free_ports, write_config


class WorkerProcess:
    """`ocrgate worker --backend NAME` with `[backends.NAME]` = `section`; use as a context manager."""

    def __init__(self, tmp: Path, backend: str, section: dict[str, Any] | None = None) -> None:
        self.backend = backend
        self.port = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = write_config(tmp / f"{backend}-worker.toml", {f"backends.{backend}": section or {}})
        self.log_path = tmp / f"{backend}-worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 90) -> dict[str, Any]:
        """Start the worker and wait until `/health` is past `loading`; that answer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCRGATE_")}
        env["OCRGATE_CONFIG"] = str(self.config)
        command = [sys.executable, "-m", "ocrgate", "worker", "--backend", self.backend]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the worker exited: {self.log()}"
            try:
                health = httpx.get(f"{self.url}/health", timeout=2).json()
                if health["status"] != "loading":
                    return health
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.3)
        raise TimeoutError(f"worker not ready after {timeout_s} s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
