"""The machine an evaluation ran on and how busy it was: speed figures mean little without them.

Read from the standard library and Linux's /proc (fields that cannot be read are None): the CPU's
model name (`/proc/cpuinfo`), logical cores (`os.cpu_count`), memory (`/proc/meminfo` MemTotal),
the OS (`/etc/os-release` PRETTY_NAME, else `platform.platform()`), and the 1/5/15-minute load
averages (`os.getloadavg`: runnable processes, to compare with the cores).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from ocrgate.evaluate.datasets import InputMode


class Machine(BaseModel):
    """The host, as the report states it."""

    cpu: str | None = None
    cores: int | None = Field(default=None, description="logical cores (os.cpu_count)")
    memory_gib: float | None = Field(default=None, description="MemTotal, GiB")
    os: str | None = None
    python: str = Field(default_factory=platform.python_version)


class RunInfo(BaseModel):
    """This session of a run: when, where, under what load, with which page choices."""

    machine: Machine = Field(default_factory=Machine)
    started_at: float = Field(default_factory=time.time, description="Unix time")
    finished_at: float | None = None
    load_start: list[float] | None = Field(default=None, description="1, 5, 15-minute load averages")
    load_end: list[float] | None = None
    input: InputMode | None = Field(default=None, description="--input of this session")
    limit: int | None = None
    seed: int | None = None
    recognised: int = Field(default=0, description="(backend, page) pairs read in this session")

    def finish(self, recognised: int) -> RunInfo:
        """This run, ended now with `recognised` pairs read."""
        return self.model_copy(
            update={"finished_at": time.time(), "load_end": load_average(), "recognised": recognised}
        )


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _proc_field(path: str, name: str) -> str | None:
    try:
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() == name:
                return value.strip()
    except OSError:
        return None
    return None


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.partition('=')[2].strip(chr(34))} (Linux {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def this_machine() -> Machine:
    """The machine this process runs on."""
    memory = _proc_field("/proc/meminfo", "MemTotal")  # "16310232 kB"
    gib = None
    if memory and memory.split()[0].isdigit():
        gib = round(int(memory.split()[0]) / 1024**2, 1)
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or None
    return Machine(cpu=cpu, cores=os.cpu_count(), memory_gib=gib, os=_os_name())


def start_run(
    input_mode: InputMode | None = None, limit: int | None = None, seed: int | None = None
) -> RunInfo:
    """A run starting now on this machine, with its load average."""
    return RunInfo(
        machine=this_machine(), load_start=load_average(), input=input_mode, limit=limit, seed=seed
    )


#: one line per session of a run folder that read pages: where and under what load they were read
SESSIONS = "sessions.jsonl"


def record_session(out: Path, run: RunInfo) -> None:
    """Append `run` to `out/sessions.jsonl` (a resumed run reads pages in several sessions)."""
    with (out / SESSIONS).open("a", encoding="utf-8") as sink:
        sink.write(run.model_dump_json() + "\n")


def read_sessions(out: Path) -> list[RunInfo]:
    """The sessions recorded in `out`, oldest first; unreadable lines are skipped."""
    path = out / SESSIONS
    if not path.is_file():
        return []
    sessions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            sessions.append(RunInfo.model_validate_json(line))
        except ValidationError:
            continue
    return sessions
