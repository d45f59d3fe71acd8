"""Run evaluation pages through backends (in-process or through a gateway) into `results.jsonl`.

One JSON line per (backend, page) is appended as soon as the page is done, so an interrupted run loses at
most the page in flight. On a rerun, pairs already recorded without failure from the same input (image or
PDF) are skipped; failed ones, and ones read from the other input, are tried again (the newest line for a
pair wins).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ocrgate.evaluate import metrics, structure
from ocrgate.evaluate.datasets import EvalPage, InputMode, PageInput, choose_input

RESULTS = "results.jsonl"
#: `NAME:VARIANT` in `--backends` runs backend NAME with these request options, scored as its own row.
#: `lines`: the engine's own line order, one block per line, no reading-order step (the baseline that
#: shows whether ocrgate's processing helps or hurts).
#: `nolayout`: no structure stage (no page orientation, no layout regions or tables).
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
    input: PageInput | None = Field(
        default=None, description="the file read: the page image or its PDF (None: a record of an older run)"
    )
    text_origin: Literal["engine", "text_layer", "mixed"] | None = Field(
        default=None, description="where the page's text came from: OCR, the PDF's text layer, or both"
    )
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
    teds: float | None = Field(
        default=None, description="TEDS of the page's table against `gt_html`, 0..1 (None: no gt_html)"
    )
    teds_structure: float | None = Field(default=None, description="the same table's TEDS-S (structure only)")
    block_kinds: dict[str, int] = Field(
        default_factory=dict, description="layout regions (blocks) by kind; empty where not known"
    )
    finished_at: float = Field(default_factory=time.time)

    @property
    def key(self) -> tuple[str, str]:
        return self.backend, self.page_id

    @property
    def test_pass_rate(self) -> float | None:
        """Share of the page's tests passed, 0..1 (None: the page has no tests)."""
        return self.tests_passed / self.tests_total if self.tests_total else None


def score(
    record: PageRecord, page: EvalPage, options: ScoreOptions, tables: tuple[str, ...] = ()
) -> PageRecord:
    """Fill in the record's metrics from its markdown and the page's ground truth; `tables` are the
    page's table blocks' HTML (TEDS falls back to the markdown's tables: `structure.predicted_tables`)."""
    if not record.ok:
        return record
    if page.gt_html is not None:
        found = structure.table_score(structure.predicted_tables(tables, record.markdown), page.gt_html)
        record.teds, record.teds_structure = found
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


class Reading(NamedTuple):
    """What a recognizer read on one page: its markdown, OCR seconds, where the text came from, its
    table blocks' HTML (in page order) and its blocks counted by kind (None: not known)."""

    markdown: str
    ocr_seconds: float
    text_origin: Literal["engine", "text_layer", "mixed"] | None = None
    tables: tuple[str, ...] = ()
    block_kinds: dict[str, int] | None = None


def _reading(markdown: str, ocr_seconds: float, blocks: list[Any]) -> Reading:
    """A `Reading` of a page's markdown and its blocks (`Block`s)."""
    tables = tuple(b.html for b in blocks if b.kind == "table" and b.html)
    kinds = structure.block_kinds(b.kind for b in blocks)
    return Reading(markdown, ocr_seconds, _origin(blocks), tables, kinds)


class Recognizer(Protocol):
    """Recognises one page from its `input_path`: returns a `Reading` (or a plain (markdown, ocr_seconds)
    tuple); raises on failure."""

    def __call__(self, page: EvalPage) -> Reading | tuple[str, float]: ...


def _read_page_bytes(page: EvalPage) -> tuple[bytes, int | None]:
    """The bytes to send and, for a PDF, the 0-based page to keep."""
    path = page.input_path
    index = (page.pdf_page - 1) if (page.image is None and page.pdf_page) else None
    return path.read_bytes(), index


def _pick_index(count: int, index: int | None) -> int:
    """The page to keep of `count`: `index` where it is one of them, else the first (a manifest's
    `pdf_page` may count the pages of the whole PDF while `pdf` is that page alone)."""
    return index if index is not None and 0 <= index < count else 0


def _pick(pages: list[Any], index: int | None) -> Any:
    return pages[_pick_index(len(pages), index)] if pages else None


