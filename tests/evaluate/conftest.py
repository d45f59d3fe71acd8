"""A small real run shared by the report tests: three pages of three sources, two backends, `--input auto`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocrgate.cli import app

#: an image-only page, a born-digital PDF page (text layer) and an olmOCR-Bench page (tests, PDF)
REPORT_PAGES = (
    "tess_phototest",
    "docling_multi_page_p3",
    "olmocr_hf_ffaac214730d2b8c2ec842e3618ccb9c4259_pg1_p1",
)
REPORT_BACKENDS = ("tesseract", "tesseract:lines")


@dataclass
class ReportRun:
    out: Path
    output: str  # what the command printed (the terminal table, at CliRunner's 80 columns)


def subset_manifest(eval_dir: Path, ids: tuple[str, ...], folder: Path) -> Path:
    """A manifest of `ids` from ../shared/eval, its paths made absolute (nothing copied)."""
    lines = []
    for line in (eval_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry["id"] in ids:
            for key in ("image", "pdf", "gt_text", "gt_markdown", "gt_tests", "gt_html"):
                if entry.get(key):
                    entry[key] = str(eval_dir / entry[key])
            lines.append(json.dumps(entry))
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def report_run(eval_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    folder = tmp_path_factory.mktemp("report")
    manifest = subset_manifest(eval_dir, REPORT_PAGES, folder)
    out = folder / "run"
    args = ["eval", "--manifest", str(manifest), "--backends", ",".join(REPORT_BACKENDS), "--out", str(out)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return ReportRun(out=out, output=result.output)
