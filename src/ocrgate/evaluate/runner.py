"""Run evaluation pages through backends (in-process or through a gateway) into `results.jsonl`.

One JSON line per (backend, page) is appended as soon as the page is done, so an interrupted run loses at
most the page in flight. On a rerun, pairs already recorded without failure are skipped; failed ones are
tried again (the newest line for a pair wins).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ocrgate.evaluate import metrics
from ocrgate.evaluate.datasets import EvalPage
from ocrgate.evaluate.teds import teds
from ocrgate.schema import Block, OCRResponse

RESULTS = "results.jsonl"
#: `NAME:VARIANT` in `--backends` runs backend NAME with these request options, scored as its own row.
#: `lines`: the engine's own line order, one block per line, no reading-order step (the baseline that
#: shows whether ocrgate's processing helps or hurts). `nolayout`: no structure stage (no page
#: orientation, no layout regions or tables): paragraphs in reading order only.
VARIANTS: dict[str, dict[str, Any]] = {
    "lines": {"reading_order": "engine"},
    "nolayout": {"layout": "off", "orientation": "off"},
}


def backend_variant(name: str) -> tuple[str, dict[str, Any]]:
    """`"rapidocr:lines"` -> `("rapidocr", {"reading_order": "engine"})`; a plain name -> `(name, {})`.

    Raises ValueError for a variant not in `VARIANTS`.
    """
    backend, _, variant = name.partition(":")
    if not variant:
        return name, {}
    if variant not in VARIANTS:
        raise ValueError(f"unknown backend variant {variant!r} in {name!r}; known: {', '.join(VARIANTS)}")
    return backend, dict(VARIANTS[variant])


class ScoreOptions(BaseModel):
    """How texts are normalised before CER / WER / word-bag F1."""

    casefold: bool = True
    collapse_ws: bool = True
    strip_markdown: bool = True


class PageRecord(BaseModel):
    """One backend on one page: its output, timing, scores, or why it failed."""

    backend: str
    page_id: str
    source: str
    doc_type: str
    ok: bool = True
    cause: str | None = Field(default=None, description="failure cause: an error code or exception name")
    error: str | None = None
    seconds: float = Field(default=0.0, description="wall clock of the request, decode to response")
    ocr_seconds: float = 0.0
    markdown: str = ""
    cer: float | None = None
    wer: float | None = None
    f1: float | None = None
    ned: float | None = None
    truth_chars: int = Field(default=0, description="length of the normalised ground truth")
    tests_total: int = 0
    tests_passed: int = 0
    tests_by_type: dict[str, list[int]] = Field(default_factory=dict, description="type -> [passed, total]")
    test_failures: list[str] = Field(default_factory=list)
    tables_html: list[str] = Field(default_factory=list, description="the HTML of the page's table blocks")
    teds: float | None = Field(default=None, description="TEDS of the first table against `gt_html`")
    kinds: dict[str, int] = Field(default_factory=dict, description="block kind -> blocks on the page")
    finished_at: float = Field(default_factory=time.time)

    @property
    def key(self) -> tuple[str, str]:
        return self.backend, self.page_id


def score(record: PageRecord, page: EvalPage, options: ScoreOptions) -> PageRecord:
    """Fill in the record's metrics from its markdown and the page's ground truth."""
    if not record.ok:
        return record
    if page.gt_text is not None:
        norm = dict(
            casefold=options.casefold, collapse_ws=options.collapse_ws, markdown=options.strip_markdown
        )
        out = metrics.normalise(record.markdown, **norm)
        truth = metrics.normalise(page.gt_text, **norm)
        record.cer = metrics.cer(out, truth)
        record.truth_chars = len(truth)
        record.wer = metrics.wer(out, truth)
        record.f1 = metrics.word_bag_f1(out, truth)
        record.ned = metrics.ned(record.markdown, page.gt_text)
    if page.gt_html is not None:  # no table found reads as an empty one: 0
        record.teds = teds(record.tables_html[0] if record.tables_html else "", page.gt_html)
    if page.gt_tests:
        by_type: dict[str, list[int]] = {}
        failures: list[str] = []
        for test in page.gt_tests:
            passed, why = metrics.run_olmocr_test(test, record.markdown)
            counts = by_type.setdefault(str(test.get("type")), [0, 0])
            counts[0] += int(passed)
            counts[1] += 1
            if not passed:
                failures.append(f"{test.get('id')} ({test.get('type')}): {why}")
        record.tests_by_type = by_type
        record.tests_total = sum(t for _, t in by_type.values())
        record.tests_passed = sum(p for p, _ in by_type.values())
        record.test_failures = failures
    return record


def read_results(out: Path) -> dict[tuple[str, str], PageRecord]:
    """The newest record per (backend, page) in `out/results.jsonl`; unreadable lines are ignored."""
    records: dict[tuple[str, str], PageRecord] = {}
    path = out / RESULTS
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = PageRecord.model_validate_json(line)
        except ValueError:
            continue  # a line cut short by an interrupted run
        records[record.key] = record
    return records


class Recognizer(Protocol):
    """Recognises one page: returns (markdown, ocr_seconds) or (markdown, ocr_seconds, blocks of the
    page); raises on failure."""

    def __call__(self, page: EvalPage) -> tuple[str, float] | tuple[str, float, list[Block]]: ...


def _read_page_bytes(page: EvalPage) -> tuple[bytes, int | None]:
    """The bytes to send and, for a PDF, the 0-based page to keep."""
    path = page.input_path
    index = (page.pdf_page - 1) if (page.image is None and page.pdf_page) else None
    return path.read_bytes(), index


def _reading(response: OCRResponse, index: int | None) -> tuple[str, float, list[Block]]:
    """The page's markdown (the document's for a one-page file), the OCR seconds and its blocks."""
    chosen = _pick(response.pages, index)
    markdown = chosen.markdown if chosen is not None and len(response.pages) > 1 else response.markdown
    return markdown, response.timings.ocr, list(chosen.blocks) if chosen is not None else []


def _pick(pages: list[Any], index: int | None) -> Any:
    if not pages:
        return None
    if index is None or not 0 <= index < len(pages):
        index = 0
    return pages[index]


def in_process(backend_name: str, settings: dict[str, Any] | None = None) -> Recognizer:
    """A recognizer running `backend_name` (or a `NAME:VARIANT`, see `VARIANTS`) in this process,
    loaded on first page; `settings` are the backend's engine settings."""
    from ocrgate.backends import registry
    from ocrgate.documents import open_document
    from ocrgate.inprocess import recognize

    base, request_options = backend_variant(backend_name)
    engine = registry.create(base, settings or {})
    reason = engine.availability()
    if reason:
        raise RuntimeError(f"backend {base!r} is not available: {reason}")
    engine.parse_options(request_options)  # a bad variant fails here, before any page
    options = dict(request_options)

    def run(page: EvalPage) -> tuple[str, float, list[Block]]:
        data, index = _read_page_bytes(page)
        document = open_document(data, page.input_path.name)
        try:
            response = recognize(document, engine, options, boxes="none")
        finally:
            document.close()
        return _reading(response, index)

    return run


