"""The per-page half of the eval report: the head-to-head table and each page against its truth.

The head-to-head has a row per page: its source, type and input (image, or PDF read from its text layer
or by OCR), each backend's CER, F1 and tests passed (the best marked), and the winner
(`headtohead.judge`). Below it, each page is a `<details>` (opened by its link in the table): the page
image, and per backend its text diffed against the ground truth (`textdiff.diff_html`) or its
olmOCR-Bench tests with the failures. All engine and dataset text is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from ocrgate.evaluate.datasets import EvalPage
from ocrgate.evaluate.headtohead import HeadToHead
from ocrgate.evaluate.runner import PageRecord
from ocrgate.evaluate.summary import Summary
from ocrgate.evaluate.textdiff import diff_html

THUMB_SIDE = 800
_e = html.escape


def input_label(record: PageRecord | None) -> str:
    """`image`, `pdf (text layer)`, `pdf (OCR)`, `pdf (text layer + OCR)`, or `–` for an old record."""
    if record is None or record.input is None:
        return "–"
    origin = {"text_layer": "text layer", "engine": "OCR", "mixed": "text layer + OCR"}.get(
        record.text_origin or ""
    )
    return f"{record.input} ({origin})" if record.input == "pdf" and origin else record.input


def best_cell(text: str, marked: bool) -> str:
    """A table cell, escaped; a best value is marked ★ (and shaded)."""
    return f'<td class="best">{_e(text)} ★</td>' if marked else f"<td>{_e(text)}</td>"


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
    if s.teds is not None:
        parts.append(f"TEDS {s.teds:.3f} (structure {s.teds_structure or 0:.3f})")
    return " · ".join(parts) or "no truth"


def _anchor(page_id: str) -> str:
    """The id of a page's <details> (letters, digits, - and _ only)."""
    return "p-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in page_id)


#: the head-to-head's columns per backend: label, PageScore field, lower is better
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
            cells.append(best_cell(text, marked))
    return "".join(cells)


def pages_table(rows: list[HeadToHead], names: list[str], records: dict[tuple[str, str], PageRecord]) -> str:
    """The head-to-head: a row per page (linked to its details), each backend's CER / F1 / tests
    (columns without values in this run left out), the winner."""
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
        every = len(row.winners) == sum(s.ok for s in row.scores.values())
        winner = {"won": ", ".join(row.winners), "tie": "tie" if every else "tie: " + ", ".join(row.winners)}
        winner_text = winner.get(row.verdict, row.verdict)
        body.append(
            f'<tr><td class="l"><a href="#{_anchor(row.page_id)}">{_e(row.page_id)}</a></td>'
            f'<td class="l">{_e(row.source)}</td><td class="l">{_e(row.doc_type)}</td>'
            f'<td class="l">{_e(inputs)}</td>{_page_cells(row, names, columns)}'
            f'<td class="l"><b>{_e(winner_text)}</b></td></tr>'
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


def page_details(
    rows: list[HeadToHead],
    names: list[str],
    records: dict[tuple[str, str], PageRecord],
    pages: dict[str, EvalPage],
    summary: Summary,
) -> str:
    """Every page as a closed <details>: its image (or its tests), and each backend's reading diffed
    against the ground truth, normalised with the run's options."""
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


#: the report's only script, inline: a page link of the head-to-head opens that page's <details>
#: (browsers scroll to a closed one without opening it)
SCRIPT = (
    "function openPage(id){var d=document.getElementById(id);if(d&&d.tagName==='DETAILS')d.open=true}"
    "addEventListener('click',function(e){var a=e.target.closest&&e.target.closest('a[href^=\"#p-\"]');"
    "if(a)openPage(a.getAttribute('href').slice(1))});if(location.hash)openPage(location.hash.slice(1));"
)

LEGEND = (
    '<p class="small">In the diffs: plain words match the truth, <ins>inserted</ins> words are in the '
    "output only, <del>deleted</del> words are in the truth only (missing from the output); a misread "
    "word shows its wrong letters inserted and the right ones deleted. Texts are compared as scored "
    "(normalised as above).</p>"
)
