"""`report.html`: one self-contained page to choose a backend from (pictures are data URIs, nothing fetched).

Sections: the run (date, machine, load, input), how to read the metrics, figures over all pages, by
source and by document type (best per column marked, small groups warned about), document structure
per source (TEDS, table tests, layout regions by kind), pages won per backend, the speed vs accuracy
plots, the per-page head-to-head, and every page's output diffed against its ground truth (or its
olmOCR-Bench tests) beside the page image. All engine and dataset text is HTML-escaped.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from collections.abc import Sequence

from ocrgate.evaluate.datasets import EvalPage
from ocrgate.evaluate.figures import DIRECTIONS, FIGURES, SMALL_GROUP, best
from ocrgate.evaluate.headtohead import TIE, HeadToHead, head_to_head, wins
from ocrgate.evaluate.machine import RunInfo
from ocrgate.evaluate.plots import speed_plots
from ocrgate.evaluate.report_pages import LEGEND, SCRIPT, best_cell, input_label, page_details, pages_table
from ocrgate.evaluate.runner import PageRecord
from ocrgate.evaluate.summary import Aggregate, Summary

TABLE_FIGURES = ("pages", "failed", "cer", "cer_micro", "wer", "f1", "ned", "tests", "teds", "seconds", "p95")
_e = html.escape


def _when(stamp: float | None) -> str:
    return "–" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(stamp))


def _load(values: list[float] | None) -> str:
    return "–" if not values else " / ".join(f"{v:.2f}" for v in values)


def _busy(run: RunInfo) -> bool:
    """Whether the 1-minute load at start or end was above the core count."""
    cores = run.machine.cores or 0
    loads = [v[0] for v in (run.load_start, run.load_end) if v]
    return bool(cores and loads and max(loads) > cores)


def _session(run: RunInfo) -> str:
    text = (
        f"{_when(run.started_at)} to {_when(run.finished_at)}: {run.recognised} readings, "
        f"--input {run.input or '?'}; load average (1/5/15 min) {_load(run.load_start)} at start, "
        f"{_load(run.load_end)} at end"
    )
    return text + (" (above the core count: seconds per page are inflated)" if _busy(run) else "")


def _header(summary: Summary, records: Sequence[PageRecord]) -> str:
    run = summary.run
    inputs = Counter(input_label(r) for r in records)
    finished = [r.finished_at for r in records]
    read = f"{_when(min(finished, default=None))} and {_when(max(finished, default=None))}"
    rows = [
        ("dataset", summary.dataset),
        ("report written", _when(summary.created_at)),
        ("pages read between", read),
        ("input", ", ".join(f"{label}: {n} readings" for label, n in sorted(inputs.items()))),
        ("normalisation", summary.options.model_dump_json()),
    ]
    if run is not None:
        m = run.machine
        rows += [
            ("machine", f"{m.cpu or '?'}, {m.cores or '?'} cores, {m.memory_gib or '?'} GiB RAM"),
            ("system", f"{m.os or '?'}, Python {m.python}"),
            ("page choice", f"--input {run.input or '?'}, --limit {run.limit or 'none'}, --seed {run.seed}"),
        ]
    sessions = summary.sessions or ([run] if run is not None and run.recognised else [])
    for number, session in enumerate(sessions, 1):
        label = "pages read" if len(sessions) == 1 else f"session {number}"
        if session.machine != (run.machine if run else session.machine):
            label += f" (on {session.machine.cpu}, {session.machine.cores} cores)"
        rows.append((label, _session(session)))
    if run is not None and not run.recognised:
        rows.append(("this run", "read nothing new: every page was in results.jsonl already"))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


_EXPLAIN = """
<div class="explain">
<p><b>CER</b> (character error rate): character edits needed to turn the output into the ground truth,
divided by the truth's length; 0 is perfect and it can pass 1 when the output is longer. It compares
the texts <i>in order</i>, so it measures recognition and reading order together: a line read in the
wrong place costs its characters twice. <b>WER</b> is the same over words.</p>
<p><b>F1</b> (word-bag F1): the output's and the truth's words as two bags, order ignored; precision is
the share of output words that are in the truth, recall the share of truth words found. It measures
recognition alone: a reading-order change moves CER and leaves F1 where it was.</p>
<p><b>NED</b> (OmniDocBench's normalised edit distance): edits / the longer of the two texts, after
dropping white space and punctuation (case kept), 0..1. Like CER it is order-sensitive.</p>
<p>Where the ground truth is not in reading order CER is pessimistic and F1 is the figure to trust:
<b>forms</b> (FUNSD) list entities in the annotation's order, <b>receipts</b> (SROIE) keep an item and its
price as separate lines, and some <b>docling_pdf</b> text layers interleave two columns.
<b>tests</b>: share of olmOCR-Bench unit tests passed (present / absent / order / table / math / baseline),
for pages that have tests instead of a page text. {directions}.</p>
<p><b>TEDS</b> (tree-edit-distance-based similarity, Zhong et al. 2020, "Image-based table recognition:
data, model, and evaluation"): 1 minus the tree edit distance between the output's table and the
truth table (rows, cells, spans and cell text as one tree), divided by the larger tree's size; 1 is the
same table, 0 none found. A mean over the pages that have a truth table (<b>tables</b>: PubTabNet); the
page's best-matching table counts. <b>TEDS-S</b> is the same with cell text ignored (structure only).
<b>Layout regions</b> counts the blocks an engine gave by kind (text, title, table, figure...).</p>
<p>Means are over the pages a backend read without failure: where <b>failed</b> is not 0 the backends'
means cover different pages; the head-to-head below does not have that problem.
<b>Winner of a page</b>: lowest CER (equal to 3 decimals: higher F1, then a tie); on test pages the
highest pass rate. A backend that failed the page never wins. Pages read from a PDF's text layer give
every backend the same text (no OCR ran), so they tie.</p>
</div>
"""


def _small(pages: int) -> str:
    return (
        f"only {pages} page{'s' if pages != 1 else ''}: one page is 1/{pages} of every mean here "
        f"(a page 0.30 worse moves the CER by {0.30 / pages:.2f}) and one page won or lost is "
        f"{100 / pages:.0f}% of the group's pages"
    )


def _group_table(summary: Summary, grouping: str) -> str:
    names = list(summary.backends)
    groups: dict[str, list[Aggregate | None]] = {}
    for i, name in enumerate(names):
        backend = summary.backends[name]
        by = {"all pages": backend.overall} if grouping == "overall" else getattr(backend, grouping)
        for group, agg in by.items():
            groups.setdefault(group, [None] * len(names))[i] = agg
    head = "".join(f"<th>{_e(FIGURES[k].label)} {FIGURES[k].arrow}</th>" for k in TABLE_FIGURES)
    rows: list[str] = []
    small: dict[int, list[str]] = {}  # pages -> groups that small
    for group, aggs in sorted(groups.items()):
        present = [(n, a) for n, a in zip(names, aggs, strict=True) if a is not None]
        marks = {k: best(FIGURES[k], [a for _, a in present]) for k in TABLE_FIGURES}
        pages = max(a.pages for _, a in present)
        warn = ""
        if pages < SMALL_GROUP:
            warn = f' <span class="warn" title="{_e(_small(pages))}">⚠</span>'
            small.setdefault(pages, []).append(group)
        for j, (name, a) in enumerate(present):
            label = f'<th rowspan="{len(present)}" class="group">{_e(group)}{warn}</th>' if j == 0 else ""
            cells = "".join(best_cell(FIGURES[k].text(a), j in marks[k]) for k in TABLE_FIGURES)
            rows.append(f"<tr>{label}<th>{_e(name)}</th>{cells}</tr>")
    table = f"<table><tr><th>group</th><th>backend</th>{head}</tr>{''.join(rows)}</table>"
    notes = "".join(
        f"<li>⚠ <b>{_e(', '.join(members))}</b>: {_e(_small(pages))}</li>"
        for pages, members in sorted(small.items())
    )
    return table + (f'<ul class="notes">{notes}</ul>' if notes else "")


def _structure_table(summary: Summary) -> str:
    """Per source and backend: TEDS and TEDS-S (pages with a truth table), table tests passed, and the
    layout regions by kind; sources where no backend has any of these are left out."""
    rows: list[str] = []
    sources = sorted({s for b in summary.backends.values() for s in b.by_source})
    for source in sources:
        present = [(n, b.by_source[source]) for n, b in summary.backends.items() if source in b.by_source]
        if not any(a.teds_pages or "table" in a.tests_by_type or a.block_kinds for _, a in present):
            continue
        marks = {k: best(FIGURES[k], [a for _, a in present]) for k in ("teds",)}
        for j, (name, a) in enumerate(present):
            label = f'<th rowspan="{len(present)}" class="group">{_e(source)}</th>' if j == 0 else ""
            passed, total = a.tests_by_type.get("table", [0, 0])
            kinds = ", ".join(f"{kind} {count}" for kind, count in a.block_kinds.items()) or "–"
            cells = [
                str(a.teds_pages),
                best_cell(FIGURES["teds"].text(a), j in marks["teds"]),
                "–" if a.teds_structure is None else f"{a.teds_structure:.3f}",
                f"{passed}/{total}" if total else "–",
            ]
            body = "".join(c if c.startswith("<td") else f"<td>{_e(c)}</td>" for c in cells)
            rows.append(f'<tr>{label}<th>{_e(name)}</th>{body}<td class="l">{_e(kinds)}</td></tr>')
    if not rows:
        return '<p class="small">No page has a truth table, table tests or layout regions.</p>'
    head = (
        "<tr><th>source</th><th>backend</th><th>table pages</th><th>TEDS ↑</th><th>TEDS-S ↑</th>"
        "<th>table tests ↑</th><th>layout regions by kind</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _wins_table(rows: list[HeadToHead], names: list[str], grouping: str) -> str:
    groups: dict[str, list[HeadToHead]] = {"all pages": rows}
    for row in rows:
        groups.setdefault(getattr(row, grouping), []).append(row)
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = []
    for group, members in groups.items():
        tally = wins(members, names)
        top = max((tally[n] for n in names), default=0)
        cells = "".join(best_cell(str(tally[n]), top > 0 and tally[n] == top) for n in names)
        warn = ' <span class="warn">⚠</span>' if len(members) < SMALL_GROUP else ""
        body.append(f"<tr><th>{_e(group)}{warn}</th><td>{len(members)}</td>{cells}<td>{tally[TIE]}</td></tr>")
    return f"<table><tr><th>{_e(grouping)}</th><th>pages</th>{head}<th>ties</th></tr>{''.join(body)}</table>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 7px;text-align:right}
td{white-space:nowrap}td.l a{white-space:normal;word-break:break-all}
td.c,th.c{text-align:center}th.group,td.l,table.meta td,table.meta th{text-align:left}
table.meta th{background:#f4f4f4;white-space:nowrap}
table.meta td{white-space:normal;max-width:70em}
td.best{font-weight:bold;background:#e7f5e7}.warn{color:#b35c00;cursor:help}
.notes{color:#8a4b00;font-size:90%}.explain{max-width:60em;font-size:95%;line-height:1.4}
.cols{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,3fr);gap:1em}
pre,.diff{white-space:pre-wrap;font-size:12px;max-height:36em;overflow:auto;background:#f6f6f6;padding:.5em}
.diff{font-family:ui-monospace,monospace;white-space:normal;line-height:1.5}
ins{background:#cdeccd;text-decoration:none;outline:1px solid #7bbf7b}
del{background:#f7d4d4;color:#8a1f1f}
img{max-width:100%;border:1px solid #ccc}details.page{border-top:1px solid #ddd;padding:.3em 0}
.small{font-size:90%;color:#555;margin:.2em 0}.plots{display:flex;flex-wrap:wrap;gap:1.5em}
figure{margin:0}td.best{white-space:nowrap}table.h2h{font-size:85%}
h5{margin:.6em 0 .2em}
"""


def render_html(summary: Summary, records: list[PageRecord], pages: dict[str, EvalPage]) -> str:
    """The whole report as one HTML string (see module docstring)."""
    names = list(summary.backends)
    by_key = {(r.backend, r.page_id): r for r in records}
    rows = head_to_head(summary)
    plots = "".join(
        f'<figure><img src="data:image/png;base64,{png}" alt="{_e(title)}">'
        f"<figcaption>{_e(title)}</figcaption></figure>"
        for title, png in speed_plots(summary)
    )
    sections = [
        "<h1>ocrgate evaluation</h1>",
        _header(summary, records),
        "<h2>Reading the figures</h2>",
        _EXPLAIN.format(directions=_e(DIRECTIONS)),
        "<h2>All pages</h2>",
        f'<p class="small">Means over pages; ★ best in its column within the group. {_e(DIRECTIONS)}.</p>',
        _group_table(summary, "overall"),
        "<h2>Pages won</h2>",
        _wins_table(rows, names, "source"),
        "<h2>By source</h2>",
        _group_table(summary, "by_source"),
        "<h2>By document type</h2>",
        _group_table(summary, "by_doc_type"),
        "<h2>Document structure</h2>",
        _structure_table(summary),
        "<h2>Speed and accuracy</h2>",
        f'<div class="plots">{plots}</div>',
        "<h2>Page by page</h2>",
        pages_table(rows, names, by_key),
        "<h2>Each page against its ground truth</h2>",
        LEGEND,
        page_details(rows, names, by_key, pages, summary),
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>ocrgate eval</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}<script>{SCRIPT}</script></body></html>"
    )
