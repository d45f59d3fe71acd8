"""ALTO and hOCR from real responses: the ALTO validates against the official ALTO 4.4 schema, the
hOCR parses, and both carry every line and word with its box, in reading order."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import lxml.html
import pypdfium2 as pdfium
import pytest
from lxml import etree
from PIL import Image

from ocrgate.backends.mineru.content_list import parse_content_list
from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import open_document
from ocrgate.formats import page_lines, to_alto, to_hocr
from ocrgate.inprocess import recognize
from ocrgate.render import assemble_response, render_page
from ocrgate.schema import Block, OCRResponse, Page, TextLine, Word
from tests.formats.conftest import Recognised
from tests.pdf_maker import PdfMaker

SCHEMA_DIR = Path(__file__).resolve().parent / "alto_schema"
MINERU_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mineru"
ALTO = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
XHTML = {"h": "http://www.w3.org/1999/xhtml"}
RESPONSES = ["phototest_rapidocr", "docling_rapidocr", "docling_deepseek", "mineru_two_pages"]


class _LocalSchemas(etree.Resolver):
    """The ALTO schema imports the Library of Congress's XLink schema by URL; read the bundled copy."""

    def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
        if url == "http://www.loc.gov/standards/xlink/xlink.xsd":
            return self.resolve_filename(str(SCHEMA_DIR / "xlink.xsd"), context)
        return None


@pytest.fixture(scope="module")
def alto_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas())
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "alto-4-4.xsd"), parser))


@pytest.fixture(scope="module")
def mineru_two_pages(multipage_pdf: Path, eval_dir: Path) -> Recognised:
    """Real MinerU output (the content list in tests/fixtures/mineru) for the 2-page code_and_formula
    PDF, pages of two sizes, at the gateway's 144 dpi: blocks without lines, with code and equations."""
    data = (eval_dir / "docling_pdf" / "pdf" / "code_and_formula.pdf").read_bytes()
    document = open_document(data, "code_and_formula.pdf", dpi=144)
    images = [page.image for page in document.iter_pages()]
    document.close()
    entries = json.loads((MINERU_FIXTURES / "code_and_formula.content_list.json").read_text(encoding="utf-8"))
    results = parse_content_list(entries, [image.size for image in images])
    rendered = [
        render_page(result, image, boxes=False) for result, image in zip(results, images, strict=True)
    ]
    return Recognised(assemble_response("mineru", "code_and_formula.pdf", rendered), images[0])


def expected_lines(response: OCRResponse) -> list[list[TextLine]]:
    """Per page, the text lines the writers write, in reading order."""
    return [[line for _, lines in page_lines(page) for line in lines] for page in response.pages]


def rounded(bbox: tuple[float, ...]) -> tuple[int, ...]:
    return tuple(round(v) for v in bbox)


