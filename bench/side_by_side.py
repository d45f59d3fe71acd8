"""Two builds of the gateway side by side: which one costs less CPU per page, measured in one run.

A change to the gateway's request path is worth a few percent of its CPU time at most, less than
this machine's drift between two `bench.overhead` runs minutes apart. So both builds run at once: this
checkout's gateway (A) and the one of another checkout (B, `--other`), each `ocrgate serve` with its
own no-op worker, and the same page goes to A and B in turn, the order swapped every round. The
figure is each gateway process's CPU time per request (Linux schedstat, all its threads, read around
each call) and B's over A's; the client's latency is reported beside it. A run of a checkout against
itself gives the noise (B/A within 1 % on 2 cores, 1,500 rounds).

    python -m bench.side_by_side --other ../other-checkout [--rounds 1500] [--page small|a4]
        [--boxes none|first]
"""

from __future__ import annotations

import contextlib
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

import bench.common as common
from bench.common import (
    NOOP,
    Report,
    base_parser,
    cpu_seconds,
    machine,
    machine_line,
    main_for,
    running_cluster,
    small_page,
    table,
)
from bench.overhead import multipart

WARMUP = 50


def run(args: Any) -> Report:
    page = small_page() if args.page == "small" else common.a4_png()
    if page is None:
        raise SystemExit("the A4 page is not in the eval set here ($OCRGATE_EVAL_DIR)")
    rounds = 200 if args.quick else args.rounds
    info = machine()
    body, headers = multipart(page, "noop", args.boxes)
    with contextlib.ExitStack() as stack:
        builds = {"A": stack.enter_context(running_cluster({"noop": {"class_path": NOOP}}))}
        this_repo = common.REPO
        common.REPO = args.other.resolve()  # the cluster's PYTHONPATH starts with the other checkout
        try:
            builds["B"] = stack.enter_context(running_cluster({"noop": {"class_path": NOOP}}))
        finally:
            common.REPO = this_repo
        pids = {name: httpx.get(f"{c.url}/health", timeout=10).json()["pid"] for name, c in builds.items()}
        clients = {name: stack.enter_context(httpx.Client(timeout=60)) for name in builds}
        cpu: dict[str, list[float]] = {name: [] for name in builds}
        seconds: dict[str, list[float]] = {name: [] for name in builds}
        for number in range(WARMUP + rounds):
            for name in ("A", "B") if number % 2 else ("B", "A"):
                before, started = cpu_seconds(pids[name]), time.perf_counter()
                answer = clients[name].post(f"{builds[name].url}/v1/ocr", content=body, headers=headers)
                elapsed, after = time.perf_counter() - started, cpu_seconds(pids[name])
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {answer.status_code}: {answer.text[:300]}")
                if number >= WARMUP and before is not None and after is not None:
                    cpu[name].append(1000 * (after - before))
                    seconds[name].append(1000 * elapsed)
    figures = {
        name: {
            "cpu_ms_mean": statistics.mean(cpu[name]),
            "cpu_ms_median": statistics.median(cpu[name]),
            "latency_ms_p50": statistics.median(seconds[name]),
            "latency_ms_p99": statistics.quantiles(seconds[name], n=100)[98],
        }
        for name in builds
    }
    ratio = figures["B"]["cpu_ms_mean"] / figures["A"]["cpu_ms_mean"]
    rows = [
        [name, f["cpu_ms_mean"], f["cpu_ms_median"], f["latency_ms_p50"], f["latency_ms_p99"]]
        for name, f in figures.items()
    ]
    lines = [
        f"Machine: {machine_line(info)}. A = {common.REPO}, B = {args.other.resolve()}; {page.label}, "
        f"boxes={args.boxes}, {rounds} rounds, one request at a time, A and B alternating.",
        "",
        *table(["build", "gateway CPU ms / request (mean)", "median", "latency p50 ms", "p99 ms"], rows),
        f"B / A, CPU per request: {ratio:.3f}",
    ]
    data = {"machine": info, "page": page.label, "boxes": args.boxes, "rounds": rounds}
    return Report(
        "side_by_side",
        "Two gateway builds side by side",
        {**data, "builds": figures, "b_over_a": ratio},
        lines,
    )


def parser() -> Any:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--other", type=Path, required=True, help="the other checkout (B)")
    p.add_argument("--rounds", type=int, default=1500, help="requests to each build (--quick: 200)")
    p.add_argument("--page", choices=("small", "a4"), default="small")
    p.add_argument("--boxes", choices=("none", "first"), default="none")
    return p


if __name__ == "__main__":
    raise SystemExit(main_for(run, parser()))
