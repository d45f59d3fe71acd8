"""A job's scorecard: which engine reads this person's pages best, from the pages they corrected.

Each engine's page is scored against the page's truth exactly as `ocrgate eval` scores a page
(`ocrgate.evaluate.runner.score`: CER, WER, word-bag F1 and NED on the same normalised text) and the
figures per engine are `ocrgate.evaluate.report.aggregate`'s (CER, WER, F1 and NED are means over the
corrected pages; `pages_per_second` is pages done / the seconds they took), so a set exported from the job
(`ocrgate.jobs.export`) and run through `ocrgate eval --manifest` gives the same numbers for the same text.

Where there is no truth, the engines' agreement on a page is the normalised edit similarity of their page
markdowns (`ocrgate.render.agreement`, the figure a comparison shows). Speed is `page_seconds`: the seconds
of work on each page (`RenderedPage.timings`: rasterising or reading the text layer, the engine, rendering),
not the seconds it waited for a worker (`queue`), which depend on how many pages were sent at once. That is
what `ocrgate eval` times, as it reads one page at a time with nothing to wait for.

In a job of several engines, a page every engine took from the PDF's text layer
(`ocrgate.render.from_text_layer`: no engine read it) says nothing about the engines: it is marked
`text_layer`, has no agreement and no winner, and is left out of every engine's figures (scores, wins,
speed).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from ocrgate.evaluate.datasets import EvalPage
from ocrgate.evaluate.report import aggregate
from ocrgate.evaluate.runner import PageRecord, ScoreOptions, score
from ocrgate.jobs.records import JobRecord, PageTruth
from ocrgate.render import RenderedPage, agreement, from_text_layer
from ocrgate.schema import Agreement, OCRResponse, Timings

RANKING = (
    "fewest failed corrected pages, then lowest mean CER over the corrected pages, then highest mean F1, "
    "then fewest seconds per page"
)
PageState = Literal["done", "failed", "pending"]


class EngineOnPage(BaseModel):
    """One engine on one page: its scores against the truth (None without truth) and its seconds."""

    status: PageState = Field(description="`pending`: not read yet (or cancelled)")
    cer: float | None = None
    wer: float | None = None
    f1: float | None = None
    ned: float | None = None
    seconds: float | None = Field(
        default=None,
        description="seconds of work on the page for this engine: rasterising, engine, rendering "
        "(`page_seconds`; not waiting for a worker)",
    )
    queue_seconds: float | None = Field(
        default=None,
        description="seconds the page waited for a worker and travelled to it (not in `seconds`)",
    )


class PageCard(BaseModel):
    """One page of the job: whether it has a truth, each engine's scores, the agreement and the winner."""

    index: int = Field(description="0-based page of the job")
    name: str
    truth: bool
    truth_from: str | None = Field(default=None, description="the engine whose reading was corrected")
    text_layer: bool = Field(
        default=False,
        description="every engine of a comparison took this page from the PDF's text layer (no engine "
        "read it): no agreement, no winner, and left out of the engines' figures",
    )
    engines: dict[str, EngineOnPage]
    agreement: list[Agreement] = Field(description="pairwise similarity of the engines' page markdown")
    winner: str | None = Field(
        default=None, description="lowest CER on this page (then higher F1); null without truth or on a tie"
    )


