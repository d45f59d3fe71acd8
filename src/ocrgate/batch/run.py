"""Running a batch: skip what is done, read the rest (here, or N at once in worker processes), show
progress, and sum it up (on stderr and in `summary.csv`).

Parallel runs (`jobs` > 1) use worker processes, each with its own reader (`readers.make_reader`):
an in-process backend loads its model once per process, and everything around the engine
(rasterising, layout, rendering, writing PDFs) runs in parallel too, which threads would serialise
on the GIL and, for Tesseract, on pytesseract's one lock per process. With `--via` each process
sends one request at a time, so N processes are N concurrent requests. Processes are started with
`spawn` (no fork of a process holding threads); one run at a time is read here, without a pool.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ocrgate.backends.base import Backend
from ocrgate.batch import outputs
from ocrgate.batch.inputs import Input
from ocrgate.batch.readers import LocalReader, Plan, Reader, make_reader
from ocrgate.batch.work import Outcome, file_separator, read_one
from ocrgate.documents import open_document
from ocrgate.errors import OCRGateError


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    csv: str | None = None

    def count(self, *statuses: str) -> int:
        return sum(o.status in statuses for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return not self.interrupted and self.count("failed", "partial") == 0


class _Bars:
    """One bar over the files, and one per document being read (pages), removed when it is done."""

    def __init__(self, console: Console, names: Sequence[str]) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.names = names
        self.files = self.progress.add_task("files", total=len(names))
        self.pages: dict[int, TaskID] = {}
        self.finished: set[int] = set()
        self.pages_done = self.failures = 0
        self.lock = threading.Lock()

    def page(self, number: int, done: int, total: int) -> None:
        with self.lock:
            if number in self.finished:
                return  # a late event of a document already counted
            task = self.pages.get(number)
            if task is None:
                task = self.pages[number] = self.progress.add_task(f"  {self.names[number]}", total=total)
            self.progress.update(task, completed=done, total=total)

    def file_done(self, number: int, outcome: Outcome) -> None:
        with self.lock:
            self.finished.add(number)
            task = self.pages.pop(number, None)
            if task is not None:
                self.progress.remove_task(task)
            self.pages_done += outcome.pages
            self.failures += outcome.status in ("failed", "partial")
            description = f"files [dim]{self.pages_done} pages, {self.failures} failed[/dim]"
            self.progress.update(self.files, advance=1, description=description)


_WORKER: dict[str, Any] = {}
#: how much earlier than the run's start an output may be dated and still count as written by it
MTIME_SLACK_S = 1.0


def _start_worker(plan: Plan, queue: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _WORKER.update(plan=plan, queue=queue, reader=make_reader(plan))


def _work(number: int, item: Input) -> Outcome:
    queue = _WORKER["queue"]
    return read_one(
        item, _WORKER["plan"], _WORKER["reader"], lambda done, total: queue.put((number, done, total))
    )


def _drain(queue: Any, bars: _Bars) -> None:
    while (event := queue.get()) is not None:
        bars.page(*event)


class _Printer:
    """Each outcome as it comes: its problems on stderr, its payload (no --out) on stdout."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.printed = False  # some input's output is on stdout already

    def __call__(self, outcome: Outcome) -> None:
        for problem in outcome.problems:
            self.console.print(
                f"[red]error:[/red] {outcome.name}: {problem}", highlight=False, soft_wrap=True
            )
        for fmt, data in outcome.payload.items():
            sys.stdout.buffer.write((file_separator(fmt) if self.printed else b"") + data)
            sys.stdout.buffer.flush()
            self.printed = True


def _terminate(executor: ProcessPoolExecutor) -> None:
    # Python 3.14 has executor.terminate_workers(); before it, the processes are only reachable here
    for process in list(getattr(executor, "_processes", {}).values()):
        process.terminate()


def _in_pool(
    todo: Sequence[Input], plan: Plan, workers: int, bars: _Bars, emit: _Printer, done: list[Outcome]
) -> None:
    """Read `todo` in `workers` processes, each outcome appended to `done` as it comes (so that an
    interrupted run keeps every file finished before)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    drain = threading.Thread(target=_drain, args=(queue, bars), daemon=True)
    drain.start()
    executor = ProcessPoolExecutor(workers, context, _start_worker, (plan, queue))
    try:
        futures: dict[Future[Outcome], int] = {
            executor.submit(_work, n, item): n for n, item in enumerate(todo)
        }
        for future in as_completed(futures):
            number = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker process died (killed, out of memory, a crash)
                outcome = Outcome(todo[number].name, "failed", problems=[f"its worker process died ({exc})"])
            done.append(outcome)
            bars.file_done(number, outcome)
            emit(outcome)
    except BaseException:
        _terminate(executor)
        raise
    finally:
        # waits for the executor's own thread too: a `shutdown(wait=False)` first would let it outlive
        # the run and race the interpreter's exit, which then writes to its closed wake-up pipe (a
        # traceback after Ctrl-C, "Bad file descriptor", now and then)
        executor.shutdown(wait=True, cancel_futures=True)
        queue.put(None)
        drain.join(timeout=5)


def _here(
    todo: Sequence[Input], plan: Plan, reader: Reader, bars: _Bars, emit: _Printer, done: list[Outcome]
) -> None:
    """Read `todo` one after the other in this process, each outcome appended to `done`."""
    for number, item in enumerate(todo):
        outcome = read_one(item, plan, reader, lambda d, t, n=number: bars.page(n, d, t))
        done.append(outcome)
        bars.file_done(number, outcome)
        emit(outcome)


def _pages_done_before(item: Input, plan: Plan, earlier: outputs.Row | None) -> int:
    """The page count of an input done by an earlier run: its row of the earlier summary, else (a
    summary lost, or cut short by an older version) the document's own count, 0 if it cannot be opened."""
    if earlier is not None and earlier.pages > 0:
        return earlier.pages
    try:
        document = open_document(item.path.read_bytes(), item.path.name, plan.limits, plan.dpi)
    except (OSError, OCRGateError):
        return 0
    try:
        return document.page_count
    finally:
        document.close()