def _origin(blocks: list[Any]) -> Literal["engine", "text_layer", "mixed"] | None:
    origins = {block.origin for block in blocks}
    if not origins:
        return None
    return next(iter(origins)) if len(origins) == 1 else "mixed"


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
    engine.load()  # here, so the first page's seconds do not include loading the model
    options = dict(request_options)

    def run(page: EvalPage) -> Reading:
        data, index = _read_page_bytes(page)
        document = open_document(data, page.input_path.name)
        try:
            wanted = _pick_index(document.page_count, index)
            response = recognize(document, engine, options, boxes="none", pages=[wanted])
        finally:
            document.close()
        chosen = response.pages[0] if response.pages else None
        blocks = chosen.blocks if chosen is not None else []
        return _reading(response.markdown, response.timings.ocr, blocks)

    return run


def via_gateway(backend_name: str, url: str, api_key: str | None = None) -> Recognizer:
    """A recognizer sending each page to a running gateway (`NAME:VARIANT` as request options)."""
    from ocrgate.client import OCRGateClient

    base, request_options = backend_variant(backend_name)
    client = OCRGateClient(url, api_key=api_key)

    def run(page: EvalPage) -> Reading:
        data, index = _read_page_bytes(page)
        response = client.ocr(
            data, backend=base, options=request_options or None, boxes="none", filename=page.input_path.name
        )
        chosen = _pick(response.pages, index)
        markdown = chosen.markdown if chosen is not None and len(response.pages) > 1 else response.markdown
        return _reading(markdown, response.timings.ocr, chosen.blocks if chosen is not None else [])

    return run


def _scored(record: PageRecord | None, kind: PageInput) -> bool:
    """Already read, without failure, from the file this run reads (an older record without `input`
    read the image where the page had one: `EvalPage.input`)."""
    return record is not None and record.ok and (record.input or "image") == kind


def failure_cause(exc: BaseException) -> str:
    return str(getattr(exc, "code", "") or type(exc).__name__)


def run_pages(
    pages: Iterable[EvalPage],
    backends: list[str],
    out: Path,
    make_recognizer: Callable[[str], Recognizer],
    options: ScoreOptions | None = None,
    console: Console | None = None,
    input_mode: InputMode = "image",
) -> dict[tuple[str, str], PageRecord]:
    """Every (backend, page) not yet scored in `out`, appended to `out/results.jsonl` as it finishes.

    `input_mode` picks the file each page is read from (`datasets.choose_input`; the recognizer gets the
    page with only that file, and the record says which); pages with no file for the mode are skipped.
    Returns all records of the run folder (old and new). A backend that cannot be created fails all its
    pages with that cause rather than stopping the other backends.
    """
    options = options or ScoreOptions()
    out.mkdir(parents=True, exist_ok=True)
    inputs = {p.id: (p, kind) for p in pages if (kind := choose_input(p, input_mode)) is not None}
    records = read_results(out)
    todo = [
        (b, page, kind)
        for b in backends
        for page, kind in inputs.values()
        if not _scored(records.get((b, page.id)), kind)
    ]
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
        for backend, page, kind in todo:
            progress.update(task, description=backend, page=page.id)
            if backend not in recognizers:
                try:
                    recognizers[backend] = make_recognizer(backend)
                except Exception as exc:  # reported per page, the other backends go on
                    recognizers[backend] = exc
            recognizer = recognizers[backend]
            record = PageRecord(
                backend=backend, page_id=page.id, source=page.source, doc_type=page.doc_type, input=kind
            )
            t0 = time.perf_counter()
            reading = Reading("", 0.0)
            try:
                if isinstance(recognizer, BaseException):
                    raise recognizer
                reading = Reading(*recognizer(page.as_input(kind)))
                record.markdown, record.ocr_seconds, record.text_origin = reading[:3]
                record.block_kinds = reading.block_kinds or {}
            except Exception as exc:
                record.ok, record.cause = False, failure_cause(exc)
                record.error = str(getattr(exc, "message", None) or exc)[:500]
            record.seconds = time.perf_counter() - t0
            record = score(record, page, options, reading.tables)
            sink.write(record.model_dump_json() + "\n")
            sink.flush()
            records[record.key] = record
            progress.advance(task)
    return records