class EngineCard(BaseModel):
    """One engine over the whole job."""

    backend: str
    pages_done: int = Field(
        description="pages this engine read (in a comparison, not those `text_layer` pages)"
    )
    pages_failed: int = Field(description="pages this engine failed on")
    corrected: int = Field(description="corrected pages this engine read")
    corrected_failed: int = Field(description="corrected pages this engine failed on")
    cer: float | None = Field(default=None, description="mean CER over the corrected pages (lower is better)")
    cer_micro: float | None = Field(default=None, description="all edits / all truth characters")
    wer: float | None = None
    f1: float | None = Field(
        default=None, description="mean word-bag F1 over the corrected pages (higher is better)"
    )
    ned: float | None = None
    wins: int = Field(description="corrected pages where this engine has the lowest CER")
    seconds_per_page: float | None = Field(
        default=None,
        description="mean seconds of work per page read: rasterising, engine, rendering (`page_seconds`; "
        "not waiting for a worker), as `ocrgate eval`'s seconds per page",
    )
    ocr_seconds_per_page: float | None = Field(default=None, description="mean seconds in the engine itself")
    queue_seconds_per_page: float | None = Field(
        default=None,
        description="mean seconds a page read waited for a worker and travelled to it (not in the speed "
        "figures: it grows with the pages sent at once)",
    )
    pages_per_second: float | None = Field(
        default=None,
        description="pages read / their seconds of work (1 / `seconds_per_page`): one page at a time, as "
        "`ocrgate eval`'s; not the job's throughput",
    )


class Scorecard(BaseModel):
    """`GET /v1/jobs/{id}/scorecard`: per engine, per page, and the winner."""

    job_id: str
    name: str
    status: str
    page_count: int
    corrected: int = Field(description="pages with a truth")
    engines: list[EngineCard] = Field(description="best first (see `ranking`)")
    pages: list[PageCard]
    agreement: list[Agreement] = Field(
        description="mean pairwise agreement over the pages without truth (all pages when each has one)"
    )
    winner: str | None = Field(default=None, description="the best engine; null until a page is corrected")
    ranking: str = RANKING
    options: ScoreOptions = Field(
        default_factory=ScoreOptions, description="text normalisation, as ocrgate eval's"
    )


def page_name(job: JobRecord, index: int) -> str:
    """A page's name: its file's (a set of several files), else `page N` (1-based)."""
    return job.page_name(index) or f"page {index + 1}"


def page_seconds(timings: Timings) -> float:
    """Seconds of work on a page: `decode` (rasterising, or reading the PDF's text layer) + `ocr` (the
    engine) + `render`; `queue` (waiting for a worker, and the hand-off to it) is left out. The stages
    `ocrgate eval` times for a page it reads alone (`evaluate.runner.run_pages`)."""
    return timings.decode + timings.ocr + timings.render


def _record(backend: str, page: RenderedPage | None, truth: PageTruth | None, index: int) -> PageRecord:
    """The page as an `ocrgate eval` record, scored against `truth` when there is one."""
    record = PageRecord(backend=backend, page_id=str(index), source="job", doc_type="page")
    if page is None or not page.read:
        record.ok, record.cause = False, "failed" if page else "pending"
        return record
    record.markdown = page.page.markdown
    if page.timings is not None:
        record.seconds, record.ocr_seconds = page_seconds(page.timings), page.timings.ocr
    if truth is not None:
        record = score(record, EvalPage(id=str(index), gt_text=truth.text), ScoreOptions())
    return record


def _on_page(record: PageRecord, page: RenderedPage | None) -> EngineOnPage:
    status: PageState = "done" if record.ok else "failed" if record.cause == "failed" else "pending"
    timings = page.timings if record.ok and page is not None else None
    return EngineOnPage(
        status=status, cer=record.cer, wer=record.wer, f1=record.f1, ned=record.ned,
        seconds=record.seconds if record.ok else None,
        queue_seconds=timings.queue if timings is not None else None,
    )  # fmt: skip


def _winner(engines: Mapping[str, EngineOnPage]) -> str | None:
    """The engine with the lowest CER on the page (then the highest F1); None without truth or on a tie."""
    scored = sorted((s.cer, -(s.f1 or 0.0), name) for name, s in engines.items() if s.cer is not None)
    if not scored or (len(scored) > 1 and scored[0][:2] == scored[1][:2]):
        return None
    return scored[0][2]


