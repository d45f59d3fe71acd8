"""Property test over transformations, through real OCR: every orientation x format, mode and alpha
variant of a real page reads (RapidOCR, in-process) within CER 0.02 of its upright 8-bit original.

The normal run reads a handful of combinations of the small tesseract_test page; the full product
over three pages (tesseract_test, a receipt, a form) runs with `-m slow` (`make test-long`).
"""

from __future__ import annotations

from functools import cache

import pytest
from PIL import Image

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import PageImage, open_document
from tests.conftest import EVAL_DIR
from tests.helpers import cer
from tests.image_variants import ALPHA, FORMATS, MODES, ORIENTATIONS, Variant, encode, oriented

MAX_CER = 0.02
PAGES = {
    "phototest": "tesseract_test/images/phototest.png",
    "receipt": "receipts/images/sroie_517.jpg",
    "form": "forms/images/funsd_00070353.png",
}
MODE = {v.name: v for v in MODES}
ALPHA_BY_NAME = {v.name: v for v in ALPHA}


@pytest.fixture(scope="module")
def backend(rapidocr: RapidOCRBackend) -> RapidOCRBackend:
    """The session's RapidOCR (tests/conftest.py), under this module's name for it."""
    return rapidocr


def read(backend: RapidOCRBackend, image: Image.Image) -> str:
    result = backend.ocr_page(PageImage(index=0, image=image), backend.parse_options({}))
    return "\n".join(block.text for block in result.blocks)


@cache
def upright(name: str) -> Image.Image:
    return Image.open(EVAL_DIR / PAGES[name]).convert("RGB")


_references: dict[tuple[str, object], str] = {}


def reference_text(backend: RapidOCRBackend, name: str, variant: Variant | None = None) -> str:
    """What OCR reads on the upright 8-bit RGB page (for a lossy mode: that mode's content in RGB)."""
    key = (name, variant.reference if variant else None)  # variants share their reference pictures
    if key not in _references:
        page = upright(name)
        _references[key] = read(backend, variant.reference(page) if variant else page)
    return _references[key]


def check(backend: RapidOCRBackend, data: bytes, truth: str) -> None:
    document = open_document(data, "variant")
    assert document.page_count == 1
    text = read(backend, document.page(0).image)
    assert truth.strip(), "the reference read nothing"
    assert cer(text, truth) <= MAX_CER, text


def check_orientation(backend: RapidOCRBackend, name: str, orientation: int, fmt: str) -> None:
    check(backend, oriented(upright(name), orientation, fmt), reference_text(backend, name))


def check_variant(backend: RapidOCRBackend, name: str, variant: Variant, fmt: str) -> None:
    check(backend, encode(variant, upright(name), fmt), reference_text(backend, name, variant))


# --- the normal run: a handful of combinations on the small page ----------------------------------


@pytest.mark.parametrize(("orientation", "fmt"), [(6, "JPEG"), (3, "PNG"), (5, "TIFF"), (8, "WEBP")])
def test_orientation_short(backend: RapidOCRBackend, orientation: int, fmt: str) -> None:
    check_orientation(backend, "phototest", orientation, fmt)


@pytest.mark.parametrize(("mode", "fmt"), [("I;16B", "TIFF"), ("F", "TIFF"), ("CMYK", "JPEG")])
def test_mode_short(backend: RapidOCRBackend, mode: str, fmt: str) -> None:
    check_variant(backend, "phototest", MODE[mode], fmt)


@pytest.mark.parametrize(("alpha", "fmt"), [("RGBA white text", "PNG"), ("LA white text", "TIFF")])
def test_alpha_short(backend: RapidOCRBackend, alpha: str, fmt: str) -> None:
    check_variant(backend, "phototest", ALPHA_BY_NAME[alpha], fmt)


# --- the full product (slow) ----------------------------------------------------------------------

ORIENTATION_CASES = [(p, o, f) for p in PAGES for o in ORIENTATIONS for f in FORMATS]
MODE_CASES = [(p, v, f) for p in PAGES for v in MODES for f in v.formats]
ALPHA_CASES = [(p, v, f) for p in PAGES for v in ALPHA for f in v.formats]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "orientation", "fmt"), ORIENTATION_CASES)
def test_every_orientation_and_format(
    backend: RapidOCRBackend, name: str, orientation: int, fmt: str
) -> None:
    check_orientation(backend, name, orientation, fmt)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "variant", "fmt"), MODE_CASES, ids=[f"{p}-{v.name}-{f}" for p, v, f in MODE_CASES]
)
def test_every_mode_and_bit_depth(backend: RapidOCRBackend, name: str, variant: Variant, fmt: str) -> None:
    check_variant(backend, name, variant, fmt)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "variant", "fmt"), ALPHA_CASES, ids=[f"{p}-{v.name}-{f}" for p, v, f in ALPHA_CASES]
)
def test_every_alpha_variant(backend: RapidOCRBackend, name: str, variant: Variant, fmt: str) -> None:
    check_variant(backend, name, variant, fmt)