def _finished_unreported(
    inputs: Sequence[Input], reported: Sequence[Outcome], plan: Plan, since: float
) -> list[Outcome]:
    """Inputs whose outputs were all written by this run (modified since `since`, epoch seconds) though
    their outcome never reached it: a worker process that finished a file as Ctrl-C came. They are `ok`
    (no errors log), their seconds unknown (0)."""
    assert plan.out is not None
    seen = {outcome.name for outcome in reported}
    finished = []
    for item in inputs:
        if item.name in seen or not outputs.is_done(plan.out, item.stem, plan.formats, plan.boxes):
            continue
        written = [outputs.output_path(plan.out, item.stem, fmt) for fmt in plan.formats]
        try:  # a file's time is the kernel's coarse clock, which may lag `time.time()` by some ms
            fresh = all(path.stat().st_mtime >= since - MTIME_SLACK_S for path in written)
        except OSError:
            fresh = False
        if fresh:
            finished.append(Outcome(item.name, "ok", pages=_pages_done_before(item, plan, None)))
    return finished


def run_batch(
    inputs: Sequence[Input],
    plan: Plan,
    jobs: int,
    console: Console,
    *,
    backend: Backend | None = None,
    force: bool = False,
    refused: Sequence[tuple[Input, str]] = (),
) -> Summary:
    """Read every input not done yet (all with `force`); `backend` is the checked in-process backend
    to use when reading here; `refused` inputs (not to be read, with why) count as failed.

    Ctrl-C (KeyboardInterrupt) stops the run; the summary is still written, atomically, with a row for
    every input finished or skipped before it (an input being read then has none, and its outputs
    are not all there: the next run reads it again). A skipped input's row keeps its page count."""
    started, wall_start = time.perf_counter(), time.time()
    summary = Summary(outcomes=[Outcome(item.name, "failed", problems=[why]) for item, why in refused])
    previous = outputs.read_summary(plan.out) if plan.out is not None else {}
    if plan.out is not None:
        with contextlib.suppress(OSError):  # an output folder that cannot be written fails each file
            outputs.record_stems(plan.out, [item.stem for item in inputs])
    try:
        todo = []
        for item in inputs:
            # cached: is_done may ask for the count and the skip row does, which may open the document
            earlier = previous.get(item.name)
            count = functools.cache(functools.partial(_pages_done_before, item, plan, earlier))
            if (
                plan.out is not None
                and not force
                and outputs.is_done(plan.out, item.stem, plan.formats, plan.boxes, count)
            ):
                summary.outcomes.append(Outcome(item.name, "skipped", pages=count()))
            else:
                todo.append(item)
        emit = _Printer(console)
        bars = _Bars(console, [item.name for item in todo])
        with bars.progress:
            if jobs > 1 and len(todo) > 1:
                _in_pool(todo, plan, min(jobs, len(todo)), bars, emit, summary.outcomes)
            elif todo:
                reader = LocalReader(plan, backend) if backend is not None else make_reader(plan)
                try:
                    _here(todo, plan, reader, bars, emit, summary.outcomes)
                finally:
                    reader.close()
    except KeyboardInterrupt:
        summary.interrupted = True
        if plan.out is not None:
            summary.outcomes += _finished_unreported(inputs, summary.outcomes, plan, wall_start)
    summary.seconds = time.perf_counter() - started
    if plan.out is not None:
        named = [*inputs, *(item for item, _ in refused)]
        order = {item.name: k for k, item in enumerate(named)}
        rows = sorted((o.row() for o in summary.outcomes), key=lambda row: order.get(row.path, 0))
        summary.csv = str(outputs.write_summary(plan.out, rows))
    return summary


def print_summary(summary: Summary, console: Console) -> None:
    """One line for the files, one for the pages, and where the CSV is. Files read are those with a
    reading (`ok` or `partial`); a file that could not be read is counted among the failed only."""
    read = [o for o in summary.outcomes if o.status in ("ok", "partial")]
    pages = sum(o.pages for o in read)
    failed_pages = sum(len(o.problems) for o in read if o.status == "partial")
    line = f"{len(read)} {'file' if len(read) == 1 else 'files'} read in {summary.seconds:.1f} s"
    if skipped := summary.count("skipped"):
        done_before = sum(o.pages for o in summary.outcomes if o.status == "skipped")
        line += f", {skipped} skipped (done before: {done_before} {'page' if done_before == 1 else 'pages'})"
    if failed := summary.count("failed"):
        line += f", [red]{failed} failed[/red]"
    if partial := summary.count("partial"):
        line += f", [yellow]{partial} with failed pages[/yellow]"
    line += f"; {pages} {'page' if pages == 1 else 'pages'}" + (
        f", [red]{failed_pages} failed[/red]" if failed_pages else ""
    )
    if summary.interrupted:
        line += " [red](interrupted)[/red]"
    console.print(line, highlight=False)
    if summary.csv:
        console.print(f"summary: {summary.csv}", highlight=False)
