"""What every benchmark shares: the machine, real clusters on loopback, the pages, statistics, reports.

A benchmark module exposes `run(args) -> Report`; `write_report` puts its figures in
`bench/results/NAME.json` and its text in `bench/results/NAME.md`. Figures are whole numbers or
two decimals; latencies are in milliseconds, durations in seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / "src", REPO):  # `python bench/x.py` and a checkout without `pip install -e .`
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from tests.gateway.cluster import Cluster  # noqa: E402

EVAL_DIR = Path(os.environ.get("OCRGATE_EVAL_DIR", REPO.parent / "shared" / "eval"))
RESULTS = REPO / "bench" / "results"
NOOP = "bench.noop_backend:NoopBackend"
SAMPLE_PAGE = REPO / "src" / "ocrgate" / "samples" / "sample_page.png"


# ---------------------------------------------------------------------------------------------- machine


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def busy_processes(top: int = 5, sample_s: float = 0.5) -> list[dict[str, Any]]:
    """The processes that used the most CPU over `sample_s` (this run's own included), from /proc."""

    def ticks() -> dict[int, tuple[str, int]]:
        out = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = stat.read_text()
                name = text[text.index("(") + 1 : text.rindex(")")]
                fields = text[text.rindex(")") + 2 :].split()
                out[int(stat.parent.name)] = (name, int(fields[11]) + int(fields[12]))
        return out

    if not Path("/proc/self/stat").exists():
        return []
    before = ticks()
    time.sleep(sample_s)
    after = ticks()
    hz = os.sysconf("SC_CLK_TCK")
    used = [
        (pid, name, (t - before[pid][1]) / hz / sample_s) for pid, (name, t) in after.items() if pid in before
    ]
    used.sort(key=lambda u: -u[2])
    return [
        {"pid": pid, "name": name, "cpu": round(share, 2)} for pid, name, share in used[:top] if share > 0
    ]


def machine() -> dict[str, Any]:
    """The machine as the reader needs it to judge the figures: cores, CPU, how loaded it was."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": affinity,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "load_average_1_5_15": load_average(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "uvicorn_speedups_installed": fast_servers(),
        "busiest_processes": busy_processes(),
    }


def machine_line(info: dict[str, Any]) -> str:
    load = info.get("load_average_1_5_15") or []
    return (
        f"{info['nproc']} cores usable ({info['cpu_model']}), load average "
        f"{' / '.join(str(v) for v in load) or 'unknown'} (1/5/15 min) when the run started"
    )


# ---------------------------------------------------------------------------------------------- pages


@dataclass
class SamplePage:
    name: str
    data: bytes
    width: int
    height: int
    media_type: str = "image/png"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.width}x{self.height}, {len(self.data) / 1024:.0f} KiB)"


def _page(path: Path) -> SamplePage:
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
    return SamplePage(path.name, path.read_bytes(), width, height)


def small_page() -> SamplePage:
    """A real scanned page, small: tesseract's phototest (640x480); the bundled sample without it."""
    path = EVAL_DIR / "tesseract_test" / "images" / "phototest.png"
    return _page(path if path.is_file() else SAMPLE_PAGE)


def full_page() -> SamplePage | None:
    """A whole A4 page rendered at 150 dpi (1240x1754) from the docling set, when it is at hand."""
    path = EVAL_DIR / "docling_pdf" / "images" / "multi_page_p1.png"
    return _page(path) if path.is_file() else None


A4_PAGE = EVAL_DIR / "docling_pdf" / "images" / "2305.03393v1-pg9_p1.png"


def a4_png() -> SamplePage | None:
    """A whole page of a paper as a PNG (1275x1650, 287 KiB: 8.5 x 11 in at 150 dpi), when at hand."""
    return _page(A4_PAGE) if A4_PAGE.is_file() else None


def a4_jpeg(quality: int = 90) -> SamplePage | None:
    """The same page as a JPEG at `quality` (made here, in memory), when at hand."""
    from PIL import Image

    if not A4_PAGE.is_file():
        return None
    buffer = io.BytesIO()
    with Image.open(A4_PAGE) as image:
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
        width, height = image.size
    return SamplePage(A4_PAGE.with_suffix(".jpg").name, buffer.getvalue(), width, height, "image/jpeg")


# ---------------------------------------------------------------------------------------------- clusters


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def fast_servers() -> dict[str, bool]:
    """Whether uvicorn finds uvloop and httptools here (it uses them when installed: the project
    declares `uvicorn[standard]`, which brings both; a machine's own Python may lack them)."""
    found = {}
    for name in ("uvloop", "httptools"):
        try:
            found[name] = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found[name] = False
    return found


_HIDE = 'raise ImportError("hidden by the benchmark: plain asyncio + h11, as a fresh install has")\n'


@contextlib.contextmanager
def running_cluster(
    backends: dict[str, dict[str, Any]],
    gateway: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    timeout_s: float = 180,
    plain_servers: bool = False,
) -> Iterator[Cluster]:
    """`ocrgate serve` on free loopback ports with these backends, stopped (and cleaned) afterwards.

    `plain_servers`: hide uvloop and httptools from the gateway and workers, so uvicorn runs on
    asyncio's own loop and h11 whatever this environment has installed.
    """
    tmp = Path(tempfile.mkdtemp(prefix="ocrgate-bench-"))
    paths = [str(REPO), str(REPO / "src"), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    if plain_servers:
        for name in ("uvloop", "httptools"):
            (tmp / "hide" / name).mkdir(parents=True)
            (tmp / "hide" / name / "__init__.py").write_text(_HIDE, encoding="utf-8")
        paths.insert(0, str(tmp / "hide"))
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(filter(None, paths)))  # workers import bench.*
    cluster = Cluster(tmp, backends, gateway=gateway, limits=limits)
    try:
        try:
            cluster.start(timeout_s)
        except (TimeoutError, AssertionError):
            cluster.log.flush()
            log = (tmp / "serve.log").read_text(errors="replace")[-4000:]
            raise RuntimeError(f"the cluster did not come up; its log ends with:\n{log}") from None
        yield cluster
    finally:
        cluster.stop()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
        shutil.rmtree(tmp, ignore_errors=True)


def cpu_seconds(pid: int) -> float | None:
    """Seconds process `pid` has run on a CPU, all its threads together, to the nanosecond (Linux:
    `/proc/PID/task/TID/schedstat`, whose first field is the time on a CPU in ns); None elsewhere."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that just ended
                total += int((task / "schedstat").read_text().split()[0])
    except OSError:
        return None
    return total / 1e9


def minor_faults(pid: int) -> int | None:
    """Minor page faults of process `pid` so far, all its threads, ended ones too (proc(5):
    `/proc/PID/stat` field 10, `minflt`); None where there is no such file."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[7])  # fields after the command's ")": state is field 3, minflt field 10


