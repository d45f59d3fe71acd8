"""`report.html`: one self-contained page (no scripts, every picture a data URI) to choose a backend from.

Sections: the run (date, machine, load, input), how to read the metrics, figures over all pages, by
source and by document type (best per column marked, small groups warned about), pages won per
backend, the speed vs accuracy plots, the per-page head-to-head, and every page's output diffed
against its ground truth (or its olmOCR-Bench tests) beside the page image. All engine and dataset
text is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ocrgate.evaluate.datasets import EvalPage
from ocrgate.evaluate.figures import DIRECTIONS, FIGURES, SMALL_GROUP, best
from ocrgate.evaluate.headtohead import TIE, HeadToHead, head_to_head, wins
from ocrgate.evaluate.plots import speed_plots
from ocrgate.evaluate.runner import PageRecord
from ocrgate.evaluate.summary import Aggregate, Summary
from ocrgate.evaluate.textdiff import diff_html

THUMB_SIDE = 800
TABLE_FIGURES = ("pages", "failed", "cer", "cer_micro", "wer", "f1", "ned", "tests", "seconds", "p95")
_e = html.escape


def _when(stamp: float | None) -> str:
    return "–" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(stamp))


def _load(values: list[float] | None) -> str:
    return "–" if not values else " / ".join(f"{v:.2f}" for v in values)


def input_label(record: PageRecord | None) -> str:
    """`image`, `pdf (text layer)`, `pdf (OCR)`, `pdf (text layer + OCR)`, or `–` for an old record."""
    if record is None or record.input is None:
        return "–"
    origin = {"text_layer": "text layer", "engine": "OCR", "mixed": "text layer + OCR"}.get(
        record.text_origin or ""
    )
    return f"{record.input} ({origin})" if record.input == "pdf" and origin else record.input


def _header(summary: Summary, records: Sequence[PageRecord]) -> str:
    run = summary.run
    inputs = Counter(input_label(r) for r in records)
    finished = [r.finished_at for r in records]
    rows = [
        ("dataset", summary.dataset),
        ("report written", _when(summary.created_at)),
        (
            "pages read between",
            f"{_when(min(finished, default=None))} and {_when(max(finished, default=None))}",
        ),
        ("input", ", ".join(f"{label}: {n} readings" for label, n in sorted(inputs.items()))),
        ("normalisation", summary.options.model_dump_json()),
    ]
    if run is not None:
        m = run.machine
        rows += [
            ("machine", f"{m.cpu or '?'}, {m.cores or '?'} cores, {m.memory_gib or '?'} GiB RAM"),
            ("system", f"{m.os or '?'}, Python {m.python}"),
            (
                "this session",
                f"{_when(run.started_at)} to {_when(run.finished_at)}, {run.recognised} readings",
            ),
            ("load average (1/5/15 min)", f"{_load(run.load_start)} at start, {_load(run.load_end)} at end"),
            ("page choice", f"--input {run.input or '?'}, --limit {run.limit or 'none'}, --seed {run.seed}"),
        ]
        if run.load_end and m.cores and max(run.load_end[0], (run.load_start or [0])[0]) > m.cores:
            rows.append(("note", "the load was above the core count: seconds per page are inflated"))
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
<p>Means are over the pages a backend read without failure: where <b>failed</b> is not 0 the backends'
means cover different pages; the head-to-head below does not have that problem.
<b>Winner of a page</b>: lowest CER (equal to 3 decimals: higher F1, then a tie); on test pages the
highest pass rate. A backend that failed the page never wins. Pages read from a PDF's text layer give
every backend the same text (no OCR ran), so they tie.</p>
</div>
"""


def _fmt_cell(text: str, marked: bool) -> str:
    return f'<td class="best">{_e(text)} ★</td>' if marked else f"<td>{_e(text)}</td>"


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
    rows, notes = [], []
    for group, aggs in sorted(groups.items()):
        present = [(n, a) for n, a in zip(names, aggs, strict=True) if a is not None]
        marks = {k: best(FIGURES[k], [a for _, a in present]) for k in TABLE_FIGURES}
        pages = max(a.pages for _, a in present)
        warn = ""
        if pages < SMALL_GROUP:
            warn = f' <span class="warn" title="{_e(_small(pages))}">⚠</span>'
            notes.append(f"<li>⚠ <b>{_e(group)}</b>: {_e(_small(pages))}</li>")
        for j, (name, a) in enumerate(present):
            label = f'<th rowspan="{len(present)}" class="group">{_e(group)}{warn}</th>' if j == 0 else ""
            cells = "".join(_fmt_cell(FIGURES[k].text(a), j in marks[k]) for k in TABLE_FIGURES)
            rows.append(f"<tr>{label}<th>{_e(name)}</th>{cells}</tr>")
    table = f"<table><tr><th>group</th><th>backend</th>{head}</tr>{''.join(rows)}</table>"
    return table + (f'<ul class="notes">{"".join(notes)}</ul>' if notes else "")


