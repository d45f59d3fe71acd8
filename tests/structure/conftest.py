"""Real pages and real RapidOCR lines for the structure stages' tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.backends.tesseract import TesseractBackend
from ocrgate.documents import PageImage
from ocrgate.schema import TextLine as Line

ocr_lines_type = Callable[[Image.Image], list[Line]]


@pytest.fixture(scope="session")
def tesseract() -> TesseractBackend:
    backend = TesseractBackend()
    reason = backend.unavailable()
    if reason:
        pytest.skip(reason)
    backend.load()
    return backend


def lines_from_raw(raw: list[dict], width: int, height: int) -> list[Line]:
    """RapidOCR's own output (the backend's `raw`: quads, texts, scores) as lines with page-pixel boxes."""
    lines: list[Line] = []
    for item in raw:
        xs = [p[0] for p in item["box"]]
        ys = [p[1] for p in item["box"]]
        box = (max(0.0, min(xs)), max(0.0, min(ys)), min(float(width), max(xs)), min(float(height), max(ys)))
        if item["text"].strip() and box[2] > box[0] and box[3] > box[1]:
            lines.append(Line(text=item["text"], bbox=box, score=item["score"]))
    return lines


AS_IT_LIES = {"orientation": "off", "layout": "off"}


@pytest.fixture(scope="session")
def ocr_lines(rapidocr: RapidOCRBackend) -> ocr_lines_type:
    """RapidOCR's lines for a page image as it lies (no structure stage: no turn, no layout; each image
    read once per session)."""
    cache: dict[bytes, list[Line]] = {}  # by pixels

    def read(image: Image.Image) -> list[Line]:
        key = hashlib.sha1(image.tobytes()).digest() + repr(image.size).encode()
        if key not in cache:
            result = rapidocr.ocr_page(PageImage(index=0, image=image), rapidocr.parse_options(AS_IT_LIES))
            cache[key] = lines_from_raw(result.raw, image.width, image.height)
        return cache[key]

    return read


def open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")
