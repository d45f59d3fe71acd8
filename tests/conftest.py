"""Shared fixtures: the evaluation pages in ../shared/eval and small generated documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrgate.backends.rapidocr import RapidOCRBackend

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    if not (EVAL_DIR / "manifest.jsonl").is_file():
        pytest.skip(f"evaluation pages not found at {EVAL_DIR} (shared/eval sits beside the checkout)")
    return EVAL_DIR


@pytest.fixture(scope="session")
def manifest(eval_dir: Path) -> dict[str, dict]:
    lines = (eval_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return {entry["id"]: entry for entry in map(json.loads, filter(None, lines))}


@pytest.fixture(scope="session")
def phototest(eval_dir: Path) -> Path:
    return eval_dir / "tesseract_test" / "images" / "phototest.png"


@pytest.fixture(scope="session")
def phototest_truth(eval_dir: Path) -> str:
    return (eval_dir / "tesseract_test" / "gt" / "phototest.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def multipage_pdf(eval_dir: Path) -> Path:
    return eval_dir / "docling_pdf" / "pdf" / "multi_page.pdf"


@pytest.fixture(scope="session")
def rapidocr() -> Iterator[RapidOCRBackend]:
    """RapidOCR loaded once for the session (its models from the wheel); skipped where it cannot run."""
    reason = RapidOCRBackend.availability()
    if reason:
        pytest.skip(reason)
    backend = RapidOCRBackend()
    backend.load()
    yield backend
    backend.close()
