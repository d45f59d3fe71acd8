"""Real responses to write out: RapidOCR (lines and words) on real pages, and a DeepSeek-OCR answer
(blocks only) for the docling page, each with the page image its boxes refer to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from ocrgate.backends.deepseek.grounding import parse_grounding
from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import PageImage
from ocrgate.render import assemble_response, render_page
from ocrgate.schema import OCRResponse, PageResult

DEEPSEEK_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deepseek"
DOCLING_PAGE = "2305.03393v1-pg9_p1"


@dataclass
class Recognised:
    """A one-page response and the page image (RGB) its boxes refer to."""

    response: OCRResponse
    image: Image.Image


def respond(backend: str, name: str, result: PageResult, image: Image.Image) -> OCRResponse:
    return assemble_response(backend, name, [render_page(result, image, boxes=False)])


def _rapidocr_page(backend: RapidOCRBackend, path: Path) -> Recognised:
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    result = backend.ocr_page(PageImage(index=0, image=image), backend.parse_options({}))
    return Recognised(respond("rapidocr", path.name, result, image), image)


@pytest.fixture(scope="session")
def phototest_rapidocr(rapidocr: RapidOCRBackend, phototest: Path) -> Recognised:
    return _rapidocr_page(rapidocr, phototest)


@pytest.fixture(scope="session")
def docling_png(eval_dir: Path) -> Path:
    return eval_dir / "docling_pdf" / "images" / f"{DOCLING_PAGE}.png"


@pytest.fixture(scope="session")
def docling_rapidocr(rapidocr: RapidOCRBackend, docling_png: Path) -> Recognised:
    """The docling paper page (150 dpi, 1275 x 1650) read by RapidOCR."""
    return _rapidocr_page(rapidocr, docling_png)


@pytest.fixture(scope="session")
def docling_deepseek(docling_png: Path) -> Recognised:
    """The same page as DeepSeek-OCR answers it (blocks, a table, no lines): the hand-written answer
    in tests/fixtures/deepseek, parsed by the real grounding parser."""
    entry = next(
        e
        for e in json.loads((DEEPSEEK_FIXTURES / "fixtures.json").read_text(encoding="utf-8"))
        if e["file"] == "docling_table_page.md"
    )
    with Image.open(docling_png) as opened:
        image = opened.convert("RGB")
    text = (DEEPSEEK_FIXTURES / entry["file"]).read_text(encoding="utf-8")
    parsed = parse_grounding(text, image.width, image.height, entry["finish_reason"])
    result = PageResult(index=0, width=image.width, height=image.height, blocks=parsed.blocks)
    return Recognised(respond("deepseek-ocr", docling_png.name, result, image), image)
