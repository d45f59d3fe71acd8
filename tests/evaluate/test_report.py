"""The eval report a person decides from: HTML sections, diffs, the run's machine, the 80-column
terminal table, stratified `--limit`, and `--input` on real pages."""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ocrgate.cli import app
from ocrgate.evaluate.datasets import EvalPage, choose_input, load_manifest
from ocrgate.evaluate.headtohead import judge, wins
from ocrgate.evaluate.runner import PageRecord, in_process, run_pages
from ocrgate.evaluate.sampling import stratified_sample
from ocrgate.evaluate.summary import PageScore, summarise
from ocrgate.evaluate.terminal import print_summary
from ocrgate.evaluate.textdiff import diff_html
from tests.evaluate.conftest import REPORT_BACKENDS, REPORT_PAGES, ReportRun

DOCLING_PAGE = "docling_multi_page_p3"


@pytest.fixture(scope="module")
def pages(eval_dir: Path) -> list[EvalPage]:
    return load_manifest(eval_dir / "manifest.jsonl")


# ---------------------------------------------------------------- the HTML report of a real run


def test_report_html_states_tables_diffs_machine_and_warnings(report_run: ReportRun) -> None:
    html = (report_run.out / "report.html").read_text(encoding="utf-8")
    sections = re.findall(r"<h2>([^<]+)</h2>", html)
    assert sections == [
        "Reading the figures",
        "All pages",
        "Pages won",
        "By source",
        "By document type",
        "Document structure",
        "Speed and accuracy",
        "Page by page",
        "Each page against its ground truth",
    ]
    by_source = html.split("<h2>By source</h2>")[1].split("<h2>")[0]
    by_type = html.split("<h2>By document type</h2>")[1].split("<h2>")[0]
    for group in ("tesseract_test", "docling_pdf", "olmocr_bench_sample"):
        assert group in by_source
    for group in ("printed_page", "born_digital_pdf_page", "mixed_pdf_page"):
        assert group in by_type
    # every group has one page: each is warned about, saying what one page means
    assert by_source.count('class="warn"') == 3 and "only 1 page: one page is 1/1 of every mean" in by_source
    # the per-page head-to-head: every page, both backends, a winner column
    head = html.split("<h2>Page by page</h2>")[1].split("<h2>")[0]
    for page_id in REPORT_PAGES:
        assert f'href="#p-{page_id}"' in head and f'id="p-{page_id}"' in html
    assert all(name in head for name in REPORT_BACKENDS) and ">winner</th>" in head
    # the PDF page was read from its text layer, and the report says so
    assert "pdf (text layer)" in head
    # a diff against the truth, with its legend; the test page lists its tests
    pages = html.split("<h2>Each page against its ground truth</h2>")[1]
    assert "<del>deleted</del>" in pages  # the legend
    assert re.search(r'<div class="diff">(?:(?!</div>).)*<(del|ins)>', pages)  # the PDF page's few edits
    assert "olmOCR-Bench tests passed:" in pages
    # one plot for CER, one for the test pass rate, never one axis for both
    assert html.count("data:image/png;base64,") == 2
    assert "Seconds per page vs CER" in html and "Seconds per page vs olmOCR-Bench pass rate" in html
    # the machine, its load, the date
    meta = html.split("<h2>")[0]
    assert f"{os.cpu_count()} cores" in meta and "GiB RAM" in meta
    assert "load average (1/5/15 min)" in meta and " at start, " in meta and "6 readings" in meta
    assert time.strftime("%Y-%m-%d") in meta and "--input auto" in meta
    # CER vs F1 vs NED, and why forms' CER is pessimistic
    explain = html.split("<h2>Reading the figures</h2>")[1].split("<h2>")[0]
    assert "<i>in order</i>" in explain and "order ignored" in explain and "OmniDocBench" in explain
    assert "forms" in explain and "annotation's order" in explain
    # self-contained: nothing fetched; one inline script (page links open their diff)
    assert html.lower().count("<script") == 1 and "<script>" in html
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html)


def test_summary_records_inputs_and_run(report_run: ReportRun) -> None:
    summary = json.loads((report_run.out / "summary.json").read_text())
    run = summary["run"]
    assert run["input"] == "auto" and run["machine"]["cores"] == os.cpu_count()
    assert len(run["load_start"]) == 3 and len(run["load_end"]) == 3
    assert run["recognised"] == len(REPORT_PAGES) * len(REPORT_BACKENDS)
    assert [s["recognised"] for s in summary["sessions"]] == [run["recognised"]]
    inputs = {(p["backend"], p["page_id"]): (p["input"], p["text_origin"]) for p in summary["pages"]}
    assert inputs[("tesseract", "tess_phototest")] == ("image", "engine")
    assert inputs[("tesseract", DOCLING_PAGE)] == ("pdf", "text_layer")
    assert set(summary["backends"]["tesseract"]["by_doc_type"]) == {
        "printed_page",
        "born_digital_pdf_page",
        "mixed_pdf_page",
    }


