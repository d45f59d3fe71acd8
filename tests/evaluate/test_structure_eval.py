"""`ocrgate eval` measures document structure: RapidOCR in process on real PubTabNet table crops gets a
TEDS per page against `gt_html`, its blocks counted by kind, and the figures in summary and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocrgate.cli import app
from ocrgate.evaluate.runner import RESULTS, PageRecord
from ocrgate.evaluate.structure import markdown_tables, predicted_tables, table_score
from tests.evaluate.conftest import subset_manifest

#: three small crops: plain rows, a header with spans, a short table with spans
TABLE_PAGES = ("pubtabnet_PMC5897438_004_00", "pubtabnet_PMC5577841_001_00", "pubtabnet_PMC5198506_004_00")


@pytest.fixture(scope="module")
def tables_run(eval_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("tables")
    manifest = subset_manifest(eval_dir, TABLE_PAGES, folder)
    out = folder / "run"
    args = ["eval", "--manifest", str(manifest), "--backends", "rapidocr", "--out", str(out)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return out, result.output


def test_records_carry_teds_and_block_kinds(tables_run: tuple[Path, str]) -> None:
    out, _ = tables_run
    records = [PageRecord.model_validate_json(line) for line in (out / RESULTS).read_text().splitlines()]
    assert sorted(r.page_id for r in records) == sorted(TABLE_PAGES)
    for r in records:
        assert r.ok and r.teds is not None and r.teds_structure is not None
        assert 0.0 <= r.teds <= 1.0 and 0.0 <= r.teds_structure <= 1.0
        assert r.tests_by_type["table"][1] > 0  # the olmOCR table tests were run on it
    assert max(r.teds for r in records) >= 0.5  # a table was found and read, not merely some text
    assert any(r.block_kinds.get("table", 0) >= 1 for r in records)


def test_summary_and_report_show_structure(tables_run: tuple[Path, str]) -> None:
    out, output = tables_run
    summary = json.loads((out / "summary.json").read_text())
    tables = summary["backends"]["rapidocr"]["by_source"]["tables"]
    assert tables["teds_pages"] == 3 and 0.5 <= tables["teds"] <= 1.0
    assert 0.0 <= tables["teds_structure"] <= 1.0
    assert tables["block_kinds"]["table"] >= 1
    passed, total = tables["tests_by_type"]["table"]
    assert total == 13 and 0 <= passed <= total
    assert all(p["teds"] is not None for p in summary["pages"])
    html = (out / "report.html").read_text()
    assert "<h2>Document structure</h2>" in html and "TEDS-S" in html and "Zhong et al. 2020" in html
    assert f"{tables['teds']:.3f}" in html and f"{passed}/{total}" in html
    assert "TEDS↑" in output and f"{tables['teds']:.3f}" in output  # the terminal table


def test_old_records_load_without_structure() -> None:
    old = '{"backend": "x", "page_id": "p", "source": "s", "doc_type": "d", "markdown": "hi"}'
    record = PageRecord.model_validate_json(old)
    assert record.teds is None and record.teds_structure is None and record.block_kinds == {}


def test_markdown_tables_are_scored_where_no_block_gives_html(eval_dir: Path) -> None:
    truth = (eval_dir / "tables" / "gt" / "pubtabnet_PMC5897438_004_00.html").read_text(encoding="utf-8")
    assert table_score([], truth) == (0.0, 0.0)  # no table: 0
    assert table_score([truth], truth) == (1.0, 1.0)
    plain = "| a | b |\n|---|---|\n| 1 | 2 |"
    pipe = predicted_tables((), f"Some text\n\n{plain}\n")
    assert len(pipe) == 1 and "<th>" not in pipe[0]  # a pipe table's header row is written with td
    same = "<table><thead><tr><td>a</td><td>b</td></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody>"
    assert table_score(pipe, same + "</table>") == (1.0, 1.0)
    assert predicted_tables(("<table><tr><td>x</td></tr></table>",), plain) == [
        "<table><tr><td>x</td></tr></table>"
    ]
    assert markdown_tables("no table here") == []