def via_gateway(backend_name: str, url: str, api_key: str | None = None) -> Recognizer:
    """A recognizer sending each page to a running gateway (`NAME:VARIANT` as request options)."""
    from ocrgate.client import OCRGateClient

    base, request_options = backend_variant(backend_name)
    client = OCRGateClient(url, api_key=api_key)

    def run(page: EvalPage) -> tuple[str, float, list[Block]]:
        data, index = _read_page_bytes(page)
        response = client.ocr(
            data, backend=base, options=request_options or None, boxes="none", filename=page.input_path.name
        )
        return _reading(response, index)

    return run


def _scored(record: PageRecord | None) -> bool:
    return record is not None and record.ok


def failure_cause(exc: BaseException) -> str:
    return str(getattr(exc, "code", "") or type(exc).__name__)


def run_pages(
    pages: Iterable[EvalPage],
    backends: list[str],
    out: Path,
    make_recognizer: Callable[[str], Recognizer],
    options: ScoreOptions | None = None,
    console: Console | None = None,
) -> dict[tuple[str, str], PageRecord]:
    """Every (backend, page) not yet scored in `out`, appended to `out/results.jsonl` as it finishes.

    Returns all records of the run folder (old and new). A backend that cannot be created fails all its
    pages with that cause rather than stopping the other backends.
    """
    options = options or ScoreOptions()
    out.mkdir(parents=True, exist_ok=True)
    pages = list(pages)
    records = read_results(out)
    todo = [(b, p) for b in backends for p in pages if not _scored(records.get((b, p.id)))]
    console = console or Console(stderr=True)
    recognizers: dict[str, Recognizer | BaseException] = {}
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[page]}"),
            console=console,
            disable=not console.is_terminal,
        ) as progress,
        (out / RESULTS).open("a", encoding="utf-8") as sink,
    ):
        task = progress.add_task("eval", total=len(todo), page="")
        for backend, page in todo:
            progress.update(task, description=backend, page=page.id)
            if backend not in recognizers:
                try:
                    recognizers[backend] = make_recognizer(backend)
                except Exception as exc:  # reported per page, the other backends go on
                    recognizers[backend] = exc
            recognizer = recognizers[backend]
            record = PageRecord(backend=backend, page_id=page.id, source=page.source, doc_type=page.doc_type)
            t0 = time.perf_counter()
            try:
                if isinstance(recognizer, BaseException):
                    raise recognizer
                reading = recognizer(page)
                record.markdown, record.ocr_seconds = reading[0], reading[1]
                blocks: list[Block] = list(reading[2]) if len(reading) > 2 else []  # type: ignore[misc]
                record.tables_html = [b.html for b in blocks if b.kind == "table" and b.html]
                record.kinds = dict(Counter(b.kind for b in blocks))
            except Exception as exc:
                record.ok, record.cause = False, failure_cause(exc)
                record.error = str(getattr(exc, "message", None) or exc)[:500]
            record.seconds = time.perf_counter() - t0
            record = score(record, page, options)
            sink.write(record.model_dump_json() + "\n")
            sink.flush()
            records[record.key] = record
            progress.advance(task)
    return records
