"""Layout costs no text: with the structure stage (`layout`/`orientation` `auto`, the default) CER and
word-bag F1 against the page's text truth are at least as good as without it (`off`), for both embedded
engines. A few representative pages in the normal run; every page of every text source with `-m slow`.
Scored as `ocrgate eval` scores (markdown syntax out, case folded, white space collapsed)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.backends.tesseract import TesseractBackend
from ocrgate.documents import PageImage
from ocrgate.evaluate import metrics
from ocrgate.render.markdown import page_markdown
from tests.conftest import EVAL_DIR
from tests.structure.conftest import open_rgb

OFF = {"layout": "off", "orientation": "off"}
TEXT_SOURCES = ("tesseract_test", "docling_pdf", "receipts", "forms", "tables")
REPRESENTATIVE = [
    "tess_phototest",  # large type the layout model takes for a title: must still read as text
    "docling_2305.03393v1-pg9_p1",  # a paper page with a table, headings and a page header
    "sroie_517",  # a receipt the layout model takes for a figure
    "funsd_00070353",  # a form
    "pubtabnet_PMC5402779_004_00",  # a table crop the layout model takes for a figure
]


@cache
def _manifest() -> dict[str, dict]:
    path = EVAL_DIR / "manifest.jsonl"
    if not path.is_file():
        return {}
    return {e["id"]: e for e in map(json.loads, filter(None, path.read_text(encoding="utf-8").splitlines()))}


def _scores(backend: RapidOCRBackend | TesseractBackend, entry: dict, options: dict) -> tuple[float, float]:
    image = open_rgb(EVAL_DIR / entry["image"])
    result = backend.ocr_page(PageImage(index=0, image=image), backend.parse_options(options))
    truth = (EVAL_DIR / entry["gt_text"]).read_text(encoding="utf-8")
    out = metrics.normalise(page_markdown(result.blocks), markdown=True)
    norm = metrics.normalise(truth, markdown=True)
    return metrics.cer(out, norm), metrics.word_bag_f1(out, norm)


def _check(backend: RapidOCRBackend | TesseractBackend, page_id: str) -> None:
    entry = _manifest()[page_id]
    (cer_off, f1_off), (cer_on, f1_on) = _scores(backend, entry, OFF), _scores(backend, entry, {})
    assert cer_on <= cer_off + 1e-9 and f1_on >= f1_off - 1e-9, (cer_off, cer_on, f1_off, f1_on)


@pytest.mark.parametrize("page_id", REPRESENTATIVE)
def test_layout_reads_as_well_as_without_rapidocr(
    eval_dir: Path, rapidocr: RapidOCRBackend, page_id: str
) -> None:
    _check(rapidocr, page_id)


@pytest.mark.parametrize("page_id", REPRESENTATIVE[:3])
def test_layout_reads_as_well_as_without_tesseract(
    eval_dir: Path, tesseract: TesseractBackend, page_id: str
) -> None:
    _check(tesseract, page_id)


def _source_pages(source: str) -> list[str]:
    return [i for i, e in _manifest().items() if e["source"] == source and e.get("gt_text")]


@pytest.mark.slow
@pytest.mark.parametrize("source", TEXT_SOURCES)
@pytest.mark.parametrize("engine", ["rapidocr", "tesseract"])
def test_every_text_source_reads_as_well_with_layout(
    eval_dir: Path, rapidocr: RapidOCRBackend, tesseract: TesseractBackend, engine: str, source: str
) -> None:
    """Means over the source's pages, as `ocrgate eval` reports them."""
    backend = rapidocr if engine == "rapidocr" else tesseract
    pages = _source_pages(source)
    assert pages
    off = [_scores(backend, _manifest()[p], OFF) for p in pages]
    on = [_scores(backend, _manifest()[p], {}) for p in pages]
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    assert mean([c for c, _ in on]) <= mean([c for c, _ in off]) + 1e-9
    assert mean([f for _, f in on]) >= mean([f for _, f in off]) - 1e-9
