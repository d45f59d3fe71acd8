"""Where the gateway's CPU goes on the no-op path: py-spy samples the gateway (and its worker) under load.

Needs py-spy (`.venv/bin/pip install py-spy`; it is not a dependency of the project). A cluster with
the no-op backend is started; a client sends the small page through the gateway, one request at a
time, for `--seconds`, while py-spy samples the gateway process and the worker process. The report
lists the functions with the most samples on the CPU, by self time and inclusive time, and the share
per library (ocrgate, starlette/fastapi, pydantic, httpx/httpcore, h11, PIL, asyncio, ...).

    python -m bench.profile_gateway [--seconds 20] [--boxes none|first] [--out bench/results]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    NOOP,
    Report,
    base_parser,
    full_page,
    machine,
    machine_line,
    main_for,
    running_cluster,
    small_page,
    table,
)
from bench.overhead import multipart

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
AREAS = [
    ("ocrgate", ("ocrgate/",)),
    ("bench", ("bench/",)),
    ("starlette/fastapi", ("starlette/", "fastapi/", "sse_starlette/")),
    ("python-multipart", ("multipart/", "python_multipart/")),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("httpx/httpcore", ("httpx/", "httpcore/")),
    ("h11", ("h11/",)),
    ("uvicorn", ("uvicorn/",)),
    ("anyio", ("anyio/",)),
    ("PIL", ("PIL/",)),
    ("asyncio", ("asyncio/",)),
    ("json", ("json/",)),
    ("logging", ("logging/",)),
]
# leaf frames that are a thread waiting, not working (py-spy shows a blocked C call as its caller)
IDLE = {"Condition.wait", "Queue.get", "Event.wait", "select", "poll"}
RATE_HZ = 200


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def area(file: str) -> str:
    for name, needles in AREAS:
        if any(file.startswith(n) or f"/{n}" in file for n in needles):
            return name
    return "python stdlib/other"


def parse_raw(path: Path) -> dict[str, Any]:
    """py-spy's raw (collapsed) stacks -> top functions by self and inclusive samples, share per area."""
    selfs: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for frame in stack.split(";"):
            match = FRAME.match(frame.strip())
            if not match:
                continue
            file = match["file"]
            short = file.split("site-packages/")[-1].split("/src/")[-1]
            frames.append((f"{match['func']} ({short})", file))
        frames = [f for f in frames if not f[0].startswith("process ")]  # py-spy's thread/process labels
        if not frames or frames[-1][0].split(" (")[0] in IDLE:
            continue
        selfs[frames[-1][0]] += count
        areas[area(frames[-1][1])] += count
        for name in {f[0] for f in frames}:
            inclusive[name] += count
    share = (lambda n: 100 * n / total) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "self_top": [{"function": f, "percent": share(n)} for f, n in selfs.most_common(15)],
        # the frames every sample shares (runpy, typer, uvicorn.run, the event loop) say nothing
        "inclusive_top": [
            {"function": f, "percent": share(n)} for f, n in inclusive.most_common(60) if n < 0.95 * total
        ][:30],
        "self_by_area": [{"area": a, "percent": share(n)} for a, n in areas.most_common()],
    }


def run(args: Any) -> Report:
    spy = py_spy()
    if spy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    seconds = 5 if args.quick else args.seconds
    info = machine()
    page = full_page() if args.page == "full" else small_page()
    if page is None:
        raise SystemExit("the full page is not at hand (../shared/eval)")
    body, headers = multipart(page, "noop", args.boxes)
    profiles: dict[str, Any] = {}
    sent = sampled_requests = 0
    with running_cluster({"noop": {"class_path": NOOP}}) as cluster:
        gateway_pid = httpx.get(f"{cluster.url}/health", timeout=5).json()["pid"]
        worker_pid = cluster.worker_pids()[0]
        work = Path(tempfile.mkdtemp(prefix="ocrgate-profile-"))
        stop = threading.Event()

        def load() -> None:
            nonlocal sent
            with httpx.Client(base_url=cluster.url, timeout=60) as client:
                while not stop.is_set():
                    response = client.post("/v1/ocr", content=body, headers=headers)
                    response.raise_for_status()
                    sent += 1

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        time.sleep(1)  # warm
        sent_before = sent
        spies = {
            name: subprocess.Popen(
                [
                    spy,
                    "record",
                    "-p",
                    str(pid),
                    "-d",
                    str(seconds),
                    "-r",
                    str(RATE_HZ),
                    "--gil",
                    "-f",
                    "raw",
                    "-o",
                    str(work / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in (("gateway", gateway_pid), ("worker", worker_pid))
        }
        for process in spies.values():
            process.wait(timeout=seconds + 60)
        sampled_requests = sent - sent_before
        stop.set()
        thread.join(timeout=30)
        for name in spies:
            profiles[name] = parse_raw(work / f"{name}.txt")
            if args.keep_raw:
                args.out.mkdir(parents=True, exist_ok=True)
                shutil.copy(work / f"{name}.txt", args.out / f"profile_{name}_stacks.txt")
            # one sample = 1/RATE_HZ s of a thread holding the GIL: CPU milliseconds per request
            profiles[name]["gil_ms_per_request"] = (
                1000 * profiles[name]["samples"] / RATE_HZ / max(1, sampled_requests)
            )
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        f"Machine: {machine_line(info)}. No-op backend, {page.label}, boxes={args.boxes}, one request "
        f"at a time for {seconds} s ({sent} requests in all, sampling included), py-spy at 200 Hz "
        "(samples of the thread holding the GIL; waits left out), percentages of those samples.",
        "",
    ]
    for name, profile in profiles.items():
        lines += [
            f"### {name} process ({profile['samples']} samples, "
            f"{profile['gil_ms_per_request']:.2f} ms holding the GIL per request)",
            "",
            "Self time by library:",
            "",
        ]
        lines += table(
            ["library", "% of samples"], [[a["area"], a["percent"]] for a in profile["self_by_area"]]
        )
        lines += ["Inclusive time, top functions:", ""]
        lines += table(
            ["function", "% of samples"],
            [[f["function"], f["percent"]] for f in profile["inclusive_top"][:20]],
        )
        lines += ["Self time, top functions:", ""]
        lines += table(
            ["function", "% of samples"], [[f["function"], f["percent"]] for f in profile["self_top"]]
        )
    data = {
        "machine": info,
        "boxes": args.boxes,
        "page": page.label,
        "seconds": seconds,
        "requests": sent,
        "requests_while_sampled": sampled_requests,
        "profiles": profiles,
    }
    return Report("profile_gateway", "Profile of the gateway path (no-op backend)", data, lines)


def parser() -> Any:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--boxes", choices=["none", "first", "all"], default="none")
    p.add_argument("--page", choices=["small", "full"], default="small")
    p.add_argument("--keep-raw", action="store_true", help="keep py-spy's collapsed stacks in --out")
    return p


if __name__ == "__main__":
    raise SystemExit(main_for(run, parser()))
