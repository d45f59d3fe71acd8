"""Mistral's OCR convention, offline: data: URLs, page selections, and the unified response turned
into Mistral's shape (checked against the `mistralai` SDK's own response models)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from ocrgate.backends.rapidocr import RapidOCRBackend
from ocrgate.documents import open_document
from ocrgate.errors import FileTooLarge, InvalidRequest, UnsupportedType
from ocrgate.inprocess import recognize
from ocrgate.mistral.inputs import decode_base64, decode_data_url, select_pages
from ocrgate.mistral.models import MistralOCRRequest
from ocrgate.mistral.translate import Shape, crop_figures, figure_ids, page_markdown, to_mistral
from ocrgate.render import page_markdown as unified_page_markdown
from ocrgate.schema import Block, OCRResponse, Page, TextLine, Word
from tests.helpers import image_bytes

KINDS = ("title", "text", "table", "equation", "caption", "list", "code", "header", "footer")


def _page(index: int, blocks: list[Block], width: int = 640, height: int = 480) -> Page:
    return Page(
        index=index,
        width=width,
        height=height,
        markdown=unified_page_markdown(blocks),
        blocks=blocks,
    )


def _figure(bbox: tuple[float, float, float, float], text: str = "") -> Block:
    return Block(kind="figure", text=text, bbox=bbox)


def _response(pages: list[Page]) -> OCRResponse:
    return OCRResponse(request_id="r1", backend="rapidocr", pages=pages)


@pytest.fixture(scope="module")
def phototest_read(phototest: Path) -> OCRResponse:
    """phototest.png read by RapidOCR in this process: a real unified response."""
    backend = RapidOCRBackend()
    document = open_document(phototest.read_bytes(), "phototest.png")
    try:
        return recognize(document, backend, {}, boxes="none")
    finally:
        document.close()
        backend.close()


def test_a_real_page_keeps_its_markdown_and_parses_with_the_sdk(phototest_read: OCRResponse) -> None:
    sdk = pytest.importorskip("mistralai.client.models")
    shape = Shape(confidence="block")
    answer = to_mistral(phototest_read, shape, dpi=lambda _i: 72, doc_size_bytes=5246)
    assert answer.model == "rapidocr" and answer.usage_info.pages_processed == 1
    page = answer.pages[0]
    assert page.markdown == phototest_read.pages[0].markdown and "quick brown dog" in page.markdown
    assert (page.dimensions.width, page.dimensions.height, page.dimensions.dpi) == (640, 480, 72)
    assert page.blocks and all(b.type == "text" and b.confidence_scores for b in page.blocks)
    parsed = sdk.OCRResponse.model_validate(answer.model_dump(mode="json", exclude_none=True))
    assert parsed.pages[0].markdown == page.markdown
    assert parsed.pages[0].blocks[0].content == page.blocks[0].content


def test_without_figures_the_markdown_is_the_unified_one() -> None:
    blocks = [
        Block(kind=k, text=f"{k} text", bbox=(0, i * 20, 100, i * 20 + 10)) for i, k in enumerate(KINDS)
    ]
    page = _page(0, blocks)
    assert page_markdown(page, {}) == unified_page_markdown(blocks)
    assert "header text" not in page_markdown(page, {})


def test_figures_are_numbered_through_the_document_and_linked_in_the_markdown() -> None:
    pages = [
        _page(
            0,
            [Block(kind="text", text="Before", bbox=(0, 0, 100, 20)), _figure((10, 30, 210, 230), "Fig. 1")],
        ),
        _page(1, [_figure((0, 0, 50, 50)), Block(kind="text", text="After", bbox=(0, 60, 100, 80))]),
    ]
    answer = to_mistral(_response(pages), Shape(), dpi=lambda _i: 144, doc_size_bytes=1)
    first, second = answer.pages
    assert first.markdown == "Before\n\n![img-0.jpeg](img-0.jpeg)\n\nFig. 1"
    assert second.markdown == "![img-1.jpeg](img-1.jpeg)\n\nAfter"
    image = first.images[0]
    assert (image.id, image.top_left_x, image.top_left_y, image.bottom_right_x, image.bottom_right_y) == (
        "img-0.jpeg",
        10,
        30,
        210,
        230,
    )
    assert image.image_base64 is None  # only when asked
    assert [b.type for b in first.blocks] == ["text", "image"] and first.blocks[1].image_id == "img-0.jpeg"


def test_image_limit_and_min_size_choose_the_figures() -> None:
    pages = [_page(0, [_figure((0, 0, 20, 200)), _figure((0, 0, 100, 100)), _figure((0, 200, 300, 400))])]
    assert figure_ids(pages, Shape(image_min_size=50)) == {(0, 1): "img-0.jpeg", (0, 2): "img-1.jpeg"}
    assert figure_ids(pages, Shape(image_limit=1)) == {(0, 0): "img-0.jpeg"}
    answer = to_mistral(_response(pages), Shape(image_limit=1), dpi=lambda _i: 72, doc_size_bytes=1)
    assert [i.id for i in answer.pages[0].images] == ["img-0.jpeg"]
    assert answer.pages[0].markdown == "![img-0.jpeg](img-0.jpeg)"
    assert [b.type for b in answer.pages[0].blocks] == ["image"]


def test_figures_are_cropped_from_the_page_as_jpeg(phototest: Path) -> None:
    image = Image.open(phototest).convert("RGB")
    pages = [_page(0, [_figure((33.4, 84.2, 233.6, 159.5))])]
    shape = Shape(include_image_base64=True)
    crops = crop_figures(lambda _index: image, {"rapidocr": _response(pages)}, shape)
    data_url = crops["rapidocr"]["img-0.jpeg"]
    assert data_url.startswith("data:image/jpeg;base64,")
    crop = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    assert crop.format == "JPEG" and crop.size == (234 - 33, 160 - 84)
    answer = to_mistral(_response(pages), shape, dpi=lambda _i: 72, doc_size_bytes=1, crops=crops)
    assert answer.pages[0].images[0].image_base64 == data_url


def test_headers_footers_and_confidence_when_asked() -> None:
    words = [Word(text="a", bbox=(0, 0, 5, 5), score=0.5), Word(text="b", bbox=(5, 0, 9, 5), score=1.0)]
    blocks = [
        Block(kind="header", text="Running head", bbox=(0, 0, 100, 10)),
        Block(
            kind="text",
            text="a b",
            bbox=(0, 20, 100, 30),
            lines=[TextLine(text="a b", bbox=(0, 20, 100, 30), words=words)],
        ),
        Block(kind="footer", text="Page 3", bbox=(0, 460, 100, 470)),
    ]
    pages = [_page(0, blocks)]
    plain = to_mistral(_response(pages), Shape(), dpi=lambda _i: 72, doc_size_bytes=1).pages[0]
    assert plain.header is None and plain.footer is None and plain.confidence_scores is None
    asked = Shape(extract_header=True, extract_footer=True, confidence="page", include_blocks=False)
    page = to_mistral(_response(pages), asked, dpi=lambda _i: 72, doc_size_bytes=1).pages[0]
    assert (page.header, page.footer, page.markdown) == ("Running head", "Page 3", "a b")
    assert page.confidence_scores.average_page_confidence_score == pytest.approx(0.75)
    assert page.confidence_scores.minimum_page_confidence_score == 0.5
    assert page.blocks is None


def test_data_urls() -> None:
    png = image_bytes(Image.new("RGB", (4, 4), "white"), "PNG")
    encoded = base64.b64encode(png).decode()
    assert decode_data_url(f"data:image/png;base64,{encoded}", 1000) == ("image/png", png)
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert decode_data_url(f"DATA:application/octet-stream;base64,{wrapped}", 1000)[1] == png
    with pytest.raises(InvalidRequest, match="not valid base64"):
        decode_data_url("data:image/png;base64,iVBOR*w0KGgo", 1000)
    with pytest.raises(UnsupportedType):
        decode_data_url(f"data:text/html;base64,{encoded}", 1000)
    with pytest.raises(InvalidRequest, match="only base64"):
        decode_data_url("data:image/png,%89PNG", 1000)
    with pytest.raises(FileTooLarge):
        decode_data_url(f"data:image/png;base64,{encoded}", len(png) - 1)
    with pytest.raises(FileTooLarge):  # refused before decoding
        decode_base64("A" * 100_000, 1000)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [(None, None), ([2, 0, 2], [0, 2]), ("0,2-4", [0, 2, 3, 4]), (" 3 ", [3]), ("1-1", [1])],
)
def test_page_selections(spec: list[int] | str | None, expected: list[int] | None) -> None:
    assert select_pages(spec, 5) == expected


@pytest.mark.parametrize("spec", [[5], [-1], "4-7", "2-1", "a", "", []])
def test_bad_page_selections(spec: list[int] | str) -> None:
    with pytest.raises(InvalidRequest, match="pages"):
        select_pages(spec, 5)


def test_the_request_reads_what_the_sdk_sends() -> None:
    sdk = pytest.importorskip("mistralai.client.models")
    sent = sdk.OCRRequest(
        model="rapidocr",
        document=sdk.ImageURLChunk(image_url=sdk.ImageURL(url="data:image/png;base64,AAAA")),
        pages="0-2",
        include_image_base64=True,
    ).model_dump(mode="json", by_alias=True)
    request = MistralOCRRequest.model_validate(sent)
    assert request.model == "rapidocr" and request.pages == "0-2" and request.include_image_base64
    assert request.document.type == "image_url" and request.include_blocks