def test_cli_table_fits_80_columns(report_run: ReportRun) -> None:
    lines = report_run.output.splitlines()
    assert "…" not in report_run.output
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert any(line.split()[:1] == ["tesseract:lines"] for line in lines)  # names whole
    assert "lower is better" in report_run.output and "higher is better" in report_run.output


# ---------------------------------------------------------------- the terminal table


def _record(backend: str, page: str, source: str, cer: float | None, seconds: float, **kw) -> PageRecord:
    return PageRecord(
        backend=backend,
        page_id=page,
        source=source,
        doc_type=f"{source}_type",
        cer=cer,
        wer=None if cer is None else min(1.0, cer * 2.5),
        f1=None if cer is None else 1 - cer / 2,
        ned=cer,
        seconds=seconds,
        **kw,
    )


def test_terminal_table_at_80_columns_cuts_nothing_and_marks_the_best() -> None:
    names = ("deepseek-ocr:lines", "tesseract:lines", "rapidocr")
    records = []
    for n, name in enumerate(names):
        for p in range(6):
            source = ("scanned_receipts_long_name", "forms")[p % 2]
            records.append(
                _record(name, f"page{p}", source, 0.123456 + n * 0.1 + p * 0.01, 12.3456 / (n + 1))
            )
        records.append(
            _record(name, "olm", "olmocr", None, 1.5, tests_total=7, tests_passed=n + 2, tests_by_type={})
        )
    records.append(
        PageRecord(backend="rapidocr", page_id="bad", source="forms", doc_type="forms_type", ok=False)
    )
    summary = summarise(records)
    buffer = io.StringIO()
    print_summary(summary, Console(file=buffer, width=80, color_system=None))
    text = buffer.getvalue()
    lines = text.splitlines()
    assert "…" not in text and all(len(line) <= 80 for line in lines), max(lines, key=len)
    rows = {line.split()[0]: line.split() for line in lines if line.split()[:1] and line.split()[0] in names}
    assert set(rows) == set(names)  # every backend name whole, at the start of its row
    overall = summary.backends["deepseek-ocr:lines"].overall
    assert f"{overall.cer:.3f}*" in text  # digits whole, the lowest CER marked
    assert f"{summary.backends['rapidocr'].overall.seconds_mean:.2f}*" in text  # the fastest marked
    assert "4/7*" in text  # most tests passed
    assert "CER↓" in text and "F1↑" in text and "lower is better" in text and "higher is better" in text
    assert "forms (4 pages, ⚠ few)" in text and "olmocr (1 page, ⚠ few)" in text
    assert "pages won (lowest CER, else most tests passed): deepseek-ocr:lines" in text


def test_page_scores_are_the_records_fields_of_their_names() -> None:
    record = _record("rapidocr", "p", "forms", 0.1, 2.5, tests_total=4, tests_passed=3).model_copy(
        update={"input": "pdf", "text_origin": "mixed", "teds": 0.7, "teds_structure": 0.8}
    )
    [score] = summarise([record]).pages
    assert score.model_dump() == {name: getattr(record, name) for name in PageScore.model_fields}
    assert score.test_pass_rate == 0.75


# ---------------------------------------------------------------- head-to-head and diff


def _score(
    backend: str, cer: float | None = None, f1: float | None = None, ok: bool = True, **kw
) -> PageScore:
    return PageScore(backend=backend, page_id="p", source="s", ok=ok, cer=cer, f1=f1, **kw)


def test_head_to_head_winner_ties_failures_and_missing_truth() -> None:
    won = judge({"a": _score("a", 0.1, 0.9), "b": _score("b", 0.2, 0.95)}, "s", "t", "p")
    assert (won.verdict, won.winners, won.metric) == ("won", ["a"], "cer")
    by_f1 = judge({"a": _score("a", 0.1001, 0.9), "b": _score("b", 0.1004, 0.95)}, "s", "t", "p")
    assert by_f1.winners == ["b"]  # equal CER as shown: F1 decides
    tie = judge({"a": _score("a", 0.1, 0.9), "b": _score("b", 0.1, 0.9)}, "s", "t", "p")
    assert (tie.verdict, tie.winners) == ("tie", ["a", "b"])
    failed = judge({"a": _score("a", ok=False), "b": _score("b", 0.8, 0.1)}, "s", "t", "p")
    assert (failed.verdict, failed.winners) == ("won", ["b"])
    assert judge({"a": _score("a", ok=False)}, "s", "t", "p").verdict == "all failed"
    assert judge({"a": _score("a"), "b": _score("b")}, "s", "t", "p").verdict == "no truth"
    tests = judge(
        {"a": _score("a", test_pass_rate=0.5), "b": _score("b", test_pass_rate=0.75)}, "s", "t", "p"
    )
    assert (tests.metric, tests.winners) == ("tests", ["b"])
    assert wins([won, tie, failed, tests], ["a", "b"]) == {"a": 1, "b": 2, "tie": 1}


