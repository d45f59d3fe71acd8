"""Timing calls against each other: each call once per round, in an order rotating round by round,
so that whatever else the machine does hits them alike; what the answering processes spent on each
call; the client's own garbage collector kept out of the timed part.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.common import cpu_seconds, minor_faults


@contextlib.contextmanager
def collector_paused() -> Iterator[Callable[[], object]]:
    """The client's own garbage collector kept out of the timed calls, as `timeit` does (Python docs,
    `timeit`: "By default, timeit() temporarily turns off garbage collection during the timing").

    Measured here (2 cores, `bench.overhead`), the client's collector paused it 42 times for its young
    generations (up to 5.5 ms) and 4 times for the oldest (16-67 ms, growing with what it kept) during
    one run, inside whichever request was in flight, any path alike: noise on the p99 that the
    servers did not cause. Inside the block, the objects made before it are frozen (`gc.freeze`,
    left out of every collection) and automatic collection is off; the caller runs the function
    yielded (a collection of the young generations) between timed calls. The servers measured keep
    their collector as it is.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        gc.enable()
        gc.unfreeze()


@dataclass
class Answers:
    """What a path's answers said, without keeping them all (a `boxes=first` answer of an A4 page is
    about 400 KB; keeping 400 of them made the client's collector pause for up to 67 ms): the last
    answer, and each answer's `timings` (seconds; the gateway's answers have them, the worker's not)."""

    last: dict[str, Any] = field(default_factory=dict)
    timings: list[dict[str, float]] = field(default_factory=list)

    def add(self, answer: dict[str, Any]) -> None:
        self.last = answer
        if "timings" in answer:
            self.timings.append(answer["timings"])


@dataclass
class Usage:
    """What the process that answers a path spent on its calls: CPU seconds (`cpu_seconds`, all its
    threads) and minor page faults (`minor_faults`: memory the kernel mapped and zeroed for it), read
    around each call outside the timed part. A call during which one of its threads ended is left
    out of the CPU mean (that thread's time leaves the sum over live threads)."""

    cpu_s: float = 0.0
    cpu_calls: int = 0
    faults: int = 0
    fault_calls: int = 0

    def add(self, before: tuple[float | None, int | None], after: tuple[float | None, int | None]) -> None:
        if before[0] is not None and after[0] is not None and after[0] >= before[0]:
            self.cpu_s += after[0] - before[0]
            self.cpu_calls += 1
        if before[1] is not None and after[1] is not None:
            self.faults += after[1] - before[1]
            self.fault_calls += 1

    def cpu_ms(self) -> float | None:
        return 1000 * self.cpu_s / self.cpu_calls if self.cpu_calls else None

    def faults_per_call(self) -> float | None:
        return self.faults / self.fault_calls if self.fault_calls else None


def _counters(pid: int | None) -> tuple[float | None, int | None]:
    return (cpu_seconds(pid), minor_faults(pid)) if pid else (None, None)


def interleaved(
    calls: dict[str, Callable[[], httpx.Response]],
    rounds: int,
    warmup: int,
    servers: dict[str, int] | None = None,
) -> tuple[dict[str, list[float]], dict[str, Answers], dict[str, Usage]]:
    """Each call once per round, the order rotating round by round; seconds per call, what the answers
    said (`Answers`), and for each call named in `servers` (call -> the pid of the process that
    answers it) what that process spent on it (`Usage`). The client's own garbage collector runs
    between rounds, never inside a timed call (`collector_paused`)."""
    names = list(calls)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    answers = {n: Answers() for n in names}
    usage = {name: Usage() for name in servers or {}}
    with collector_paused() as collect:
        for number in range(warmup + rounds):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                pid = (servers or {}).get(name)
                before = _counters(pid)
                started = time.perf_counter()
                response = calls[name]()
                elapsed = time.perf_counter() - started
                after = _counters(pid)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
                if number >= warmup:
                    seconds[name].append(elapsed)
                    answers[name].add(response.json())
                    if name in usage:
                        usage[name].add(before, after)
            collect()
    return seconds, answers, usage