def _mean_agreement(pages: Sequence[PageCard]) -> list[Agreement]:
    pool = [p for p in pages if not p.truth] or list(pages)
    pairs: dict[tuple[str, str], list[float]] = {}
    for page in pool:
        for pair in page.agreement:
            pairs.setdefault((pair.a, pair.b), []).append(pair.similarity)
    return [Agreement(a=a, b=b, similarity=round(statistics.fmean(v), 4)) for (a, b), v in pairs.items()]


def scorecard(
    job: JobRecord, pages: Mapping[str, Sequence[RenderedPage]], truths: Sequence[PageTruth]
) -> Scorecard:
    """The job's scorecard from its stored pages (`runner.job_pages`) and its page truths."""
    by_page = {name: {p.page.index: p for p in rendered} for name, rendered in pages.items()}
    truth_of = {t.index: t for t in truths}
    records: dict[str, list[PageRecord]] = {name: [] for name in job.backends}
    cards: list[PageCard] = []
    for index in range(job.page_count):
        truth = truth_of.get(index)
        engines: dict[str, EngineOnPage] = {}
        read: dict[str, OCRResponse] = {}
        here = [p for name in job.backends if (p := by_page.get(name, {}).get(index)) and p.read]
        layer = len(job.backends) > 1 and bool(here) and all(from_text_layer(p.page) for p in here)
        for name in job.backends:
            page = by_page.get(name, {}).get(index)
            record = _record(name, page, None if layer else truth, index)
            if (record.ok or record.cause == "failed") and not layer:
                records[name].append(record)
            if record.ok:
                read[name] = OCRResponse(backend=name, markdown=record.markdown)
            engines[name] = _on_page(record, page)
        cards.append(
            PageCard(
                index=index, name=page_name(job, index), truth=truth is not None,
                truth_from=truth.backend if truth else None, text_layer=layer, engines=engines,
                agreement=agreement(read) if len(read) > 1 and not layer else [], winner=_winner(engines),
            )
        )  # fmt: skip
    engine_cards = sorted((_engine_card(name, records[name], cards) for name in job.backends), key=_rank)
    best = engine_cards[0] if engine_cards and engine_cards[0].cer is not None else None
    return Scorecard(
        job_id=job.id, name=job.name, status=job.status, page_count=job.page_count, corrected=len(truth_of),
        engines=engine_cards, pages=cards, agreement=_mean_agreement(cards),
        winner=best.backend if best else None,
    )  # fmt: skip


def _engine_card(name: str, records: list[PageRecord], cards: Sequence[PageCard]) -> EngineCard:
    """One engine's figures: `ocrgate eval`'s aggregate of its records (done and failed pages)."""
    figures = aggregate(records)
    done = [r for r in records if r.ok]
    waits = [
        seconds
        for card in cards
        if not card.text_layer and (seconds := card.engines[name].queue_seconds) is not None
    ]
    corrected = [card.engines[name].status for card in cards if card.truth and not card.text_layer]
    return EngineCard(
        backend=name, pages_done=len(done), pages_failed=figures.failed,
        corrected=corrected.count("done"), corrected_failed=corrected.count("failed"),
        cer=figures.cer, cer_micro=figures.cer_micro, wer=figures.wer, f1=figures.f1, ned=figures.ned,
        wins=sum(1 for card in cards if card.truth and card.winner == name),
        seconds_per_page=statistics.fmean(r.seconds for r in done) if done else None,
        ocr_seconds_per_page=statistics.fmean(r.ocr_seconds for r in done) if done else None,
        queue_seconds_per_page=statistics.fmean(waits) if waits else None,
        pages_per_second=figures.pages_per_second,
    )  # fmt: skip


def _rank(card: EngineCard) -> tuple[bool, int, float, float, float]:
    """RANKING as a sort key (engines without a scored corrected page last)."""
    return (
        card.cer is None,
        card.corrected_failed,
        card.cer if card.cer is not None else 0.0,
        -(card.f1 or 0.0),
        card.seconds_per_page if card.seconds_per_page is not None else float("inf"),
    )
