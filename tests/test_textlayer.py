"""The PDF text layer read instead of OCR where it can be trusted, and only there."""

from __future__ import annotations

import statistics
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from bench.text_layer import TRUTH_OUT_OF_ORDER, docling_pages, read_page
from PIL import Image

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import open_document
from ocrgate.inprocess import recognize
from ocrgate.textlayer import assess, read_text_layer
from tests.helpers import cer
from tests.pdf_maker import PdfMaker, type3_pdf


def _quality(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    page = pdf[0]
    image = page.render(scale=2).to_pil().convert("RGB")
    quality = assess(read_text_layer(page, image.width, image.height), image)
    pdf.close()
    return quality


def test_born_digital_pages_are_read_from_their_layer(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    data = (eval_dir / "docling_pdf" / "pdf" / "multi_page.pdf").read_bytes()
    document = open_document(data, "multi_page.pdf")
    response = recognize(document, rapidocr, {}, boxes="none")
    assert response.timings.ocr == 0.0, "no page went to the engine"
    for page in response.pages:
        assert page.blocks and all(b.origin == "text_layer" for b in page.blocks)
        assert all(
            w.bbox[2] <= page.width and w.bbox[3] <= page.height
            for b in page.blocks
            for w in b.lines[0].words
        )
    truth = (eval_dir / "docling_pdf" / "gt" / "multi_page_p1.txt").read_text(encoding="utf-8")
    assert cer(response.pages[0].markdown, truth) < 0.02


def test_word_boxes_lie_on_the_rendered_words(eval_dir: Path) -> None:
    """Each word of the layer sits on ink of the page image it was mapped to (rotation and scale)."""
    data = PdfMaker().add_page(612, 792).text("Searchable words here", 72, 700, 24).bytes()
    for rotate in (0, 90, 180, 270):
        pdf = pdfium.PdfDocument(data)
        page = pdf[0]
        page.set_rotation(rotate)
        image = page.render(scale=1.5).to_pil().convert("L")
        layer = read_text_layer(page, image.width, image.height)
        words = [w for line in layer.lines for w in line.words]
        assert [w.text for w in words] == ["Searchable", "words", "here"], rotate
        for word in words:
            crop = image.crop(tuple(round(v) for v in word.bbox))
            assert crop.getextrema()[0] < 100, (rotate, word)  # the word box holds dark glyph pixels
        pdf.close()


def test_scans_and_garbled_layers_go_to_the_engine(phototest: Path, rapidocr: RapidOCRBackend) -> None:
    scan = PdfMaker().add_page(640 * 72 / 200, 480 * 72 / 200)
    scan.picture(Image.open(phototest), 0, 0, 640 * 72 / 200, 480 * 72 / 200)
    assert _quality(scan.bytes()) == "none"
    assert _quality(type3_pdf()) == "garbled"
    response = recognize(open_document(scan.bytes(), "scan.pdf"), rapidocr, {}, boxes="none")
    assert response.timings.ocr > 0 and all(b.origin == "engine" for b in response.pages[0].blocks)
    assert "quick brown dog" in response.markdown.lower()
    garbled = recognize(open_document(type3_pdf(), "t3.pdf"), rapidocr, {}, boxes="none")
    assert "ABAB" not in garbled.markdown, "a garbled layer is not trusted"


OLD_READING = "an old reading of this scan that is wrong"


def ocr_layered_scan(phototest: Path, how: str) -> bytes:
    """The phototest page as a scan with an earlier OCR layer (wrong text) the way OCR tools write one:
    `invisible` text over the picture, or text drawn first with the picture painted over it (`under`)."""
    width, height = 640 * 72 / 200, 480 * 72 / 200
    scan = PdfMaker().add_page(width, height)
    lines = [(OLD_READING, 40 + 30 * k) for k in range(4)]
    if how == "invisible":
        scan.picture(Image.open(phototest), 0, 0, width, height)
    for text, y in lines:
        scan.text(text, 12, height - y, 9, invisible=how == "invisible")
    if how == "under":
        scan.picture(Image.open(phototest), 0, 0, width, height)
    return scan.bytes()


@pytest.mark.parametrize("how", ["invisible", "under"])
def test_an_earlier_ocr_layer_is_the_engines_to_read(
    phototest: Path, rapidocr: RapidOCRBackend, how: str
) -> None:
    """Someone else's OCR of a scan is not the page's text: the engine asked for reads the page (so
    engines compared on it are compared on their own readings); `only` takes the layer, flagged."""
    data = ocr_layered_scan(phototest, how)
    assert _quality(data) == "hidden"
    response = recognize(open_document(data, "scan.pdf"), rapidocr, {}, boxes="none")
    assert response.timings.ocr > 0 and all(b.origin == "engine" for b in response.pages[0].blocks)
    assert "quick brown dog" in response.markdown.lower() and "old reading" not in response.markdown
    only = recognize(open_document(data, "scan.pdf"), rapidocr, {}, boxes="none", text_layer="only")
    assert only.timings.ocr == 0 and "text_layer_hidden" in only.pages[0].flags
    assert OLD_READING in only.markdown


def test_visible_text_over_a_picture_is_the_pages_own(phototest: Path) -> None:
    """A caption drawn over a photo (after it) is shown: the layer is not hidden."""
    page = PdfMaker().add_page(320, 240).picture(Image.open(phototest), 0, 0, 320, 240)
    assert _quality(page.text("A caption over the photo", 12, 20, 12).bytes()) != "hidden"


def test_pictures_the_layer_misses_are_read_by_the_engine(phototest: Path, rapidocr: RapidOCRBackend) -> None:
    data = PdfMaker().add_page().text("A heading made of real text", 72, 720, 18)
    data.picture(Image.open(phototest), 72, 300, 468, 351)
    assert _quality(data.bytes()) == "partial"
    response = recognize(open_document(data.bytes(), "mixed.pdf"), rapidocr, {}, boxes="none")
    page = response.pages[0]
    assert "text_layer_partial" in page.flags
    origins = {b.origin for b in page.blocks}
    assert origins == {"engine", "text_layer"}
    text = page.markdown.lower()
    assert text.index("a heading made of real text") < text.index("quick brown dog")
    assert all(0 <= b.bbox[0] < b.bbox[2] <= page.width for b in page.blocks)


@pytest.mark.parametrize("mode", ["never", "only"])
def test_text_layer_modes(eval_dir: Path, rapidocr: RapidOCRBackend, phototest: Path, mode: str) -> None:
    data = (eval_dir / "docling_pdf" / "pdf" / "multi_page.pdf").read_bytes()
    scan = PdfMaker().add_page(320, 240).picture(Image.open(phototest), 0, 0, 320, 240).bytes()
    born = recognize(open_document(data, "a.pdf"), rapidocr, {}, boxes="none", text_layer=mode)  # type: ignore[arg-type]
    scanned = recognize(open_document(scan, "s.pdf"), rapidocr, {}, boxes="none", text_layer=mode)  # type: ignore[arg-type]
    if mode == "never":
        assert all(b.origin == "engine" for p in born.pages[:1] for b in p.blocks) and born.timings.ocr > 0
        assert "quick brown dog" in scanned.markdown.lower()
    else:
        assert born.timings.ocr == 0.0 and scanned.timings.ocr == 0.0
        assert scanned.pages[0].blocks == [] and "text_layer_none" in scanned.pages[0].flags


def test_only_never_asks_the_engine_for_an_image(phototest: Path, rapidocr: RapidOCRBackend) -> None:
    """An image has no text layer: `only` gives its page empty and flagged, as a scanned PDF's."""
    response = recognize(
        open_document(phototest.read_bytes(), "p.png"), rapidocr, {}, boxes="none", text_layer="only"
    )
    page = response.pages[0]
    assert response.timings.ocr == 0.0 and page.blocks == [] and page.flags == ["text_layer_none"]
    assert (page.width, page.height) == Image.open(phototest).size


def test_docling_pages_read_through_their_layer(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    """The README's text-layer figures (`python -m bench.text_layer`): every docling_pdf page that its
    layer serves alone reads with word-bag F1 >= 0.97, and at mean CER <= 0.02 where the truth is in
    reading order (one page's truth interleaves two columns: `TRUTH_OUT_OF_ORDER`)."""
    records = [read_page(entry, "auto", rapidocr) for entry in docling_pages()]
    alone = [r for r in records if not r["engine_read"]]
    assert len(alone) >= 10, "born-digital pages without pictures to OCR are read from their layer alone"
    assert all(r["f1"] >= 0.97 for r in alone), [(r["id"], r["f1"]) for r in alone]
    in_order = [r["cer"] for r in alone if r["id"] not in TRUTH_OUT_OF_ORDER]
    assert statistics.mean(in_order) <= 0.02, in_order


# Vector text drawn over a picture the engine must read (a report cover: a background photo under its
# title and authors), in groups of lines the engine reads as one block: ragged, so the block's box is
# mostly white space between and beside the lines. What the engine reads of them in the picture's crop
# (all of a line, or the part of it on the picture) must not come back beside the layer's own lines.
OVER_PICTURE = {  # lines: (text, x, y) in points from the bottom left; the picture is 150-470 x 80-530
    "a right-aligned author list inside it": [
        ("Hernando Bedoya", 340, 230),
        ("Jim Cain", 393, 206),
        ("Dan Cruikshank", 346, 182),
        ("Tom Mack", 389, 158),
    ],
    "a two-line bullet cut by its left edge": [
        ("Leverage row permissions on", 40, 200),
        ("the database tables", 40, 182),
    ],
    "a ragged paragraph across its right edge": [
        ("Protect columns by defining column masks", 330, 200),
        ("for payroll", 330, 182),
    ],
}


@pytest.mark.parametrize("where", list(OVER_PICTURE))
def test_text_over_a_picture_is_read_once(phototest: Path, rapidocr: RapidOCRBackend, where: str) -> None:
    picture = Image.new("RGB", (640, 900), "white")
    picture.paste(Image.open(phototest).convert("RGB"), (0, 0))  # its text: pixels only, for the engine
    data = PdfMaker().add_page().picture(picture, 150, 80, 320, 450)
    for line, x, y in OVER_PICTURE[where]:  # after the picture: drawn over it, in its blank lower part
        data.text(line, x, y, 14)
    response = recognize(open_document(data.bytes(), "cover.pdf"), rapidocr, {}, boxes="none")
    page = response.pages[0]
    assert "text_layer_partial" in page.flags
    text = " ".join(page.markdown.split())
    layer = [line for line, _, _ in OVER_PICTURE[where]]
    for line in layer:
        assert text.count(line) == 1, page.markdown
    for block in page.blocks:  # nor a part of one read again from the picture's pixels
        for read in (ln.text.strip() for ln in block.lines):
            assert read in layer or not any(read in line for line in layer), (read, page.markdown)
    assert "quick brown" in text.lower()  # what only the picture holds is still read
