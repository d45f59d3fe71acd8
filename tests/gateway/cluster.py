"""A real `ocrgate serve` on loopback for tests: config file, processes, readiness, clean stop."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections (Linux's default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports, outside the ephemeral range: a port found
    free there can be taken, before the server binds it, by any outgoing connection (a gateway's to
    its database or workers) and stay taken as long as that connection lives."""
    low, high = ephemeral_ports()
    choices = [p for p in range(20000, 65000 - count) if p + count <= low or p > high] or list(
        range(20000, 60000 - count)
    )
    for _ in range(200):
        base = random.choice(choices)
        if all(_port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free ports")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + "}"
    return str(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Cluster:
    """`ocrgate serve --config ...` as a child process, torn down without leaving orphans."""

    def __init__(
        self,
        tmp: Path,
        backends: dict[str, dict[str, Any]],
        gateway: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
    ) -> None:
        self.serve_args: tuple[str, ...] = ()  # more options for `ocrgate serve`, after `--config`
        ports = free_ports(1 + sum(b.get("replicas", 1) for b in backends.values()))
        self.port = ports
        self.url = f"http://127.0.0.1:{ports}"
        next_port = ports + 1
        sections: dict[str, dict[str, Any]] = {
            "gateway": {"port": ports, "data_dir": str(tmp / "data"), **(gateway or {})},
            "limits": limits or {},
        }
        for name, values in backends.items():
            sections[f"backends.{name}"] = {"port": next_port, **values}
            next_port += values.get("replicas", 1)
        self.config = write_config(tmp / "ocrgate.toml", sections)
        self.log = (tmp / "serve.log").open("wb")
        self.process: subprocess.Popen[bytes] | None = None
        self.expected = list(backends)
        keys = (gateway or {}).get("api_keys") or []
        self.headers = {"X-API-Key": keys[0]} if keys else {}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "ocrgate", "serve", "--config", str(self.config), *self.serve_args]

    def environment(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("OCRGATE_")}

    def start(self, timeout_s: float = 90) -> Cluster:
        self.process = subprocess.Popen(
            self.command(), stdout=self.log, stderr=subprocess.STDOUT, env=self.environment(), cwd=REPO
        )
        self.wait_healthy(timeout_s)
        return self

    def wait_healthy(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, "ocrgate serve exited"
            try:
                health = httpx.get(f"{self.url}/health", timeout=2).json()
                if all(health["backends"].get(name) for name in self.expected):
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.3)
        raise TimeoutError(f"cluster not healthy after {timeout_s} s; see {self.log.name}")

    def ended_job(self, job_id: str, timeout_s: float = 300) -> dict[str, Any]:
        """The job's status once it has ended (completed, failed or cancelled), polled every 0.5 s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = httpx.get(f"{self.url}/v1/jobs/{job_id}", headers=self.headers, timeout=10).json()
            if job["status"] in ("completed", "failed", "cancelled"):
                return job
            time.sleep(0.5)
        raise TimeoutError(job_id)

    def page_events(self, job_id: str) -> list[dict[str, Any]]:
        """The data of each `page` event on the job's event stream, until its `job` event (for a job
        that has ended: its pages replayed)."""
        pages = []
        with httpx.stream(
            "GET", f"{self.url}/v1/jobs/{job_id}/events", headers=self.headers, timeout=30
        ) as answer:
            event = ""
            for line in answer.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "page":
                    pages.append(json.loads(line[5:]))
                elif line.startswith("data:") and event == "job":
                    break
        return pages

    def workers(self) -> dict[str, list[dict[str, Any]]]:
        """Each backend's workers as the gateway sees them, with their /health answers."""
        backends = httpx.get(f"{self.url}/v1/backends", headers=self.headers, timeout=5).json()
        return {b["name"]: b["workers"] for b in backends}

    def answering_workers(self, timeout_s: float = 60) -> dict[str, list[dict[str, Any]]]:
        """`workers` once every one of them has answered the gateway's health check: the cluster is
        healthy as soon as one worker per backend is, while its other replicas may still be loading."""
        deadline = time.monotonic() + timeout_s
        while True:
            workers = self.workers()
            if all(w["health"] for ws in workers.values() for w in ws) or time.monotonic() > deadline:
                return workers
            time.sleep(0.3)

    def worker_pids(self) -> list[int]:
        return [w["health"]["pid"] for ws in self.workers().values() for w in ws if w["health"]]

    def stop(self) -> list[int]:
        """SIGTERM the launcher; returns the worker pids that are still alive afterwards."""
        pids = []
        if self.process and self.process.poll() is None:
            try:
                pids = self.worker_pids()
            except Exception:  # whatever the gateway answers, the launcher must still be stopped
                pids = []
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        time.sleep(0.2)
        return [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"