@pytest.mark.parametrize("name", RESPONSES)
def test_alto_validates_and_carries_every_line_and_word(
    name: str, request: pytest.FixtureRequest, alto_schema: etree.XMLSchema
) -> None:
    response: OCRResponse = request.getfixturevalue(name).response
    root = etree.fromstring(to_alto(response))
    alto_schema.assertValid(root)
    assert root.findtext("a:Description/a:MeasurementUnit", namespaces=ALTO) == "pixel"
    assert root.findtext(".//a:processingSoftware/a:softwareName", namespaces=ALTO) == response.backend
    assert list(_steps(root)) == ["proc_ocr"]  # these pages are all the engine's
    described = root.findtext("a:Description/a:Processing/a:processingStepDescription", namespaces=ALTO)
    assert described == f"optical character recognition by the {response.backend} engine of the page images"
    pages = root.findall("a:Layout/a:Page", ALTO)
    assert len(pages) == len(response.pages)
    for element, page, lines in zip(pages, response.pages, expected_lines(response), strict=True):
        assert (int(element.get("WIDTH")), int(element.get("HEIGHT"))) == (page.width, page.height)
        written = element.findall(".//a:TextLine", ALTO)
        assert len(written) == len(lines) > 0
        for text_line, line in zip(written, lines, strict=True):
            x, y, w, h = (int(text_line.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            assert (x, y, x + w, y + h) == pytest.approx(rounded(line.bbox), abs=1)
            strings = text_line.findall("a:String", ALTO)
            assert [s.get("CONTENT") for s in strings] == [w.text for w in line.words]
            assert len(text_line.findall("a:SP", ALTO)) == len(strings) - 1
            for string, word in zip(strings, line.words, strict=True):
                x, y, w, h = (int(string.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
                assert (x, y, x + w, y + h) == pytest.approx(rounded(word.bbox), abs=1)
                assert string.get("WC") is None or 0 <= float(string.get("WC")) <= 1
    # every block kind is a LayoutTag that its blocks name
    tags = {tag.get("ID"): tag.get("LABEL") for tag in root.findall("a:Tags/a:LayoutTag", ALTO)}
    kinds = {b.kind for p in response.pages for b in p.blocks if b.text.strip() or b.kind == "figure"}
    assert set(tags.values()) >= kinds


def _steps(root: etree._Element) -> dict[str, etree._Element]:
    return {step.get("ID"): step for step in root.findall("a:Description/a:Processing", ALTO)}


@pytest.fixture(scope="module")
def born_digital_and_scanned(eval_dir: Path, phototest: Path, rapidocr: RapidOCRBackend) -> OCRResponse:
    """One PDF, read by RapidOCR with `text_layer=auto`: a born-digital page (a reliable text layer),
    a scanned page (a picture only) and a page of real text with a scan on it (both)."""
    pdf = pdfium.PdfDocument.new()
    born = pdfium.PdfDocument(eval_dir / "docling_pdf" / "pages_pdf" / "multi_page_p1.pdf")
    scans = PdfMaker().add_page(460, 345).picture(Image.open(phototest), 0, 0, 460, 345)
    scans.add_page().text("A heading made of real text", 72, 720, 18)
    scans.picture(Image.open(phototest), 72, 300, 468, 351)
    scanned = pdfium.PdfDocument(scans.bytes())
    pdf.import_pages(born)
    pdf.import_pages(scanned)
    buffer = io.BytesIO()
    pdf.save(buffer)
    for document in (pdf, born, scanned):
        document.close()
    response = recognize(open_document(buffer.getvalue(), "mixed.pdf"), rapidocr, {}, boxes="none")
    origins = [{b.origin for b in page.blocks} for page in response.pages]
    assert origins == [{"text_layer"}, {"engine"}, {"text_layer", "engine"}]  # what the test is about
    return response


def test_alto_names_the_text_layer_and_the_engine_where_each_gave_the_text(
    born_digital_and_scanned: OCRResponse, alto_schema: etree.XMLSchema
) -> None:
    response = born_digital_and_scanned
    root = etree.fromstring(to_alto(response))
    alto_schema.assertValid(root)
    assert root.find("a:Description/a:OCRProcessing", ALTO) is None  # deprecated since ALTO 4.0
    steps = _steps(root)
    assert list(steps) == ["proc_text_layer", "proc_ocr"]
    layer, ocr = steps["proc_text_layer"], steps["proc_ocr"]
    assert layer.findtext("a:processingCategory", namespaces=ALTO) == "contentGeneration"
    assert "text layer" in layer.findtext("a:processingStepDescription", namespaces=ALTO)
    assert layer.findtext("a:processingSoftware/a:softwareName", namespaces=ALTO) == "ocrgate"
    assert "pdfium" in layer.findtext("a:processingSoftware/a:applicationDescription", namespaces=ALTO)
    described = ocr.findtext("a:processingStepDescription", namespaces=ALTO)
    assert "optical character recognition" in described
    assert "page images" in described and "pictures" in described  # page 2 whole, page 3 its picture
    assert ocr.findtext("a:processingSoftware/a:softwareName", namespaces=ALTO) == "rapidocr"

    pages = root.findall("a:Layout/a:Page", ALTO)
    assert [p.get("PROCESSINGREFS") for p in pages] == [
        "proc_text_layer",
        "proc_ocr",
        "proc_text_layer proc_ocr",
    ]
    for element, page in zip(pages, response.pages, strict=True):
        written = element.findall(".//a:TextBlock", ALTO)
        expected = [b for b, lines in page_lines(page) if lines]
        assert [b.get("PROCESSINGREFS") for b in written] == [
            {"text_layer": "proc_text_layer", "engine": "proc_ocr"}[b.origin] for b in expected
        ]
    scanned_words = " ".join(s.get("CONTENT") for s in pages[1].iterfind(".//a:String", ALTO))
    assert "quick brown" in scanned_words


def test_a_born_digital_pdf_names_no_engine(eval_dir: Path, rapidocr: RapidOCRBackend) -> None:
    """Every page from its text layer: the engine read nothing, so the ALTO does not say it did."""
    path = eval_dir / "docling_pdf" / "pages_pdf" / "multi_page_p1.pdf"
    response = recognize(open_document(path.read_bytes(), path.name), rapidocr, {}, boxes="none")
    assert response.timings.ocr == 0.0
    root = etree.fromstring(to_alto(response))
    assert list(_steps(root)) == ["proc_text_layer"]
    assert "rapidocr" not in etree.tostring(root.find("a:Description", ALTO), encoding="unicode")
    assert {b.get("PROCESSINGREFS") for b in root.iterfind(".//a:TextBlock", ALTO)} == {"proc_text_layer"}


def test_alto_words_are_rapidocr_words(phototest_rapidocr: Recognised) -> None:
    """RapidOCR's word boxes reach the ALTO: the phototest page's first line, word by word."""
    root = etree.fromstring(to_alto(phototest_rapidocr.response))
    first = root.find(".//a:TextLine", ALTO)
    words = [s.get("CONTENT") for s in first.findall("a:String", ALTO)]
    assert words == ["This", "is", "a", "lot", "of", "12", "point", "text", "to", "test", "the"]
    lefts = [int(s.get("HPOS")) for s in first.findall("a:String", ALTO)]
    assert lefts == sorted(lefts) and lefts[-1] - lefts[0] > 400  # spread along the line, in order


_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
_WCONF = re.compile(r"x_wconf (\d+)")


@pytest.mark.parametrize("name", RESPONSES)
def test_hocr_parses_and_carries_every_line_with_its_box(name: str, request: pytest.FixtureRequest) -> None:
    response: OCRResponse = request.getfixturevalue(name).response
    data = to_hocr(response)
    root = etree.fromstring(data)  # well-formed XHTML
    assert lxml.html.document_fromstring(data).find(".//body") is not None  # and HTML a browser reads
    meta = {m.get("name"): m.get("content") for m in root.iterfind(".//h:meta", XHTML) if m.get("name")}
    assert "ocr_line" in meta["ocr-capabilities"] and "ocrx_word" in meta["ocr-capabilities"]
    pages = root.findall(".//h:div[@class='ocr_page']", XHTML)
    assert len(pages) == len(response.pages)
    for element, page, lines in zip(pages, response.pages, expected_lines(response), strict=True):
        assert _BBOX.search(element.get("title")).groups() == ("0", "0", str(page.width), str(page.height))
        written = element.findall(".//h:span[@class='ocr_line']", XHTML)
        assert len(written) == len(lines) > 0
        for span, line in zip(written, lines, strict=True):
            assert tuple(map(int, _BBOX.search(span.get("title")).groups())) == rounded(line.bbox)
            words = span.findall("h:span[@class='ocrx_word']", XHTML)
            assert [w.text for w in words] == [w.text for w in line.words]
            assert "".join(span.itertext()).strip() == " ".join(w.text for w in line.words)
            for word_span, word in zip(words, line.words, strict=True):
                title = word_span.get("title")
                assert tuple(map(int, _BBOX.search(title).groups())) == rounded(word.bbox)
                wconf = _WCONF.search(title)
                assert wconf is None or 0 <= int(wconf.group(1)) <= 100


def test_awkward_text_and_names_stay_well_formed(alto_schema: etree.XMLSchema) -> None:
    """Markup characters, quotes and non-Latin text in words and the file name; a figure without text."""
    words = [
        Word(text=t, bbox=(10 + 30 * i, 10, 35 + 30 * i, 30), score=0.5)
        for i, t in enumerate(["<a&b>", '"q"', "中文"])
    ]
    line = TextLine(text='<a&b> "q" 中文', bbox=(10, 10, 95, 30), score=0.9, words=words)
    blocks = [
        Block(text=line.text, bbox=(10, 10, 95, 30), lines=[line]),
        Block(kind="figure", bbox=(0, 40, 100, 100)),
    ]
    page = Page(index=0, width=100, height=100, markdown="", blocks=blocks)
    response = OCRResponse(backend="tesseract", image_name='scan "1" & <2>.png', pages=[page])
    root = etree.fromstring(to_alto(response))
    alto_schema.assertValid(root)
    assert [s.get("CONTENT") for s in root.iterfind(".//a:String", ALTO)] == ["<a&b>", '"q"', "中文"]
    assert root.find(".//a:Illustration", ALTO) is not None
    assert root.findtext(".//a:fileName", namespaces=ALTO) == 'scan "1" & <2>.png'
    hocr = etree.fromstring(to_hocr(response))
    assert [w.text for w in hocr.iterfind(".//h:span[@class='ocrx_word']", XHTML)] == ["<a&b>", '"q"', "中文"]
    page_title = hocr.find(".//h:div[@class='ocr_page']", XHTML).get("title")
    assert page_title.startswith('image "scan \\"1\\" & <2>.png"; bbox 0 0 100 100')
    assert hocr.find(".//h:div[@class='ocr_photo']", XHTML) is not None


@pytest.mark.parametrize(
    "char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\ufffe", "\uffff", "\ud800"]
)
def test_a_file_name_with_what_xml_cannot_hold_still_gives_well_formed_files(
    alto_schema: etree.XMLSchema, char: str
) -> None:
    """A client's file name may hold C0 controls, a lone surrogate or a non-character (XML 1.0, 2.2):
    left out of the name, as `formats.lines.writable` leaves them out of engines' text."""
    line = TextLine(text="word", bbox=(10, 10, 60, 30), words=[Word(text="word", bbox=(10, 10, 60, 30))])
    page = Page(
        index=0,
        width=100,
        height=100,
        markdown="",
        blocks=[Block(text="word", bbox=(10, 10, 60, 30), lines=[line])],
    )
    response = OCRResponse(backend="tesseract", image_name=f"scan{char}01.png", pages=[page])
    root = etree.fromstring(to_alto(response))
    alto_schema.assertValid(root)
    assert root.findtext(".//a:fileName", namespaces=ALTO) == "scan01.png"
    hocr = etree.fromstring(to_hocr(response))
    assert hocr.findtext(".//h:title", namespaces=XHTML) == "scan01.png"
    assert hocr.find(".//h:div[@class='ocr_page']", XHTML).get("title").startswith('image "scan01.png"')
    only = OCRResponse(backend="tesseract", image_name=char, pages=[page])  # nothing left of the name
    assert etree.fromstring(to_alto(only)).find(".//a:sourceImageInformation", ALTO) is None
    assert etree.fromstring(to_hocr(only)).findtext(".//h:title", namespaces=XHTML) == "ocrgate"
