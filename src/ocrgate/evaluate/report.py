"""From run records to `summary.json`, a self-contained `report.html` and an OmniDocBench-style export."""

from __future__ import annotations

import base64
import html
import io
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from ocrgate.evaluate.datasets import EvalPage
from ocrgate.evaluate.runner import PageRecord, ScoreOptions

WORST_PAGES = 5
THUMB_SIDE = 700


class Aggregate(BaseModel):
    """Figures over a set of pages of one backend; text metrics are means over pages with text truth."""

    pages: int = 0
    ok: int = 0
    failed: int = 0
    cer: float | None = None
    cer_micro: float | None = Field(default=None, description="all edits / all truth characters")
    wer: float | None = None
    f1: float | None = None
    ned: float | None = None
    tests_total: int = 0
    tests_passed: int = 0
    test_pass_rate: float | None = None
    test_pass_rate_by_type: dict[str, float] = Field(default_factory=dict)
    teds: float | None = Field(default=None, description="mean TEDS over pages with a table truth")
    kinds: dict[str, int] = Field(default_factory=dict, description="block kind -> blocks, all pages")
    latency_p50: float | None = None
    latency_p95: float | None = None
    pages_per_second: float | None = None
    failures: dict[str, int] = Field(default_factory=dict, description="cause -> pages")


class BackendSummary(BaseModel):
    overall: Aggregate
    by_source: dict[str, Aggregate] = Field(default_factory=dict)
    by_doc_type: dict[str, Aggregate] = Field(default_factory=dict)


class PageScore(BaseModel):
    backend: str
    page_id: str
    source: str
    ok: bool
    cer: float | None = None
    f1: float | None = None
    ned: float | None = None
    test_pass_rate: float | None = None
    seconds: float = 0.0


class Summary(BaseModel):
    created_at: float = Field(default_factory=time.time)
    dataset: str = ""
    options: ScoreOptions = Field(default_factory=ScoreOptions)
    backends: dict[str, BackendSummary] = Field(default_factory=dict)
    pages: list[PageScore] = Field(default_factory=list)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank-with-interpolation percentile (numpy's default 'linear')."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aggregate(records: list[PageRecord]) -> Aggregate:
    ok = [r for r in records if r.ok]
    text = [r for r in ok if r.cer is not None]
    truth_chars = sum(r.truth_chars for r in text)
    by_type: dict[str, list[int]] = {}
    for r in ok:
        for kind, (passed, total) in r.tests_by_type.items():
            counts = by_type.setdefault(kind, [0, 0])
            counts[0] += passed
            counts[1] += total
    tests_total = sum(r.tests_total for r in ok)
    tests_passed = sum(r.tests_passed for r in ok)
    seconds = [r.seconds for r in ok]
    return Aggregate(
        pages=len(records),
        ok=len(ok),
        failed=len(records) - len(ok),
        cer=_mean(r.cer for r in text),
        cer_micro=(sum((r.cer or 0) * r.truth_chars for r in text) / truth_chars) if truth_chars else None,
        wer=_mean(r.wer for r in text),
        f1=_mean(r.f1 for r in text),
        ned=_mean(r.ned for r in text),
        tests_total=tests_total,
        tests_passed=tests_passed,
        test_pass_rate=tests_passed / tests_total if tests_total else None,
        test_pass_rate_by_type={k: p / t for k, (p, t) in sorted(by_type.items()) if t},
        teds=_mean(r.teds for r in ok),
        kinds=dict(sum((Counter(r.kinds) for r in ok), Counter())),
        latency_p50=_percentile(seconds, 0.5),
        latency_p95=_percentile(seconds, 0.95),
        pages_per_second=len(ok) / sum(seconds) if sum(seconds) > 0 else None,
        failures=dict(Counter(r.cause or "unknown" for r in records if not r.ok)),
    )


def _grouped(records: list[PageRecord], attr: str) -> dict[str, Aggregate]:
    groups: dict[str, list[PageRecord]] = {}
    for r in records:
        groups.setdefault(getattr(r, attr), []).append(r)
    return {name: aggregate(group) for name, group in sorted(groups.items())}


def summarise(
    records: Iterable[PageRecord], dataset: str = "", options: ScoreOptions | None = None
) -> Summary:
    records = list(records)
    summary = Summary(dataset=dataset, options=options or ScoreOptions())
    for backend in dict.fromkeys(r.backend for r in records):
        mine = [r for r in records if r.backend == backend]
        summary.backends[backend] = BackendSummary(
            overall=aggregate(mine),
            by_source=_grouped(mine, "source"),
            by_doc_type=_grouped(mine, "doc_type"),
        )
    summary.pages = [
        PageScore(
            backend=r.backend,
            page_id=r.page_id,
            source=r.source,
            ok=r.ok,
            cer=r.cer,
            f1=r.f1,
            ned=r.ned,
            test_pass_rate=r.tests_passed / r.tests_total if r.tests_total else None,
            seconds=r.seconds,
        )
        for r in records
    ]
    return summary


def export_omnidocbench(records: Iterable[PageRecord], pages: dict[str, EvalPage], out: Path) -> Path:
    """`out/omnidocbench/<backend>/<image stem>.md`: the layout OmniDocBench's end-to-end scorer reads."""
    root = out / "omnidocbench"
    for r in records:
        page = pages.get(r.page_id)
        if not r.ok or page is None:
            continue
        folder = root / r.backend
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{page.input_path.stem}.md").write_text(r.markdown, encoding="utf-8")
    return root


# ---------------------------------------------------------------- HTML


def _figure_png(fig: object) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buffer.getvalue()).decode()


