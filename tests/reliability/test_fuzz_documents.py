"""Fuzzing the document intake: whatever the bytes, `open_document` answers with a Document or a typed
OCRGateError, never anything else; the pages of an accepted document render or fail typed as well.

Inputs are valid seeds of every supported type (several modes and compressions, a hand-written PDF,
the hostile corpus) put through byte-level mutations, plus magic numbers followed by random bytes.
"""

from __future__ import annotations

import collections
import functools
import random
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ocrgate.config import Limits
from ocrgate.documents import open_document
from ocrgate.errors import OCRGateError
from tests.helpers import image_bytes
from tests.reliability.reports import fuzz_examples, write_report

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests" / "fixtures" / "hostile"
sys.path.insert(0, str(REPO / "scripts"))
from make_hostile_corpus import one_page_pdf  # noqa: E402

# small limits keep every accepted input cheap to decode and render
LIMITS = Limits(max_upload_bytes=2_000_000, max_page_pixels=250_000, max_pages=8, pdf_dpi=72)
MAGICS = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\0\0\0\0WEBP",
    b"BM",
    b"%PDF-1.7\n",
]
PAGES_RENDERED = 2


@functools.cache
def seeds() -> list[bytes]:
    def page(mode: str = "RGB") -> Image.Image:  # a fresh image each time: saving leaves state on it
        image = Image.new("RGB", (40, 24), "white")
        draw = ImageDraw.Draw(image)
        draw.rectangle((4, 4, 20, 12), fill="black")
        draw.line((22, 2, 38, 22), fill="red", width=2)
        return image.convert(mode)

    found = [
        image_bytes(page(), "PNG"),
        image_bytes(page("RGBA"), "PNG"),
        image_bytes(page("P"), "PNG", transparency=0),
        image_bytes(page("L").convert("I;16"), "PNG"),
        image_bytes(page(), "JPEG", quality=70),
        image_bytes(page("L"), "JPEG", progressive=True),
        image_bytes(page("CMYK"), "JPEG"),
        image_bytes(page(), "TIFF", save_all=True, append_images=[page("L"), page()]),
        image_bytes(page(), "TIFF", compression="tiff_lzw"),
        image_bytes(page(), "TIFF", compression="jpeg"),
        image_bytes(page("1"), "TIFF", compression="group4"),
        image_bytes(page("L"), "TIFF", compression="packbits"),
        image_bytes(page(), "TIFF", compression="tiff_deflate"),
        image_bytes(page(), "WEBP", quality=50),
        image_bytes(page("RGBA"), "WEBP", lossless=True),
        image_bytes(page(), "BMP"),
        image_bytes(page("P"), "BMP"),
        one_page_pdf(),
        one_page_pdf("0 0 612 792"),
    ]
    hostile = [p for p in sorted(HOSTILE.iterdir()) if p.suffix not in (".json", ".html", ".svg", ".gif")]
    return [data for data in found + [p.read_bytes() for p in hostile] if data]


def mutate(seed: bytes, rnd: random.Random) -> bytes:
    """A seed with a few byte-level edits: flips, overwrites, inserts, deletes, cuts, edge integers,
    copied slices. Positions are uniform over the file, with extra weight on its first 64 bytes
    (where the headers, sizes and offsets are)."""
    data = bytearray(seed)
    for _ in range(rnd.choice([1, 1, 1, 2, 2, 3, 4, 6])):
        if not data:
            data += rnd.randbytes(rnd.randint(1, 16))
            continue
        at = rnd.randrange(min(len(data), 64)) if rnd.random() < 0.3 else rnd.randrange(len(data))
        op = rnd.choice(["flip", "byte", "int", "insert", "delete", "cut", "copy"])
        if op == "flip":
            data[at] ^= 1 << rnd.randrange(8)
        elif op == "byte":
            data[at] = rnd.choice([0, 1, 0x7F, 0x80, 0xFF, rnd.randrange(256)])
        elif op == "int":  # a length, size or offset field set to an edge value
            size = rnd.choice([2, 4])
            value = rnd.choice(
                [0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 100_000, rnd.randrange(1 << 32)]
            )
            data[at : at + size] = (value % (1 << (8 * size))).to_bytes(size, rnd.choice(["big", "little"]))
        elif op == "insert":
            data[at:at] = rnd.randbytes(rnd.randint(1, 32))
        elif op == "delete":
            del data[at : at + rnd.randint(1, 64)]
        elif op == "cut":
            del data[max(at, 1) :]
        else:  # duplicate a slice somewhere else (repeated chunks, IFDs, objects)
            data[rnd.randrange(len(data) + 1) : 0] = data[at : at + rnd.randint(1, 256)]
    return bytes(data)


def documents() -> st.SearchStrategy[bytes]:
    """Mutated seeds (hypothesis picks the seed file and the mutation stream), or magic + random bytes."""
    mutated = st.builds(
        lambda seed, n: mutate(seed, random.Random(n)), st.sampled_from(seeds()), st.integers()
    )
    random_tail = st.builds(lambda m, b: m + b, st.sampled_from(MAGICS), st.binary(max_size=512))
    return st.one_of(mutated, mutated, mutated, mutated, random_tail)


def intake(data: bytes) -> str:
    """What the gateway does with an upload: open it, then size and render a few of its pages."""
    try:
        document = open_document(data, "fuzz", LIMITS)
    except OCRGateError as exc:
        return exc.code
    try:
        for index in range(min(document.page_count, PAGES_RENDERED)):
            document.page_size(index)
            page = document.page(index)
            assert page.image.mode == "RGB" and page.width * page.height <= LIMITS.max_page_pixels
        return "accepted"
    except OCRGateError as exc:
        return f"page:{exc.code}"
    finally:
        document.close()


@pytest.mark.parametrize("media_box", ["0 0 14400 14400000", "0 0 1 1000000000", "0 0 1000000000 0.001"])
def test_a_thin_pdf_page_stays_within_the_pixel_limit(media_box: str) -> None:
    """Found by this fuzzer: rounding each side up once let a 1:1000 page pass the limit (16 x 15733)."""
    document = open_document(one_page_pdf(media_box), "thin.pdf", LIMITS)
    width, height = document.page_size(0)
    assert width * height <= LIMITS.max_page_pixels
    assert document.page(0).image.size == (width, height)


def test_seeds_are_accepted() -> None:
    """The mutations start from inputs that work (the hostile corpus aside)."""
    valid = [s for s in seeds() if intake(s) == "accepted"]
    assert len(valid) >= 19


@pytest.mark.filterwarnings("ignore")  # Pillow warns about every odd tag it skips
@pytest.mark.parametrize(
    "examples",
    [
        pytest.param(fuzz_examples(5_000), id="short"),
        pytest.param(fuzz_examples(50_000), id="long", marks=pytest.mark.slow),
    ],
)
def test_open_document_raises_only_typed_errors(examples: int) -> None:
    outcomes: collections.Counter[str] = collections.Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(documents())
    def run(data: bytes) -> None:
        outcomes[intake(data)] += 1  # anything but an OCRGateError escapes and fails the test

    started = time.perf_counter()
    run()
    total = sum(outcomes.values())
    write_report(
        f"fuzz_documents_{examples}",
        {
            "target": "ocrgate.documents.open_document (+ page_size, page)",
            "inputs": total,
            "unhandled_exceptions": 0,
            "outcomes": dict(outcomes.most_common()),
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    assert total >= examples
    assert outcomes["accepted"] > 0 and len(outcomes) > 4  # the mutations reach past the type sniffing
