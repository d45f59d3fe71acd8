"""DeepSeek-OCR and MinerU side by side on two GPUs through one gateway: `deploy/two-gpu.toml` as run.

Run on a machine with two GPUs from the repository root (what `scripts/device_two_gpu.sh` does):

    python bench/two_gpu.py --out bench/records --model-dir /tmp/dsocr2 --mineru-python VENV/bin/python \
        --pages-dir DIR --pdf FILE

It builds the full-size DeepSeek-OCR 2 architecture with random weights (`bench.deepseek_gpu`) into
`--model-dir` unless a model is there, then starts `ocrgate serve` with `deploy/two-gpu.toml` as shipped
(ports, pins, batching), changing only what this machine needs: the model directory, MinerU's python,
`ignore_eos` (every page exactly `--tokens` tokens) and the data directory. Parts (`--parts`):
- `alone`: DeepSeek-OCR pages/s through the gateway (single-page requests, `concurrency` of them in
  flight), then MinerU pages/s (PDF requests), each alone;
- `both`: the two at once, each one's pages/s while the other runs;
- `compare`: one `backend=deepseek-ocr,mineru` request on the PDF, answered through the gateway;
- `scaling`: DeepSeek-OCR alone again with two replicas, one per GPU, against the `alone` figure.
Recorded: `nvidia-smi` (GPUs, each process's GPU UUID and memory), what every worker says it sees,
and the figures, in `two_gpu.json` / `two_gpu.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / "src", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import httpx  # noqa: E402
from tests.gateway.cluster import write_config  # noqa: E402

DEPLOY = REPO / "deploy" / "two-gpu.toml"


def smi(query: str, what: str = "--query-gpu") -> list[list[str]]:
    try:
        out = subprocess.run(
            ["nvidia-smi", f"{what}={query}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [[cell.strip() for cell in line.split(",")] for line in out.splitlines() if line.strip()]


def gpu_state() -> dict[str, Any]:
    """Each GPU's memory and each compute process's GPU, from nvidia-smi."""
    gpus = smi("index,uuid,name,memory.used,memory.total")
    apps = smi("pid,gpu_uuid,used_memory", "--query-compute-apps")
    return {
        "gpus": [
            dict(zip(("index", "uuid", "name", "memory_used_mib", "memory_total_mib"), g, strict=False))
            for g in gpus
        ],
        "processes": [dict(zip(("pid", "gpu_uuid", "used_memory_mib"), a, strict=False)) for a in apps],
    }


def build_model(path: Path, gpu: str, tiny: bool) -> None:
    if (path / "config.json").is_file():
        return
    if tiny:
        from tests.backends.deepseek.tiny_model import build_tiny_model

        build_tiny_model(path)
        return
    code = (
        "import sys; from pathlib import Path; sys.path[:0] = [sys.argv[2], sys.argv[2] + '/src'];"
        "from bench.deepseek_gpu import build_model_dir;"
        "import torch; device = 'cuda' if torch.cuda.is_available() else 'cpu';"
        "print(build_model_dir(Path(sys.argv[1]), False, device))"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
    subprocess.run([sys.executable, "-c", code, str(path), str(REPO)], check=True, env=env)


def config(args: argparse.Namespace, work: Path, scaling: bool = False, mineru_only: bool = False) -> Path:
    """deploy/two-gpu.toml with this machine's paths (and, for `scaling`, DeepSeek-OCR on both GPUs)."""
    shipped = tomllib.loads(DEPLOY.read_text(encoding="utf-8"))
    shipped["gateway"]["data_dir"] = str(work / ("data-scaling" if scaling else "data"))
    deepseek = shipped["backends"]["deepseek-ocr"]
    deepseek.pop("python", None)  # this machine's python3 holds torch and transformers
    # every page exactly --tokens tokens, whatever the request (a compare request's options are shared)
    deepseek["options"] |= {"model": str(args.model_dir), "ignore_eos": True, "max_tokens": args.tokens}
    mineru = shipped["backends"]["mineru"]
    mineru["python"] = str(args.mineru_python)
    mineru["server"]["env"] = {**mineru["server"].get("env", {}), "MINERU_HOME": str(work / "mineru-home")}
    if args.cpu:  # a dry run of this script on a machine without GPUs: small and slow
        deepseek |= {"concurrency": 4}
        deepseek["options"] |= {"device": "cpu", "slots": 4, "max_batch": 2, "max_len": 2048}
        for backend in shipped["backends"].values():
            backend.pop("gpu", None)
    if mineru_only:  # the smoke run: MinerU alone, on the last GPU there is
        del shipped["backends"]["deepseek-ocr"]
        shipped["default_backend"] = "mineru"
        gpus = smi("index")
        mineru["gpu"] = gpus[-1][0] if gpus else ""
    if scaling:
        del shipped["backends"]["mineru"]
        deepseek.pop("gpu", None)
        deepseek |= {"replicas": 2} | ({} if args.cpu else {"gpus": ["0", "1"]})
    sections: dict[str, dict[str, Any]] = {}
    for key, value in shipped.items():
        if key == "backends":
            for name, backend in value.items():
                nested = {k: v for k, v in backend.items() if k in ("options", "server")}
                sections[f"backends.{name}"] = {k: v for k, v in backend.items() if k not in nested}
                for k, v in nested.items():
                    sections[f"backends.{name}.{k}"] = v
        elif isinstance(value, dict):
            sections[key] = value
    top = {k: v for k, v in shipped.items() if not isinstance(v, dict)}
    name = "scaling.toml" if scaling else "mineru.toml" if mineru_only else "two-gpu.toml"
    path = write_config(work / name, sections)
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in top.items()) + path.read_text(), "utf-8")
    return path