def _wins_table(rows: list[HeadToHead], names: list[str], grouping: str) -> str:
    groups: dict[str, list[HeadToHead]] = {"all pages": rows}
    for row in rows:
        groups.setdefault(getattr(row, grouping), []).append(row)
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = []
    for group, members in groups.items():
        tally = wins(members, names)
        top = max((tally[n] for n in names), default=0)
        cells = "".join(_fmt_cell(str(tally[n]), top > 0 and tally[n] == top) for n in names)
        warn = ' <span class="warn">⚠</span>' if len(members) < SMALL_GROUP else ""
        body.append(f"<tr><th>{_e(group)}{warn}</th><td>{len(members)}</td>{cells}<td>{tally[TIE]}</td></tr>")
    return f"<table><tr><th>{_e(grouping)}</th><th>pages</th>{head}<th>ties</th></tr>{''.join(body)}</table>"


def _score_text(row: HeadToHead, name: str) -> str:
    s = row.scores.get(name)
    if s is None:
        return "not run"
    if not s.ok:
        return "failed"
    parts = []
    if s.cer is not None:
        parts.append(f"CER {s.cer:.3f} · F1 {s.f1 or 0:.3f}")
    if s.tests_total:
        parts.append(f"tests {s.tests_passed}/{s.tests_total}")
    return " · ".join(parts) or "no truth"


def _anchor(page_id: str) -> str:
    return "p-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in page_id)


#: the head-to-head's columns per backend: label, PageScore field, lower is better, cell text
_PAGE_COLUMNS = (
    ("CER ↓", "cer", True),
    ("F1 ↑", "f1", False),
    ("tests ↑", "test_pass_rate", False),
)


def _page_cells(row: HeadToHead, names: list[str], columns: list[tuple[str, str, bool]]) -> str:
    cells = []
    for name in names:
        s = row.scores.get(name)
        if s is None or not s.ok:
            cells.append(f'<td colspan="{len(columns)}" class="c">{"failed" if s else "not run"}</td>')
            continue
        for _, field, lower in columns:
            value = getattr(s, field)
            others = [
                getattr(o, field) for o in row.scores.values() if o.ok and getattr(o, field) is not None
            ]
            shown = round(value, 3) if value is not None else None
            rounded = {round(v, 3) for v in others}
            top = (min if lower else max)(rounded) if rounded else None
            marked = shown is not None and len(others) > 1 and len(rounded) > 1 and shown == top
            if field == "test_pass_rate":
                text = f"{s.tests_passed}/{s.tests_total}" if s.tests_total else "–"
            else:
                text = "–" if value is None else f"{value:.3f}"
            cells.append(_fmt_cell(text, marked))
    return "".join(cells)


def _pages_table(rows: list[HeadToHead], names: list[str], records: dict[tuple[str, str], PageRecord]) -> str:
    with_tests = any(s.tests_total for row in rows for s in row.scores.values())
    with_text = any(s.cer is not None for row in rows for s in row.scores.values())
    columns = [
        c
        for c in _PAGE_COLUMNS
        if (c[1] == "test_pass_rate" and with_tests) or (c[1] != "test_pass_rate" and with_text)
    ]
    top = "".join(f'<th colspan="{len(columns)}" class="c">{_e(n)}</th>' for n in names)
    sub = "".join(f"<th>{_e(label)}</th>" for _ in names for label, _, _ in columns)
    body = []
    for row in rows:
        inputs = ", ".join(dict.fromkeys(input_label(records.get((n, row.page_id))) for n in row.scores))
        winner = {"won": ", ".join(row.winners), "tie": "tie: " + ", ".join(row.winners)}.get(
            row.verdict, row.verdict
        )
        body.append(
            f'<tr><td class="l"><a href="#{_anchor(row.page_id)}">{_e(row.page_id)}</a></td>'
            f'<td class="l">{_e(row.source)}</td><td class="l">{_e(row.doc_type)}</td>'
            f'<td class="l">{_e(inputs)}</td>{_page_cells(row, names, columns)}'
            f'<td class="l"><b>{_e(winner)}</b></td></tr>'
        )
    return (
        '<table class="h2h"><tr><th rowspan="2">page</th><th rowspan="2">source</th>'
        f'<th rowspan="2">type</th><th rowspan="2">input</th>{top}<th rowspan="2">winner</th></tr>'
        f"<tr>{sub}</tr>{''.join(body)}</table>"
    )


