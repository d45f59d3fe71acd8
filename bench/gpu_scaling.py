"""Pages per second through the gateway with one GPU worker vs two, each pinned to its own GPU.

Run on a GPU machine from the repository root (what `scripts/device_gpu_scaling.sh` does):

    python bench/gpu_scaling.py --out bench/records          # 1 GPU, then 2 (<= --max-gpus)
    python bench/gpu_scaling.py --cpu --pages 16             # the same steps on a machine without a GPU

For each GPU count N it starts `ocrgate serve` with N replicas of a GPU backend, replica i pinned
to GPU i (CUDA_VISIBLE_DEVICES), sends `--pages` single-page requests through the gateway with
4N in flight, and reports pages/s, the speedup over one GPU and how the pages spread over the
workers. The default backend is `bench.gpu_load_backend:GPULoadBackend`: per page the pixels go to
the GPU and `--iters` bf16 matrix products of `--size` run there. Another engine goes in with
`--class-path`/`--backend` and `--options` (e.g. DeepSeek-OCR with the transformers engine,
`--backend deepseek-ocr --options '{"engine": "transformers"}' --python .venvs/deepseek-ocr/bin/python`).
With one GPU listed only the one-GPU figure is reported. `--cpu` runs the workers on the CPU (no
pinning, small matrices), to check the script where there is no GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/gpu_scaling.py`
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.common import (  # noqa: E402
    Report,
    SamplePage,
    machine,
    running_cluster,
    small_page,
    table,
    worker_urls,
    write_report,
)
from bench.gpu_pinning import gpus_listed  # noqa: E402
from bench.overhead import multipart  # noqa: E402
from bench.throughput import drive  # noqa: E402

GPU_LOAD = "bench.gpu_load_backend:GPULoadBackend"


def measure(args: argparse.Namespace, count: int, page: SamplePage) -> dict[str, Any]:
    """N replicas, replica i on GPU i (or all on the CPU with --cpu): pages/s through the gateway."""
    config: dict[str, Any] = {
        "replicas": count,
        "concurrency": 1,
        "queue_size": 64,
        "options": json.loads(args.options) if args.options else {},
    }
    if args.class_path:
        config["class_path"] = args.class_path
    if args.python:
        config["python"] = args.python
    if args.cpu:
        config["options"].setdefault("device", "cpu")
        if args.class_path == GPU_LOAD:
            config["options"].setdefault("size", 256)
            config["options"].setdefault("iters", 4)
    else:
        config["gpus"] = [str(i) for i in range(count)]
    if args.class_path == GPU_LOAD:
        config["options"].setdefault("size", args.size)
        config["options"].setdefault("iters", args.iters)
    backend = args.backend
    with running_cluster({backend: config}, timeout_s=args.start_timeout) as cluster:
        workers = worker_urls(cluster, backend)
        for worker in workers:  # the first page on each worker: kernels, caches, lazy loading
            httpx.post(
                f"{worker}/v1/ocr", content=page.data, headers={"content-type": page.media_type}, timeout=600
            ).raise_for_status()
        body, headers = multipart(page, backend, "none")
        in_flight = 4 * count
        result = asyncio.run(drive([f"{cluster.url}/v1/ocr"], body, headers, {}, args.pages, in_flight))
        seen = {w: httpx.get(f"{w}/health", timeout=10).json() for w in workers}
    done_by_worker = {w: h["pages_done"] - 1 for w, h in seen.items()}  # minus the warm-up page
    devices = {w: h["device"]["cuda_visible_devices"] for w, h in seen.items()}
    gpus = {w: [g.get("name") for g in h["device"]["gpus"]] for w, h in seen.items()}
    return {
        "gpus": count,
        "in_flight": in_flight,
        "pages": result["pages"],
        "errors": result["errors"],
        "seconds": result["seconds"],
        "pages_per_s": result["pages"] / result["seconds"],
        "pages_by_worker": done_by_worker,
        "cuda_visible_devices": devices,
        "gpus_seen": gpus,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--max-gpus", type=int, default=2)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--cpu", action="store_true", help="workers on the CPU: try the script without a GPU")
    parser.add_argument("--backend", default="gpu-load", help="the backend's name in the config")
    parser.add_argument("--class-path", default=GPU_LOAD, help="module:Class; empty for an installed backend")
    parser.add_argument("--options", default="", help="JSON object of engine settings for the workers")
    parser.add_argument("--python", default="", help="python of the backend's own virtualenv")
    parser.add_argument("--size", type=int, default=8192, help="gpu-load: matrix side")
    parser.add_argument("--iters", type=int, default=20, help="gpu-load: matrix products per page")
    parser.add_argument("--page", type=Path, default=None, help="the page image sent (default: phototest)")
    parser.add_argument("--start-timeout", type=float, default=900)
    args = parser.parse_args()

    listed = gpus_listed()
    if args.cpu:
        counts = [1, 2]
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # two CPU workers share the cores fairly
    else:
        if not listed:
            raise SystemExit("nvidia-smi lists no GPU here; use --cpu to try the script on the CPU")
        counts = list(range(1, min(len(listed), args.max_gpus) + 1))
    page = small_page()
    if args.page:
        from PIL import Image

        with Image.open(args.page) as image:
            size = image.size
        page = SamplePage(args.page.name, args.page.read_bytes(), *size)

    started = time.perf_counter()
    rows = [measure(args, count, page) for count in counts]
    base = rows[0]["pages_per_s"]
    for row in rows:
        row["speedup_vs_1"] = row["pages_per_s"] / base
    info = machine()
    mode = "CPU (test mode, no GPU)" if args.cpu else f"{len(listed)} GPU(s) listed"
    lines = [
        f"Machine: {info['nproc']} cores ({info['cpu_model']}); {mode}.",
        "",
        "```",
        *(listed or ["(nvidia-smi lists no GPU)"]),
        "```",
        "",
        f"Backend `{args.backend}` ({args.class_path or 'installed'}), options "
        f"`{json.dumps(measure_options(args))}`; page {page.label}; {args.pages} single-page "
        "requests through the gateway, 4 per worker in flight, boxes=none.",
        "",
        *table(
            ["GPUs", "pages", "seconds", "pages/s", "speedup vs 1", "errors", "pages by worker"],
            [
                [
                    r["gpus"],
                    r["pages"],
                    r["seconds"],
                    r["pages_per_s"],
                    r["speedup_vs_1"],
                    sum(r["errors"].values()),
                    ", ".join(str(n) for n in r["pages_by_worker"].values()),
                ]
                for r in rows
            ],
        ),
    ]
    if len(rows) == 1:
        lines.append("Only one GPU here: the two-GPU figure needs a machine with two.")
    data = {
        "machine": info,
        "nvidia_smi_L": listed,
        "cpu_mode": args.cpu,
        "backend": args.backend,
        "class_path": args.class_path,
        "options": measure_options(args),
        "page": page.label,
        "rows": rows,
        "wall_s": time.perf_counter() - started,
    }
    stem = "gpu_scaling_cpu" if args.cpu else f"gpu_scaling_{len(listed)}gpu"
    report = Report(stem, "GPU scaling: one GPU worker vs two", data, lines)
    json_path, md_path = write_report(report, args.out)
    print(report.markdown())
    print(f"written: {json_path} and {md_path}")
    return 0 if all(r["pages"] == args.pages for r in rows) else 1


def measure_options(args: argparse.Namespace) -> dict[str, Any]:
    options = json.loads(args.options) if args.options else {}
    if args.class_path == GPU_LOAD:
        options.setdefault("size", 256 if args.cpu else args.size)
        options.setdefault("iters", 4 if args.cpu else args.iters)
    if args.cpu:
        options.setdefault("device", "cpu")
    return options


if __name__ == "__main__":
    raise SystemExit(main())
