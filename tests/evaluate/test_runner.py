"""The eval runner end to end: tesseract in-process on a few real pages, resume, report, diff, datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocrgate.cli import app
from ocrgate.evaluate.datasets import EvalPage, load_dataset, load_folder, load_manifest
from ocrgate.evaluate.diff import diff_summaries, load_summary
from ocrgate.evaluate.report import write_report
from ocrgate.evaluate.runner import RESULTS, PageRecord, read_results, run_pages, via_gateway

runner = CliRunner()


def records_in(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / RESULTS).read_text().splitlines()]


@pytest.fixture(scope="module")
def tesseract_run(eval_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    args = ["eval", "--manifest", str(eval_dir / "manifest.jsonl"), "--backends", "tesseract"]
    args += ["--source", "tesseract_test", "--limit", "2", "--seed", "6", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_manifest_loader(eval_dir: Path) -> None:
    pages = load_manifest(eval_dir / "manifest.jsonl")
    text = (eval_dir / "manifest.jsonl").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(pages) == len(lines) and len({p.id for p in pages}) == len(lines)
    by_id = {p.id: p for p in pages}
    assert by_id["tess_phototest"].gt_text and by_id["tess_phototest"].image.is_file()
    olm = by_id["olmocr_earnings_p1"]
    assert olm.gt_text is None and {t["type"] for t in olm.gt_tests} == {"table", "absent"}
    assert olm.extra["gt_type"] == "olmocr_bench_unit_tests"
    assert load_dataset(eval_dir) == pages  # a folder holding manifest.jsonl


def test_tesseract_run_scores_and_reports(tesseract_run: Path) -> None:
    lines = records_in(tesseract_run)
    assert [r["page_id"] for r in lines] == ["tess_phototest", "tess_eurotext"]
    for r in lines:
        assert r["ok"] and r["backend"] == "tesseract" and r["markdown"]
        assert 0 <= r["cer"] <= 0.1 and r["f1"] >= 0.8 and r["seconds"] > 0
    summary = json.loads((tesseract_run / "summary.json").read_text())
    overall = summary["backends"]["tesseract"]["overall"]
    assert overall["pages"] == 2 and overall["failed"] == 0 and overall["cer"] <= 0.05
    assert overall["latency_p50"] > 0 and overall["pages_per_second"] > 0
    assert "tesseract_test" in summary["backends"]["tesseract"]["by_source"]
    html = (tesseract_run / "report.html").read_text()
    assert "<img" in html and "data:image/png;base64," in html and "data:image/jpeg;base64," in html
    exported = tesseract_run / "omnidocbench" / "tesseract"
    assert sorted(p.name for p in exported.iterdir()) == ["eurotext.md", "phototest.md"]


def test_rerun_resumes(tesseract_run: Path, eval_dir: Path) -> None:
    before = records_in(tesseract_run)
    args = ["eval", "--manifest", str(eval_dir / "manifest.jsonl"), "--backends", "tesseract"]
    args += ["--source", "tesseract_test", "--limit", "2", "--seed", "6", "--out", str(tesseract_run)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert records_in(tesseract_run) == before  # nothing recognised again
    summary = json.loads((tesseract_run / "summary.json").read_text())
    assert summary["run"]["recognised"] == 0  # this session read nothing ...
    assert [s["recognised"] for s in summary["sessions"]] == [2]  # ... the first one read both pages
    assert "read nothing new" in (tesseract_run / "report.html").read_text()


def _page(page_id: str, truth: str | None = None, tests: list[dict] | None = None) -> EvalPage:
    return EvalPage(
        id=page_id,
        source="fake",
        doc_type="test",
        image=Path(f"/nonexistent/{page_id}.png"),
        gt_text=truth,
        gt_tests=tests or [],
    )


def test_failures_are_recorded_and_retried(tmp_path: Path) -> None:
    pages = [_page("a", "hello world"), _page("b", "second page")]
    calls: list[str] = []

    def flaky(_backend: str):
        def recognise(page: EvalPage) -> tuple[str, float]:
            calls.append(page.id)
            if page.id == "b" and calls.count("b") == 1:
                raise TimeoutError("engine took too long")
            return "hello world", 0.01

        return recognise

    records = run_pages(pages, ["fake"], tmp_path, flaky)
    assert records[("fake", "b")].cause == "TimeoutError" and not records[("fake", "b")].ok
    assert records[("fake", "a")].cer == 0
    records = run_pages(pages, ["fake"], tmp_path, flaky)  # only the failed page again
    assert calls == ["a", "b", "b"] and records[("fake", "b")].ok
    assert len(read_results(tmp_path)) == 2


def test_unreachable_gateway_is_a_failure_cause(tmp_path: Path) -> None:
    records = run_pages(
        [_page("a", "x")], ["tesseract"], tmp_path, lambda name: via_gateway(name, "http://127.0.0.1:9")
    )
    record = records[("tesseract", "a")]
    assert not record.ok and record.cause  # read error or connect error, never a crash


def test_report_escapes_text_and_scores_olmocr_tests(tmp_path: Path, phototest: Path) -> None:
    tests = [
        {"id": "t1", "type": "present", "text": "Invoice"},
        {"id": "t2", "type": "absent", "text": "Page 3"},
    ]
    page = EvalPage(id="evil", source="fake", doc_type="test", image=phototest, gt_text=None, gt_tests=tests)
    output = "Invoice <script>alert('x')</script> & more"
    records = run_pages([page], ["fake"], tmp_path, lambda _n: lambda _p: (output, 0.0))
    record = records[("fake", "evil")]
    assert (record.tests_passed, record.tests_total) == (2, 2)
    summary = write_report(records.values(), [page], tmp_path)
    assert summary.backends["fake"].overall.test_pass_rate == 1.0
    assert summary.backends["fake"].overall.test_pass_rate_by_type == {"absent": 1.0, "present": 1.0}
    html = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    assert "<img" in html


def test_diff_between_runs(tmp_path: Path) -> None:
    pages = [_page("a", "hello world"), _page("b", "good page")]
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    outputs_a = {"a": "hello world", "b": "gxxd pxge"}
    outputs_b = {"a": "hellx world", "b": "good page"}
    for out, outputs in ((run_a, outputs_a), (run_b, outputs_b)):
        records = run_pages(pages, ["fake"], out, lambda _n, o=outputs: lambda p: (o[p.id], 0.0))
        write_report(records.values(), pages, out)
    diff = diff_summaries(load_summary(run_a), load_summary(run_b))
    assert [c.page_id for c in diff.better_pages] == ["b"]
    assert [c.page_id for c in diff.worse_pages] == ["a"]
    cer_all = next(d for d in diff.metrics if d.group == "all" and d.metric == "cer")
    # A: (0 + 3/9) / 2, B: (1/11 + 0) / 2
    assert cer_all.delta == pytest.approx((1 / 11 - 3 / 9) / 2)
    result = runner.invoke(app, ["eval", "diff", str(run_a), str(run_b)])
    assert result.exit_code == 0, result.output
    assert "1 pages better" in result.output and "fake b" in result.output


def test_plain_folder_dataset(tmp_path: Path, phototest: Path, phototest_truth: str) -> None:
    data = tmp_path / "data" / "scans"
    data.mkdir(parents=True)
    shutil.copy(phototest, data / "photo.png")
    (data / "photo.txt").write_text(phototest_truth)
    shutil.copy(phototest, data / "no_truth.png")  # skipped: nothing to compare with
    pages = load_folder(tmp_path / "data")
    assert [(p.id, p.source, p.doc_type) for p in pages] == [("scans__photo", "scans", "image")]
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["eval", "--manifest", str(tmp_path / "data"), "--backends", "tesseract", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    (record,) = records_in(out)
    assert record["ok"] and record["cer"] <= 0.05
    assert (out / "omnidocbench" / "tesseract" / "photo.md").is_file()


def test_cli_needs_arguments() -> None:
    result = runner.invoke(app, ["eval"])
    assert result.exit_code == 2


def test_record_round_trip() -> None:
    record = PageRecord(backend="x", page_id="p", source="s", doc_type="d", tests_by_type={"present": [1, 2]})
    assert PageRecord.model_validate_json(record.model_dump_json()) == record


def test_eval_through_a_running_gateway(eval_dir: Path, tmp_path: Path) -> None:
    from tests.gateway.cluster import Cluster

    (tmp_path / "cluster").mkdir()
    cluster = Cluster(tmp_path / "cluster", {"tesseract": {}}).start()
    try:
        out = tmp_path / "via"
        args = ["eval", "--manifest", str(eval_dir / "manifest.jsonl"), "--backends", "tesseract"]
        args += ["--source", "tesseract_test", "--limit", "1", "--seed", "2", "--via", cluster.url]
        args += ["--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    finally:
        cluster.stop()
    (record,) = records_in(out)
    assert record["ok"] and record["page_id"] == "tess_phototest" and record["cer"] <= 0.05