def _thumbnail(path: Path) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((THUMB_SIDE, THUMB_SIDE))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=60)
    except (OSError, ValueError):
        return None
    return base64.b64encode(buffer.getvalue()).decode()


def _describe_test(test: dict) -> str:
    fields = {k: v for k, v in test.items() if k not in ("pdf", "page", "id", "type", "checked", "url")}
    return f"[{test.get('type')}] {json.dumps(fields, ensure_ascii=False)}"


def _reading(record: PageRecord, page: EvalPage | None, summary: Summary) -> str:
    title = f"{record.backend} — {input_label(record)}, {record.seconds:.2f} s"
    if not record.ok:
        failure = f"FAILED ({record.cause}): {record.error or ''}"
        return f"<div><h5>{_e(title)}</h5><pre>{_e(failure)}</pre></div>"
    parts = [f"<h5>{_e(title)}</h5>"]
    if page is not None and page.gt_text is not None:
        options = summary.options
        marked, counts = diff_html(record.markdown, page.gt_text, options.casefold, options.strip_markdown)
        parts.append(
            f'<p class="small">CER {record.cer or 0:.3f}, F1 {record.f1 or 0:.3f}; '
            f"words: {counts.equal} equal, {counts.replaced} misread, {counts.missing} missing, "
            f"{counts.extra} extra</p>"
            f'<div class="diff">{marked}</div>'
        )
    if record.tests_total:
        failed = "".join(f"<li>{_e(f)}</li>" for f in record.test_failures)
        parts.append(
            f'<p class="small">olmOCR-Bench tests passed: {record.tests_passed}/{record.tests_total}</p>'
            + (f'<ul class="fails">{failed}</ul>' if failed else "")
        )
        if page is not None and page.gt_text is None:
            parts.append(f"<details><summary>output</summary><pre>{_e(record.markdown)}</pre></details>")
    return f"<div>{''.join(parts)}</div>"


def _page_details(
    rows: list[HeadToHead],
    names: list[str],
    records: dict[tuple[str, str], PageRecord],
    pages: dict[str, EvalPage],
    summary: Summary,
) -> str:
    parts = []
    for row in rows:
        page = pages.get(row.page_id)
        thumb = _thumbnail(page.image) if page is not None and page.image is not None else None
        image = f'<img src="data:image/jpeg;base64,{thumb}" alt="page {_e(row.page_id)}">' if thumb else ""
        truth = ""
        if page is not None and page.gt_text is None and page.gt_tests:
            truth = "<h5>tests</h5><pre>" + _e("\n".join(_describe_test(t) for t in page.gt_tests)) + "</pre>"
        readings = "".join(
            _reading(records[(n, row.page_id)], page, summary) for n in names if (n, row.page_id) in records
        )
        summary_line = " · ".join(f"{n}: {_score_text(row, n)}" for n in names if n in row.scores)
        parts.append(
            f'<details class="page" id="{_anchor(row.page_id)}"><summary><b>{_e(row.page_id)}</b> '
            f"({_e(row.source)}, {_e(row.doc_type)}) — {_e(summary_line)}</summary>"
            f'<div class="cols"><div>{image}{truth}</div><div>{readings}</div></div></details>'
        )
    return "".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 7px;text-align:right}
td.c,th.c{text-align:center}th.group,td.l,table.meta td,table.meta th{text-align:left}
table.meta th{background:#f4f4f4}
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

_LEGEND = (
    '<p class="small">In the diffs: plain words match the truth, <ins>inserted</ins> words are in the '
    "output only, <del>deleted</del> words are in the truth only (missing from the output); a misread "
    "word shows its wrong letters inserted and the right ones deleted. Texts are compared as scored "
    "(normalised as above).</p>"
)


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
        "<h2>Speed and accuracy</h2>",
        f'<div class="plots">{plots}</div>',
        "<h2>Page by page</h2>",
        _pages_table(rows, names, by_key),
        "<h2>Each page against its ground truth</h2>",
        _LEGEND,
        _page_details(rows, names, by_key, pages, summary),
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>ocrgate eval</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
