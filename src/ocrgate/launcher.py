"""`ocrgate serve`: start every worker and the gateway, watch them, restart the fallen, stop cleanly.

Each worker is its own process, started from its backend's python (its own virtualenv) with its GPU
pinned through CUDA_VISIBLE_DEVICES. Children die with the launcher (PR_SET_PDEATHSIG), so even a
`kill -9` of the launcher leaves no orphans. Ctrl-C / SIGTERM stops them in stages, each once the one
before has exited: the gateway (which answers the requests in flight within `[gateway] shutdown_grace_s`),
then the workers, then the model servers.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx

from ocrgate.config import CONFIG_ENV, BackendConfig, Settings

log = logging.getLogger("ocrgate.launcher")
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
#: how long a stopping child may take to exit before it is killed (seconds; the gateway gets its
#: `shutdown_grace_s` more)
STOP_GRACE_S = 10.0
#: the order children are stopped in, by kind: no worker stops while the gateway may still use it
STOP_ORDER = ("gateway", "worker", "model server")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    health_url: str
    #: a model server is ready on any 200 from its health URL; our own processes say `status`
    model_server: bool = False
    start_timeout_s: float = 120.0
    #: `gateway`, `worker` or `model server` (`STOP_ORDER`)
    kind: str = "worker"
    #: seconds it may take to exit once terminated, before it is killed
    stop_timeout_s: float = STOP_GRACE_S
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 1.0
    next_start: float = 0.0
    log_lines: list[str] = field(default_factory=list)

    def start(self) -> None:
        log.info("starting %s: %s", self.name, " ".join(self.argv))
        self.process = subprocess.Popen(
            self.argv, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _gpu_of(backend: BackendConfig, replica: int) -> str:
    return (backend.gpus[replica % len(backend.gpus)] if backend.gpus else backend.gpu) or ""


def server_children(settings: Settings) -> list[Child]:
    """Each backend's own model server, pinned to the backend's (first) GPU."""
    children = []
    for name, backend in settings.backends.items():
        server = backend.server
        if not backend.enabled or server is None:
            continue
        gpu = _gpu_of(backend, 0)
        env = {**os.environ, **server.env, "CUDA_VISIBLE_DEVICES": gpu}
        children.append(
            Child(
                f"model server {name} :{server.port} gpu={gpu or '-'}",
                server.argv(backend.python or sys.executable),
                env,
                server.url + server.health_path,
                model_server=True,
                start_timeout_s=server.start_timeout_s,
                kind="model server",
            )
        )
    return children


def worker_children(settings: Settings, config_path: str | None) -> list[Child]:
    children = []
    for name, backend in settings.backends.items():
        if not backend.enabled or backend.urls or backend.port is None:
            continue  # remote workers are someone else's to run
        for replica in range(backend.replicas):
            port = backend.port + replica
            gpu = _gpu_of(backend, replica)
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
            if config_path:
                env[CONFIG_ENV] = config_path
            argv = [
                backend.python or sys.executable,
                "-m",
                "ocrgate",
                "worker",
                "--backend",
                name,
                "--host",
                backend.host,
                "--port",
                str(port),
                "--gpu",
                gpu,
            ]
            children.append(
                Child(
                    f"worker {name}#{replica} :{port} gpu={gpu or '-'}",
                    argv,
                    env,
                    f"http://{backend.host}:{port}/health",
                )
            )
    return children


def gateway_child(settings: Settings, config_path: str | None) -> Child:
    env = dict(os.environ)
    if config_path:
        env[CONFIG_ENV] = config_path
    gateway = settings.gateway
    argv = [sys.executable, "-m", "ocrgate", "gateway", "--host", gateway.host, "--port", str(gateway.port)]
    health_url = f"http://{gateway.host}:{gateway.port}/health"
    stop_timeout_s = gateway.shutdown_grace_s + STOP_GRACE_S
    return Child("gateway", argv, env, health_url, kind="gateway", stop_timeout_s=stop_timeout_s)


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stopping = threading.Event()

    def wait_ready(self, child: Child) -> bool:
        """True once the child answers its health URL (any answer: a worker may report unhealthy)."""
        deadline = time.monotonic() + child.start_timeout_s
        while time.monotonic() < deadline and not self.stopping.is_set():
            if not child.alive():
                return False
            try:
                response = httpx.get(child.health_url, timeout=2)
                if child.model_server and response.status_code == 200:
                    return True
                if not child.model_server and response.json().get("status") != "loading":
                    return True
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        return False

    def start_all(self) -> None:
        for child in self.children:
            child.start()
        for child in self.children:
            if self.wait_ready(child):
                log.info("%s ready", child.name)
            else:
                log.warning("%s did not become ready", child.name)

    def watch(self, interval_s: float = 0.5) -> None:
        while not self.stopping.wait(interval_s):
            now = time.monotonic()
            for child in self.children:
                if child.alive():
                    if now - child.started_at > STABLE_AFTER_S:
                        child.backoff_s = 1.0
                    continue
                if child.next_start == 0.0:
                    code = child.process.returncode if child.process else None
                    child.next_start = now + child.backoff_s
                    log.warning(
                        "%s exited (code %s); restarting in %.0f s", child.name, code, child.backoff_s
                    )
                    child.backoff_s = min(BACKOFF_MAX_S, child.backoff_s * 2)
                elif now >= child.next_start:
                    child.next_start = 0.0
                    child.restarts += 1
                    child.start()

    def stop(self) -> None:
        """Stop every child, kind by kind in `STOP_ORDER`, each kind once the one before has exited."""
        self.stopping.set()
        for kind in STOP_ORDER:
            self._stop_all([c for c in self.children if c.kind == kind and c.process is not None])

    @staticmethod
    def _stop_all(children: list[Child]) -> None:
        """SIGTERM the children, wait up to their `stop_timeout_s` for them to exit, SIGKILL the rest."""
        running = [c for c in children if c.alive()]
        if running:
            log.info("stopping %s", ", ".join(c.name for c in running))
        for child in running:
            assert child.process is not None
            child.process.terminate()
        deadline = time.monotonic() + max((c.stop_timeout_s for c in children), default=0.0)
        for child in children:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not exit within %.0f s: killed", child.name, child.stop_timeout_s)
                child.process.kill()
                child.process.wait()
            if child in running:
                log.info("%s exited (%s)", child.name, _exit_status(child.process.returncode))


def _exit_status(code: int) -> str:
    """`code 0`, `on SIGTERM` (uvicorn ends by raising the signal it stopped on), `on SIGKILL`, ..."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"on {signal.Signals(-code).name}"
    return f"code {code}"


def serve(settings: Settings, config_path: str | None) -> None:
    """Run until Ctrl-C or SIGTERM."""
    supervisor = Supervisor(
        [
            *server_children(settings),
            *worker_children(settings, config_path),
            gateway_child(settings, config_path),
        ]
    )

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        supervisor.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        supervisor.start_all()
        gateway = settings.gateway
        log.info("gateway on http://%s:%d (API docs at /docs)", gateway.host, gateway.port)
        supervisor.watch()
    finally:
        supervisor.stop()