def test_diff_marks_misreads_and_escapes(phototest_truth: str) -> None:
    truth = phototest_truth
    output = truth.replace("quick", "qu1ck", 1).replace("lazy ", "", 1) + "\nif a < b & c"
    marked, counts = diff_html(output, truth)
    assert "qu<del>i</del><ins>1</ins>ck" in marked  # one wrong letter, shown as one letter
    assert "<del>lazy</del> fox." in marked  # a word the output lost
    assert "<ins>&lt;</ins> <ins>b</ins> <ins>&amp;</ins>" in marked  # added words, escaped
    assert (counts.replaced, counts.missing, counts.extra) == (1, 1, 6)
    assert counts.equal == len(truth.split()) - 2
    lines = [line for line in output.splitlines() if line.strip()]
    assert marked.count("<br>") == len(lines) - 1  # the output's lines kept
    raw, _ = diff_html("<script>alert(1)</script>", "", markdown=False)  # tags are scored as text here
    assert raw == "<ins>&lt;script&gt;alert(1)&lt;/script&gt;</ins>"


# ---------------------------------------------------------------- --limit: stratified sampling


def test_limit_samples_across_sources_and_types(pages: list[EvalPage]) -> None:
    strata = {(p.source, p.doc_type) for p in pages}
    sample = stratified_sample(pages, len(strata), seed=0)
    assert {(p.source, p.doc_type) for p in sample} == strata  # one page of each
    assert sample == stratified_sample(pages, len(strata), seed=0)  # the same seed, the same pages
    assert sample != stratified_sample(pages, len(strata), seed=1)
    order = [p.id for p in pages]
    assert [p.id for p in sample] == sorted((p.id for p in sample), key=order.index)  # manifest order
    small = stratified_sample(pages, 3, seed=0)
    assert len({p.source for p in small}) == 3
    twelve = stratified_sample(pages, 12, seed=0)
    counts = [sum(p.source == s for p in twelve) for s in {p.source for p in pages}]
    assert sorted(counts) == [2] * 6  # evenly spread
    assert stratified_sample(pages, 1000) == pages
    with pytest.raises(ValueError):
        stratified_sample(pages, 0)


# ---------------------------------------------------------------- --input


def test_input_choice(pages: list[EvalPage]) -> None:
    by_id = {p.id: p for p in pages}
    docling, receipt = by_id[DOCLING_PAGE], by_id["sroie_057"]
    assert [choose_input(docling, m) for m in ("auto", "image", "pdf")] == ["pdf", "image", "pdf"]
    assert [choose_input(receipt, m) for m in ("auto", "image", "pdf")] == ["image", "image", None]
    pdf_only = docling.as_input("pdf")
    assert pdf_only.input_path == docling.pdf and pdf_only.input == "pdf"
    with pytest.raises(ValueError):
        receipt.as_input("pdf")


def test_input_image_then_pdf_on_a_docling_page(pages: list[EvalPage], tmp_path: Path) -> None:
    """The same page read from its image, then (same run folder) from its PDF: the PDF reading is
    redone, comes from the text layer and is at least as accurate."""
    page = next(p for p in pages if p.id == DOCLING_PAGE)
    image = run_pages([page], ["tesseract"], tmp_path, in_process, input_mode="image")[("tesseract", page.id)]
    assert image.ok and (image.input, image.text_origin) == ("image", "engine")
    pdf = run_pages([page], ["tesseract"], tmp_path, in_process, input_mode="auto")[("tesseract", page.id)]
    assert pdf.ok and (pdf.input, pdf.text_origin) == ("pdf", "text_layer")
    assert pdf.cer is not None and image.cer is not None
    assert pdf.cer <= 0.02 and pdf.cer <= image.cer
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2  # read again, not skipped
    again = run_pages([page], ["tesseract"], tmp_path, in_process, input_mode="pdf")
    assert again[("tesseract", page.id)] == pdf  # same input: resumed, not read again


def test_input_pdf_without_pdfs_is_a_clear_error(eval_dir: Path, tmp_path: Path) -> None:
    args = ["eval", "--manifest", str(eval_dir), "--backends", "tesseract", "--source", "receipts"]
    result = CliRunner().invoke(app, [*args, "--input", "pdf", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "and a PDF" in result.output