def _plots(summary: Summary) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures: list[tuple[str, str]] = []
    names = list(summary.backends)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        agg = summary.backends[name].overall
        speed = agg.pages_per_second or 0.0
        if agg.cer is not None:
            ax.scatter(speed, 1 - agg.cer, marker="o", s=60)
            ax.annotate(f"{name} (1-CER)", (speed, 1 - agg.cer), textcoords="offset points", xytext=(5, 5))
        if agg.test_pass_rate is not None:
            ax.scatter(speed, agg.test_pass_rate, marker="^", s=60)
            ax.annotate(
                f"{name} (tests)", (speed, agg.test_pass_rate), textcoords="offset points", xytext=(5, -12)
            )
    ax.set_xlabel("pages per second (sequential)")
    ax.set_ylabel("accuracy: 1 - mean CER  /  olmOCR test pass rate")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    figures.append(("Accuracy vs speed per backend", _figure_png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    data = [[p.cer for p in summary.pages if p.backend == n and p.cer is not None] for n in names]
    if any(data):
        ax.hist([d for d in data], bins=20, range=(0, 1), label=names, alpha=0.8)
        ax.legend()
    ax.set_xlabel("per-page CER (clipped at 1)")
    ax.set_ylabel("pages")
    figures.append(("Distribution of per-page error", _figure_png(fig)))
    plt.close(fig)
    return figures


def _thumbnail(path: Path) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((THUMB_SIDE, THUMB_SIDE))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=70)
    except (OSError, ValueError):
        return None
    return base64.b64encode(buffer.getvalue()).decode()


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(summary: Summary) -> str:
    head = (
        "<tr><th>backend</th><th>group</th><th>pages</th><th>failed</th><th>CER</th><th>CER micro</th>"
        "<th>WER</th><th>F1</th><th>NED</th><th>tests</th><th>p50 s</th><th>p95 s</th><th>pages/s</th></tr>"
    )
    rows = []
    for name, backend in summary.backends.items():
        groups = [("all", backend.overall), *backend.by_source.items()]
        for group, a in groups:
            tests = f"{_fmt(a.test_pass_rate)} ({a.tests_passed}/{a.tests_total})" if a.tests_total else "–"
            cells = [name, group, str(a.pages), str(a.failed), _fmt(a.cer), _fmt(a.cer_micro), _fmt(a.wer)]
            cells += [_fmt(a.f1), _fmt(a.ned), tests, _fmt(a.latency_p50, 2), _fmt(a.latency_p95, 2)]
            cells.append(_fmt(a.pages_per_second, 2))
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _describe_test(test: dict) -> str:
    fields = {k: v for k, v in test.items() if k not in ("pdf", "page", "id", "type", "checked", "url")}
    return f"[{test.get('type')}] {json.dumps(fields, ensure_ascii=False)}"


def _worst(records: list[PageRecord], pages: dict[str, EvalPage]) -> str:
    parts = []
    for backend in dict.fromkeys(r.backend for r in records):
        mine = [r for r in records if r.backend == backend]

        def badness(r: PageRecord) -> float:
            if not r.ok:
                return 2.0
            if r.cer is not None:
                return min(r.cer, 1.0)
            return 1 - r.tests_passed / r.tests_total if r.tests_total else 0.0

        parts.append(f"<h3>{html.escape(backend)}</h3>")
        for r in sorted(mine, key=badness, reverse=True)[:WORST_PAGES]:
            page = pages.get(r.page_id)
            thumb = _thumbnail(page.image) if page and page.image else None
            image = f'<img src="data:image/jpeg;base64,{thumb}" alt="page image">' if thumb else ""
            if page and page.gt_text is not None:
                truth = page.gt_text
            elif page:
                truth = "\n".join(_describe_test(t) for t in page.gt_tests)
            else:
                truth = ""
            output = r.markdown if r.ok else f"FAILED ({r.cause}): {r.error}"
            detail = f"CER {_fmt(r.cer)}, F1 {_fmt(r.f1)}, tests {r.tests_passed}/{r.tests_total}"
            if r.test_failures:
                output += "\n\n--- failed tests ---\n" + "\n".join(r.test_failures)
            parts.append(
                f'<div class="page"><h4>{html.escape(r.page_id)} — {html.escape(detail)}</h4>'
                f'<div class="cols"><div>{image}</div>'
                f"<div><h5>ground truth</h5><pre>{html.escape(truth)}</pre></div>"
                f"<div><h5>output</h5><pre>{html.escape(output)}</pre></div></div></div>"
            )
    return "".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
.cols{display:grid;grid-template-columns:1fr 1fr 1fr;gap:1em}
pre{white-space:pre-wrap;font-size:12px;max-height:40em;overflow:auto;background:#f6f6f6;padding:.5em}
img{max-width:100%;border:1px solid #ccc}.page{border-top:1px solid #ddd;margin-top:1em}
"""


def render_html(summary: Summary, records: list[PageRecord], pages: dict[str, EvalPage]) -> str:
    plots = "".join(
        f'<figure><img src="data:image/png;base64,{png}" alt="{html.escape(title)}">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
        for title, png in _plots(summary)
    )
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.created_at))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>ocrgate eval</title>"
        f"<style>{_STYLE}</style></head><body><h1>ocrgate evaluation</h1>"
        f"<p>dataset {html.escape(summary.dataset)} — {created} — normalisation "
        f"{html.escape(summary.options.model_dump_json())}</p>"
        f"<h2>Figures</h2>{_table(summary)}<h2>Plots</h2>{plots}"
        f"<h2>Worst pages</h2>{_worst(records, pages)}</body></html>"
    )


def write_report(
    records: Iterable[PageRecord],
    pages: list[EvalPage],
    out: Path,
    dataset: str = "",
    options: ScoreOptions | None = None,
) -> Summary:
    """`summary.json`, `report.html` and the OmniDocBench export, for the records of the given pages."""
    by_id = {p.id: p for p in pages}
    records = [r for r in records if r.page_id in by_id]
    summary = summarise(records, dataset, options)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    (out / "report.html").write_text(render_html(summary, records, by_id), encoding="utf-8")
    export_omnidocbench(records, by_id, out)
    return summary
