"""`ocrgate ocr DIR --out OUT -j N`: worker processes or threads, measured on real pages.

The pages: the tesseract_test and receipts sets (`--quick`: tesseract_test alone), copied into a
temporary folder. Each configuration reads the folder into a fresh output folder and writes md and
ALTO; the figure is the wall clock of the whole run.
- *processes* (what `-j N` does): the real command line, `python -m ocrgate ocr DIR --out OUT -j N`,
  start-up and model loading in each worker process included;
- *threads* (the alternative): N threads in one process, each with its own RapidOCR backend (an
  in-process backend holds one lock around its engine, so one object cannot be shared), reading the
  same files with the same per-file function (`ocrgate.batch.work.read_one`), model loading counted
  (the interpreter's start-up and imports are not, so threads are favoured by a second or two).

    python -m bench.batch_parallel [--quick] [--jobs 1,2,4] [--backend rapidocr]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import EVAL_DIR, REPO, Report, base_parser, machine, machine_line, main_for, table
from ocrgate.backends import registry
from ocrgate.batch.inputs import find_inputs
from ocrgate.batch.readers import LocalReader, Plan
from ocrgate.batch.work import read_one
from ocrgate.config import Limits


def _pages(folder: Path, quick: bool) -> int:
    sources = [EVAL_DIR / "tesseract_test" / "images"]
    if not quick:
        sources.append(EVAL_DIR / "receipts" / "images")
    count = 0
    for source in sources:
        for path in sorted(source.iterdir()):
            if path.suffix.lower() in (".png", ".jpg"):
                shutil.copy(path, folder / path.name)
                count += 1
    return count


def _processes(folder: Path, out: Path, jobs: int, backend: str) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "ocrgate", "ocr", str(folder), "--out", str(out), "-j", str(jobs)]
    done = subprocess.run(
        [*command, "-f", "md,alto", "-b", backend], cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - started


def _threads(folder: Path, out: Path, jobs: int, backend: str) -> float:
    started = time.perf_counter()
    plan = Plan(formats=("md", "alto"), out=out, limits=Limits(), backend=backend)
    readers = [LocalReader(plan, registry.create(backend)) for _ in range(jobs)]
    for reader in readers:
        reader.backend.load()
    inputs = find_inputs([folder], out).inputs
    with ThreadPoolExecutor(jobs) as pool:
        list(
            pool.map(
                lambda k: [read_one(i, plan, readers[k], lambda d, t: None) for i in inputs[k::jobs]],
                range(jobs),
            )
        )
    seconds = time.perf_counter() - started
    for reader in readers:
        reader.close()
    return seconds


def run(args: Any) -> Report:
    info = machine()
    jobs = [int(j) for j in args.jobs.split(",")]
    rows, data = [], {"machine": info, "backend": args.backend, "runs": []}
    with tempfile.TemporaryDirectory(prefix="ocrgate-bench-") as tmp:
        folder = Path(tmp) / "pages"
        folder.mkdir()
        pages = _pages(folder, args.quick)
        data["pages"] = pages
        for n in jobs:
            for kind, measure in (("processes", _processes), ("threads", _threads)):
                out = Path(tmp) / f"out-{kind}-{n}"
                seconds = measure(folder, out, n, args.backend)
                data["runs"].append(
                    {"kind": kind, "jobs": n, "seconds": seconds, "pages_per_s": pages / seconds}
                )
                rows.append([kind, n, seconds, pages / seconds])
    lines = [
        f"{data['pages']} pages, {args.backend}; {machine_line(info)}.",
        "",
        *table(["kind", "-j", "seconds", "pages/s"], rows),
    ]
    return Report("batch_parallel", "ocrgate ocr DIR -j N: processes or threads", data, lines)


def parser() -> Any:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--jobs", default="1,2", help="comma list of -j values")
    p.add_argument("--backend", default="rapidocr")
    return p


if __name__ == "__main__":
    raise SystemExit(main_for(run, parser()))
