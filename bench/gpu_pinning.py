"""Each worker sees exactly its own GPU: `ocrgate serve` with one worker per GPU plus a CPU worker.

Run on a GPU machine from the repository root (what `scripts/device_gpu_pinning.sh` does):

    python bench/gpu_pinning.py --out bench/records

It starts the launcher with a config of one `noop` worker pinned to each GPU that `nvidia-smi -L`
lists (at most --max-gpus) and one pinned to none, asks the gateway for every worker's /health, and
writes what each worker saw (CUDA_VISIBLE_DEVICES, the GPUs torch shows it, their UUIDs) next to
`nvidia-smi -L`, as JSON and markdown. It fails when two GPU workers share a UUID or one sees more
or fewer than one GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def gpus_listed() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [line.strip() for line in out.splitlines() if line.startswith("GPU ")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "records")
    parser.add_argument("--max-gpus", type=int, default=2)
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()

    listed = gpus_listed()
    pins = [str(i) for i in range(min(len(listed), args.max_gpus))] + [""]
    work = Path(tempfile.mkdtemp(prefix="ocrgate-pinning-"))
    config = work / "ocrgate.toml"
    config.write_text(
        f'default_backend = "noop"\n[gateway]\nport = {args.port}\ndata_dir = "{work / "data"}"\n'
        f'[backends.noop]\nclass_path = "bench.noop_backend:NoopBackend"\nport = {args.port + 1}\n'
        f"replicas = {len(pins)}\ngpus = {json.dumps(pins)}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO), str(REPO / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    command = [sys.executable, "-m", "ocrgate", "serve", "--config", str(config)]
    launcher = subprocess.Popen(command, cwd=REPO, env=env)
    url = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.monotonic() + 180
        workers: list[dict] = []
        while time.monotonic() < deadline:
            try:
                backends = httpx.get(f"{url}/v1/backends", timeout=5).json()
                workers = backends[0]["workers"]
                if all(w["healthy"] and w["health"]["model_loaded"] for w in workers):
                    break
            except (httpx.HTTPError, ValueError, KeyError, IndexError):
                pass
            time.sleep(1)
        else:
            raise SystemExit("workers did not become healthy")
        time.sleep(3)  # one more health round, taken after the model (the CUDA context) loaded
        workers = httpx.get(f"{url}/v1/backends", timeout=5).json()[0]["workers"]
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=60)

    rows = []
    for worker in workers:
        device = worker["health"]["device"]
        rows.append(
            {
                "worker": worker["url"],
                "pid": worker["health"]["pid"],
                "cuda_visible_devices": device["cuda_visible_devices"],
                "source": device["source"],
                "gpus_seen": [
                    {"uuid": g["uuid"], "name": g["name"], "memory_used_mb": g["memory_used_mb"]}
                    for g in device["gpus"]
                ],
            }
        )
    gpu_rows = [r for r in rows if r["cuda_visible_devices"]]
    uuids = [g["uuid"] for r in gpu_rows for g in r["gpus_seen"]]
    ok = (
        all(len(r["gpus_seen"]) == 1 for r in gpu_rows)
        and len(set(uuids)) == len(uuids)
        and all(not r["gpus_seen"] for r in rows if not r["cuda_visible_devices"])
    )
    record = {
        "command": " ".join(command),
        "host": platform.node(),
        "nvidia_smi_L": listed,
        "workers": rows,
        "each_gpu_worker_sees_exactly_one_distinct_gpu": ok,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"gpu_pinning_{len(listed)}gpu"
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# GPU pinning, {len(listed)} GPU(s) listed by nvidia-smi",
        "",
        "```",
        *listed,
        "```",
        "",
        "| worker | CUDA_VISIBLE_DEVICES | GPUs the worker sees (via "
        + (rows[0]["source"] if rows else "-")
        + ") |",
        "|---|---|---|",
    ]
    for r in rows:
        seen = ", ".join(f"{g['name']} {g['uuid']}" for g in r["gpus_seen"]) or "none"
        lines.append(
            f"| {r['worker']} (pid {r['pid']}) | `{r['cuda_visible_devices'] or '(empty)'}` | {seen} |"
        )
    lines += ["", f"Each GPU worker sees exactly one GPU, all different: **{ok}**", ""]
    (args.out / f"{stem}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