def engines(url: str) -> dict[str, list[Any]]:
    """What every worker's engine says about itself (decode statistics, memory)."""
    backends = httpx.get(f"{url}/v1/backends", timeout=10).json()
    return {b["name"]: [(w.get("health") or {}).get("engine") for w in b["workers"]] for b in backends}


class Serve:
    """`ocrgate serve --config PATH` until stopped; its log in the work directory."""

    def __init__(self, path: Path, work: Path, name: str) -> None:
        self.settings = tomllib.loads(path.read_text(encoding="utf-8"))
        self.url = f"http://127.0.0.1:{self.settings['gateway']['port']}"
        self.log = (work / f"{name}.log").open("wb")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        command = [sys.executable, "-m", "ocrgate", "serve", "--config", str(path)]
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.flush()
                tail = Path(self.log.name).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"ocrgate serve exited; its log ends with:\n{tail}")
            try:
                backends = httpx.get(f"{self.url}/v1/backends", timeout=5).json()
                if backends and all(
                    b["healthy"] and all(w["healthy"] for w in b["workers"]) for b in backends
                ):
                    return backends
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise TimeoutError(f"not healthy after {timeout_s} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


async def drive(
    url: str,
    files: list[tuple[str, bytes, str]],
    form: dict[str, str],
    count: int,
    lanes: int,
    until: asyncio.Task[Any] | None = None,
) -> dict[str, Any]:
    """`count` requests, `lanes` in flight, through the gateway; pages answered and seconds. With
    `until`, no new request starts once that task is done."""
    limits = httpx.Limits(max_connections=lanes, max_keepalive_connections=lanes)
    todo = iter(range(count))
    pages, errors, sent, retried = 0, {}, 0, {}
    async with httpx.AsyncClient(limits=limits, timeout=900) as client:

        async def lane() -> None:
            nonlocal pages, sent
            for i in todo:
                if until is not None and until.done():
                    return
                name, data, kind = files[i % len(files)]
                sent += 1
                for attempt in range(3):
                    try:
                        response = await client.post(
                            f"{url}/v1/ocr", files={"file": (name, data, kind)}, data=form
                        )
                        break
                    except httpx.TransportError as exc:
                        retried[type(exc).__name__] = retried.get(type(exc).__name__, 0) + 1
                        if attempt == 2:
                            raise
                if response.status_code == 200:
                    body = response.json()
                    pages += len(body.get("pages", [])) or 1
                else:
                    key = f"{response.status_code}: {response.text[:200]}"
                    errors[key] = errors.get(key, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(lanes)))
        seconds = time.perf_counter() - t0
    return {
        "requests": sent,
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 3),
        "errors": errors,
        "transport_retries": retried,
    }


