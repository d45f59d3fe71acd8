"""Shared by the MinerU tests: servers as real processes, the real-mineru virtualenv, PDF geometry."""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from ocrgate.documents import open_document
from ocrgate.schema import PageResult
from tests.gateway.cluster import free_ports

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "mineru"
PROBE = Path(__file__).with_name("mineru_probe.py")
MINERU_VENV = REPO / ".venvs" / "mineru-test"
MINERU_VERSION = "4.0.12"  # the Makefile's MINERU_VERSION


class Recorder(httpx.HTTPTransport):
    """Notes every request the client makes (method, path)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        return super().handle_request(request)


def mineru_python() -> Path:
    """The test virtualenv's python with the real mineru; skips (saying how to make it) when absent."""
    python = MINERU_VENV / "bin" / "python"
    if not (MINERU_VENV / ".installed").is_file() or not python.is_file():
        pytest.skip(f"the real mineru is not installed in {MINERU_VENV} (run `make mineru-test-venv`)")
    return python


def mineru_env(home: Path) -> dict[str, str]:
    """Environment for real-mineru processes: its home (config, model dir, logs) in a temp folder."""
    return {**os.environ, "MINERU_HOME": str(home), "PYTHONPATH": str(REPO / "src")}


def probe(home: Path, *args: str, stdin: str | None = None, timeout: float = 240) -> Any:
    """Run mineru_probe.py in the real-mineru virtualenv; its JSON answer."""
    done = subprocess.run(
        [str(mineru_python()), str(PROBE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=mineru_env(home),
        cwd=home,  # MinerU writes its lock file and blob store into the working directory
    )
    if done.returncode != 0:
        raise AssertionError(f"mineru probe {args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _start(argv: Sequence[str], log: Path, env: dict[str, str] | None, timeout_s: float):  # type: ignore[no-untyped-def]
    """One try: the process and its URL once /v1/health answers, or None if it exited first."""
    port = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [part.replace("{port}", str(port)) for part in argv],
            cwd=(env or {}).get("MINERU_HOME", REPO),  # the real MinerU writes a lock and blobs here
            env=env or {**os.environ, "PYTHONPATH": str(REPO / "src")},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while process.poll() is None:
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            _stop(process)
            raise AssertionError(f"{argv[0]} not healthy in {timeout_s} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return None


@contextmanager
def server(
    argv: Sequence[str], log: Path, env: dict[str, str] | None = None, timeout_s: float = 90
) -> Iterator[str]:
    """Start `argv` (`{port}` filled in) in its own process group; its URL once /v1/health answers.

    A process that exits before it is healthy (its port taken meanwhile by another test run on this
    machine) is started again on another port, twice at most.
    """
    for _ in range(3):
        started = _start(argv, log, env, timeout_s)
        if started is not None:
            break
    else:
        raise AssertionError(f"{argv[0]} exited before it was healthy:\n{log.read_text()[-3000:]}")
    process, url = started
    try:
        yield url
    finally:
        _stop(process)


def fake_argv(tier: str = "standard", seconds_per_page: float = 0.05) -> list[str]:
    return [
        sys.executable, "-m", "tests.fakes.mineru_api", "--port", "{port}", "--fixtures", str(FIXTURES),
        "--tier", tier, "--seconds-per-page", str(seconds_per_page),
    ]  # fmt: skip


def real_argv(tier: str = "flash") -> list[str]:
    """The real MinerU API server from the test virtualenv: the click command `mineru-api` forwards to.

    Not `python -m mineru.parser.api_server`: run as __main__, that module's error classes differ
    from the ones its task routes import, and every refusal comes back as a 500.
    """
    main = "import sys; from mineru.parser.api_server import main; sys.exit(main())"
    return [str(mineru_python()), "-c", main, "--tier", tier, "--port", "{port}"]


def page_sizes(data: bytes, dpi: int = 144) -> list[tuple[int, int]]:
    """(width, height) of each page as the gateway shows it (our own rasteriser)."""
    document = open_document(data, "upload", dpi=dpi)
    try:
        return [(page.width, page.height) for page in document.iter_pages()]
    finally:
        document.close()


def _device_to_page(page: pdfium.PdfPage, size: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    px, py = ctypes.c_double(), ctypes.c_double()
    k = 16  # pdfium takes whole device pixels: ask on a 16x finer device for sub-pixel precision
    ok = pdfium_c.FPDF_DeviceToPage(
        page.raw, 0, 0, size[0] * k, size[1] * k, 0, round(x * k), round(y * k), px, py
    )
    assert ok
    return px.value, py.value


def text_in_box(pdf: pdfium.PdfDocument, result: PageResult, bbox: Sequence[float]) -> str:
    """The PDF text layer inside a box given in the pixels of our page image (pdfium's own transform)."""
    page = pdf[result.index]
    size = (result.width, result.height)
    corners = [_device_to_page(page, size, x, y) for x in (bbox[0], bbox[2]) for y in (bbox[1], bbox[3])]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return str(page.get_textpage().get_text_bounded(min(xs), min(ys), max(xs), max(ys)))


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.casefold()))


def word_overlap(block_text: str, box_text: str) -> tuple[float, float]:
    """(recall, precision) of the block's words among the words inside its box (order-free)."""
    said, there = Counter(words(block_text).split()), Counter(words(box_text).split())
    common = sum((said & there).values())
    return common / max(1, sum(said.values())), common / max(1, sum(there.values()))


def assert_text_where_boxes_are(pdf_bytes: bytes, results: Sequence[PageResult], minimum: float = 0.8) -> int:
    """Each text/title block's words are the PDF's words inside its box (and not much else there).

    Order-free: on rotated pages MinerU's native extraction orders lines differently from pdfium.
    Returns the number of blocks checked.
    """
    pdf = pdfium.PdfDocument(pdf_bytes)
    checked = 0
    for result in results:
        for block in result.blocks:
            if block.kind not in ("text", "title") or len(words(block.text).split()) < 3:
                continue
            inside = text_in_box(pdf, result, block.bbox)
            recall, precision = word_overlap(block.text, inside)
            assert recall >= minimum and precision >= minimum, (result.index, block.text[:80], inside[:80])
            checked += 1
    return checked
