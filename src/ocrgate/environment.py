"""Whether a backend's environment is present here: its python, its model server's command, its model.

Two halves, so that the gateway never imports a backend's code:
- `config_checks(config)`: what the config names (the backend's virtualenv python, the command of the
  model server the launcher starts), checked as files or on PATH by whoever reads the config: the
  gateway (`GET /v1/backends`, `environment`) and `ocrgate backends`;
- `Backend.environment()`: what only the backend's own python can tell (its packages, its binary,
  its model directory), reported by its workers in `/health` (`environment`) and by `ocrgate
  backends`, which runs it in the backend's python when the config names one (`probe`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from ocrgate.config import BackendConfig

PROBE_TIMEOUT_S = 120.0


class EnvironmentCheck(BaseModel):
    """One thing a backend needs: `what` (python, server command, engine, model directory...), whether
    it is there, and what was found or why not."""

    what: str
    ok: bool
    detail: str


CHECKS = TypeAdapter(list[EnvironmentCheck])


def missing(checks: Sequence[EnvironmentCheck]) -> str | None:
    """The failed checks as one line (`what: detail; ...`), None when every check passed."""
    failed = [f"{c.what}: {c.detail}" for c in checks if not c.ok]
    return "; ".join(failed) or None


def executable(what: str, command: str) -> EnvironmentCheck:
    """A program named by path (relative to the working directory) or found on PATH."""
    if os.sep in command or command.startswith("."):
        path = Path(command).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return EnvironmentCheck(what=what, ok=True, detail=str(path))
        state = "is not executable" if path.exists() else "does not exist"
        return EnvironmentCheck(what=what, ok=False, detail=f"{command} {state} (from {Path.cwd()})")
    found = shutil.which(command)
    if found:
        return EnvironmentCheck(what=what, ok=True, detail=found)
    return EnvironmentCheck(what=what, ok=False, detail=f"{command!r} is not on PATH")


def directory(what: str, path: str, marker: str | None = None) -> EnvironmentCheck:
    """A directory that must exist (and hold `marker`, e.g. a model's config.json)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return EnvironmentCheck(what=what, ok=False, detail=f"{path} is not a directory (from {Path.cwd()})")
    if marker and not (folder / marker).is_file():
        return EnvironmentCheck(what=what, ok=False, detail=f"{path} has no {marker}")
    return EnvironmentCheck(what=what, ok=True, detail=str(folder))


def config_checks(config: BackendConfig) -> list[EnvironmentCheck]:
    """What the config names for a backend's local workers: their python and the model server's command."""
    if config.urls:
        where = ", ".join(config.urls)
        return [
            EnvironmentCheck(what="workers", ok=True, detail=f"run elsewhere ({where}); not checked here")
        ]
    checks = [
        executable("python", config.python)
        if config.python
        else EnvironmentCheck(what="python", ok=True, detail=f"this interpreter ({sys.executable})")
    ]
    if config.server is not None:
        argv = config.server.argv(config.python or sys.executable)
        checks.append(executable("server command", argv[0]))
    return checks


def runs_elsewhere(config: BackendConfig) -> bool:
    """Whether the backend's own checks must run in another python than this one."""
    if not config.python:
        return False
    return Path(config.python).expanduser().absolute() != Path(sys.executable).absolute()


def probe(python: str, backend: str, settings: Mapping[str, Any]) -> list[EnvironmentCheck]:
    """`Backend.environment()` of `backend` with `settings`, run by `python` (`ocrgate
    probe-environment`); a failure to run it there is itself the failed check."""
    command = [python, "-m", "ocrgate", "probe-environment", "--backend", backend, "--settings"]
    command.append(json.dumps(dict(settings)))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        return [EnvironmentCheck(what="engine", ok=False, detail=f"{python} could not run: {exc}")]
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [EnvironmentCheck(what="engine", ok=False, detail=f"ocrgate does not run in {python}: {tail}")]
    return CHECKS.validate_json(lines[-1])