def worker_urls(cluster: Cluster, backend: str) -> list[str]:
    return [w["url"] for w in cluster.workers()[backend]]


@contextlib.contextmanager
def running_proxy(workers: str | list[str], timeout_s: float = 60) -> Iterator[str]:
    """`bench.minimal_proxy` in front of `workers` on a free loopback port (in the environment
    `running_cluster` set, so it runs on the same servers); its base URL, stopped afterwards."""
    import httpx
    from tests.gateway.cluster import free_ports

    port = free_ports(1)
    command = [sys.executable, "-m", "bench.minimal_proxy", "--port", str(port)]
    for worker in [workers] if isinstance(workers, str) else workers:
        command += ["--worker", worker]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"the minimal proxy exited: {error[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the minimal proxy did not come up")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """n, p50, p90, p99, mean, min, max of `seconds`, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "mean": sum(ms) / len(ms),
        "min": min(ms),
        "max": max(ms),
    }


def tidy(value: Any) -> Any:
    """Floats to two decimals (whole numbers stay whole), recursively."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value) if abs(value) >= 100 else round(value, 2)
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(v) for v in value]
    return value


def fmt(value: Any) -> str:
    """A figure for a markdown cell: two decimals at most, whole numbers from 100 up."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "meets" if ok else "misses"


# ---------------------------------------------------------------------------------------------- reports


@dataclass
class Report:
    name: str
    title: str
    data: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        return "\n".join([f"## {self.title}", "", *self.lines]).rstrip() + "\n"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def write_report(report: Report, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{report.name}.json", out / f"{report.name}.md"
    json_path.write_text(json.dumps(tidy(report.data), indent=2) + "\n", encoding="utf-8")
    md_path.write_text(f"# ocrgate benchmark: {report.name}\n\n" + report.markdown(), encoding="utf-8")
    return json_path, md_path


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small version, for a first look")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON and markdown go")
    return parser


def main_for(run: Any, parser: argparse.ArgumentParser) -> int:
    """`python -m bench.X`: run one benchmark, write its report, print its markdown."""
    args = parser.parse_args()
    started = time.perf_counter()
    report = run(args)
    report.data.setdefault("wall_s", time.perf_counter() - started)
    json_path, md_path = write_report(report, args.out)
    print(report.markdown())
    print(f"written: {json_path} and {md_path} ({time.perf_counter() - started:.0f} s)")
    return 0