def mineru_smoke(args: argparse.Namespace) -> int:
    """MinerU alone through `ocrgate serve`: its own virtualenv, mineru-api at tier flash, a PDF."""
    record: dict[str, Any] = {"nvidia_smi_L": [" ".join(g) for g in smi("index,name,uuid")]}
    pdf = [(args.pdf.name, args.pdf.read_bytes(), "application/pdf")]
    serve = Serve(config(args, args.work, mineru_only=True), args.work, "mineru-smoke")
    try:
        [backend] = serve.wait(args.start_timeout)
        record["worker"] = {k: backend["workers"][0]["health"][k] for k in ("sys_prefix", "python", "device")}
        record["environment"] = backend.get("environment")
        answer = httpx.post(
            f"{serve.url}/v1/ocr", files={"file": pdf[0]}, data={"backend": "mineru"}, timeout=600
        )
        body = answer.json()
        record["one"] = {
            "status": answer.status_code,
            "pages": len(body.get("pages", [])),
            "blocks": sum(len(p.get("blocks", [])) for p in body.get("pages", [])),
            "markdown_start": body.get("markdown", "")[:300],
            "timings": body.get("timings"),
        }
        lanes = serve.settings["backends"]["mineru"].get("concurrency", 1)
        record["mineru_alone"] = asyncio.run(
            drive(serve.url, pdf, {"backend": "mineru", "boxes": "none"}, args.mineru_requests, lanes)
        )
        record["gpu_state"] = gpu_state()
    finally:
        serve.stop()
        (args.out / "mineru_smoke.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=1)[:4000])
    return 0


def markdown(record: dict[str, Any]) -> str:
    """The figures of `two_gpu.json` as a short report."""

    def rate(part: dict[str, Any] | None) -> str:
        if not part:
            return "not run"
        errors = sum(part.get("errors", {}).values())
        return (
            f"{part['pages_per_s']} pages/s ({part['pages']} pages in {part['seconds']} s, {errors} errors)"
        )

    lines = ["# DeepSeek-OCR and MinerU on two GPUs through one gateway (deploy/two-gpu.toml)", "", "```"]
    lines += [*record.get("nvidia_smi_L", []), "```", ""]
    lines += ["| worker | CUDA_VISIBLE_DEVICES | GPU it sees | sys.prefix |", "|---|---|---|---|"]
    for name, workers in record.get("workers", {}).items():
        for w in workers:
            seen = ", ".join(f"{g['name']} {g['uuid']}" for g in w["gpus_seen"]) or "none"
            where = f"{name} {w['url']} (pid {w['pid']})"
            lines.append(f"| {where} | `{w['cuda_visible_devices']}` | {seen} | {w['sys_prefix']} |")
    both = record.get("both", {})
    scaling = record.get("scaling_two_gpus", {})
    compare = record.get("compare", {})
    lines += [
        "",
        f"- DeepSeek-OCR alone: {rate(record.get('deepseek_alone'))}",
        f"- MinerU alone: {rate(record.get('mineru_alone'))}",
        f"- DeepSeek-OCR while MinerU runs: {rate(both.get('deepseek'))}, x{both.get('deepseek_vs_alone')}",
        f"- MinerU while DeepSeek-OCR runs: {rate(both.get('mineru'))}, x{both.get('mineru_vs_alone')}",
        f"- DeepSeek-OCR on two GPUs (two replicas): {rate(scaling)}, x{scaling.get('speedup_vs_one_gpu')}"
        f" of one GPU; pages by worker {json.dumps(scaling.get('pages_by_worker'))}",
        f"- compare `deepseek-ocr,mineru`: HTTP {compare.get('status')}, "
        f"pages {json.dumps(compare.get('pages'))}, agreement {json.dumps(compare.get('agreement'))}",
        "",
        "nvidia-smi while both ran:",
        "",
        "| GPU | UUID | used MiB |",
        "|---|---|---:|",
    ]
    state = record.get("gpu_state_both") or record.get("gpu_state_idle") or {}
    for gpu in state.get("gpus", []):
        lines.append(f"| {gpu.get('index')} | {gpu.get('uuid')} | {gpu.get('memory_used_mib')} |")
    lines += ["", "| pid | GPU UUID | used MiB |", "|---|---|---:|"]
    for proc in state.get("processes", []):
        lines.append(f"| {proc.get('pid')} | {proc.get('gpu_uuid')} | {proc.get('used_memory_mib')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "records")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ocrgate-two-gpu"))
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/ocrgate-two-gpu/dsocr2"))
    parser.add_argument("--mineru-python", type=Path, required=True)
    parser.add_argument("--pages-dir", type=Path, required=True)
    parser.add_argument(
        "--pdf", type=Path, required=True, help="a born-digital PDF (MinerU flash reads its text)"
    )
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--deepseek-pages", type=int, default=2, help="pages per measurement, x concurrency")
    parser.add_argument("--mineru-requests", type=int, default=40)
    parser.add_argument("--parts", default="alone,both,compare,scaling")
    parser.add_argument("--start-timeout", type=float, default=300)
    parser.add_argument("--cpu", action="store_true", help="a dry run without GPUs (tiny settings)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"nvidia_smi_L": [" ".join(g) for g in smi("index,name,uuid")]}
    out = args.out / "two_gpu.json"

    def save() -> None:
        out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    if parts == {"mineru-smoke"}:
        return mineru_smoke(args)
    t0 = time.perf_counter()
    build_model(args.model_dir, "0", args.cpu)
    record["model_build_s"] = round(time.perf_counter() - t0, 1)
    images = [
        (p.name, p.read_bytes(), "image/png" if p.suffix == ".png" else "image/jpeg")
        for p in sorted(args.pages_dir.iterdir())
        if p.suffix in {".png", ".jpg"}
    ]
    pdf = [(args.pdf.name, args.pdf.read_bytes(), "application/pdf")]
    deepseek_form = {
        "backend": "deepseek-ocr",
        "boxes": "none",
        "options": json.dumps({"max_tokens": args.tokens, "mode": "free"}),
    }
    mineru_form = {"backend": "mineru", "boxes": "none"}

    serve = Serve(config(args, args.work), args.work, "serve")
    try:
        t0 = time.perf_counter()
        backends = serve.wait(args.start_timeout)
        record["start_s"] = round(time.perf_counter() - t0, 1)
        settings = serve.settings["backends"]
        lanes = settings["deepseek-ocr"]["concurrency"]
        mineru_lanes = settings["mineru"].get("concurrency", 1)
        count = args.deepseek_pages * lanes
        record["workers"] = {
            b["name"]: [
                {
                    "url": w["url"],
                    "pid": w["health"]["pid"],
                    "sys_prefix": w["health"]["sys_prefix"],
                    "cuda_visible_devices": w["health"]["device"]["cuda_visible_devices"],
                    "gpus_seen": [
                        {"uuid": g.get("uuid"), "name": g.get("name")} for g in w["health"]["device"]["gpus"]
                    ],
                }
                for w in b["workers"]
            ]
            for b in backends
        }
        record["info"] = {b["name"]: b["info"] for b in backends}
        record["gpu_state_idle"] = gpu_state()
        save()
        # warm-up: every image once (kernels, the first prefill), MinerU once
        asyncio.run(
            drive(
                serve.url,
                images,
                deepseek_form | {"options": json.dumps({"max_tokens": 16})},
                len(images),
                len(images),
            )
        )
        asyncio.run(drive(serve.url, pdf, mineru_form, 2, 2))
        if "alone" in parts:
            record["deepseek_alone"] = asyncio.run(drive(serve.url, images, deepseek_form, count, lanes))
            record["gpu_state_deepseek"] = gpu_state()
            save()
            record["mineru_alone"] = asyncio.run(
                drive(serve.url, pdf, mineru_form, args.mineru_requests, mineru_lanes)
            )
            save()
        if "both" in parts:

            async def both() -> list[dict[str, Any]]:
                # MinerU keeps going exactly as long as DeepSeek-OCR runs
                deepseek = asyncio.ensure_future(drive(serve.url, images, deepseek_form, count, lanes))
                mineru = await drive(serve.url, pdf, mineru_form, 10**6, mineru_lanes, until=deepseek)
                return [await deepseek, mineru]

            states: list[dict[str, Any]] = []

            async def polled() -> list[dict[str, Any]]:
                task = asyncio.ensure_future(both())
                while not task.done():
                    await asyncio.sleep(5)
                    states.append(await asyncio.to_thread(gpu_state))
                return task.result()

            deepseek, mineru = asyncio.run(polled())
            record["both"] = {"deepseek": deepseek, "mineru": mineru}
            record["gpu_state_both"] = states[len(states) // 2] if states else gpu_state()
            if "deepseek_alone" in record:
                record["both"]["deepseek_vs_alone"] = round(
                    deepseek["pages_per_s"] / record["deepseek_alone"]["pages_per_s"], 3
                )
                record["both"]["mineru_vs_alone"] = round(
                    mineru["pages_per_s"] / record["mineru_alone"]["pages_per_s"], 3
                )
            save()
        if "compare" in parts:
            response = httpx.post(
                f"{serve.url}/v1/ocr",
                files={"file": pdf[0]},
                data={"backend": "deepseek-ocr,mineru", "boxes": "first"},
                timeout=900,
            )
            body = response.json()
            record["compare"] = {
                "status": response.status_code,
                "error": None if response.status_code == 200 else response.text[:500],
                "backends": body.get("backends"),
                "agreement": body.get("agreement"),
                "pages": {name: len(r.get("pages", [])) for name, r in body.get("results", {}).items()},
                "markdown_chars": {
                    name: len(r.get("markdown", "")) for name, r in body.get("results", {}).items()
                },
                "mineru_markdown_start": body.get("results", {}).get("mineru", {}).get("markdown", "")[:300],
                "timings": {name: r.get("timings") for name, r in body.get("results", {}).items()},
            }
            save()
        record["engines"] = engines(serve.url)
    finally:
        serve.stop()
    if "scaling" in parts and "deepseek_alone" in record:
        serve = Serve(config(args, args.work, scaling=True), args.work, "scaling")
        try:
            serve.wait(args.start_timeout)
            asyncio.run(
                drive(
                    serve.url,
                    images,
                    deepseek_form | {"options": json.dumps({"max_tokens": 16})},
                    2 * len(images),
                    2 * len(images),
                )
            )
            two = asyncio.run(drive(serve.url, images, deepseek_form, 2 * count, 2 * lanes))
            two["pages_by_worker"] = {
                w["url"]: w["health"]["pages_done"]
                for w in httpx.get(f"{serve.url}/v1/backends", timeout=10).json()[0]["workers"]
            }
            two["gpu_state"] = gpu_state()
            two["engines"] = engines(serve.url)
            two["speedup_vs_one_gpu"] = round(two["pages_per_s"] / record["deepseek_alone"]["pages_per_s"], 3)
            record["scaling_two_gpus"] = two
        finally:
            serve.stop()
    save()
    (args.out / "two_gpu.md").write_text(markdown(record), encoding="utf-8")
    print(markdown(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
