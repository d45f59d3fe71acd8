"""Rendering: markdown per block kind, the boxes picture, figures embedded in source markdown."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET

from PIL import Image

from ocrgate.render import (
    KIND_COLOURS,
    assemble_response,
    block_markdown,
    boxes_svg,
    label_ink,
    page_href,
    page_markdown,
    preview_jpeg,
    render_page,
    source_markdown,
)
from ocrgate.schema import Block, PageResult
from tests.helpers import image_bytes
from tests.pictures import read_picture


def _block(kind: str, text: str = "", bbox=(10, 10, 50, 30), **extra) -> Block:
    return Block(kind=kind, text=text, bbox=bbox, **extra)


def test_block_markdown_by_kind() -> None:
    assert block_markdown(_block("title", "Results\nand more")) == "# Results and more"
    assert block_markdown(_block("title", "## Already marked")) == "## Already marked"
    assert block_markdown(_block("equation", "E = mc^2")) == "$$\nE = mc^2\n$$"
    assert block_markdown(_block("code", "print(1)")) == "```\nprint(1)\n```"
    assert block_markdown(_block("table", "", html="<table><tr><td>1</td></tr></table>")).startswith(
        "<table>"
    )
    assert block_markdown(_block("text", "  plain  ")) == "plain"


def test_page_markdown_leaves_out_headers_and_footers() -> None:
    blocks = [_block("header", "Running head"), _block("text", "Body"), _block("footer", "Page 3")]
    assert page_markdown(blocks) == "Body"


def test_the_boxes_picture_outlines_each_block_in_its_kind_colour_over_the_page() -> None:
    upload = image_bytes(Image.new("RGB", (400, 300), "white"), "PNG")
    blocks = [_block("table", bbox=(100, 100, 300, 250)), _block("title", bbox=(10.04, 5, 390, 40))]
    picture = read_picture(boxes_svg(blocks, 400, 300, page_href(upload, "image/png")))
    assert (picture.width, picture.height) == (400, 300)
    assert picture.outlines == [
        (100, 100, 300, 250, KIND_COLOURS["table"]),
        (10, 5, 390, 40, KIND_COLOURS["title"]),  # tenths of a pixel
    ]
    assert picture.labels == ["1 table", "2 title"]  # reading order from 1, then the kind
    assert (picture.media_type, picture.data) == ("image/png", upload)  # the page as it came


def test_the_page_image_reference_is_escaped_where_it_must_be() -> None:
    """The `data:` URL goes into the written SVG after ElementTree; one holding what an attribute
    cannot hold as itself comes back from an XML parser unchanged all the same."""
    svg_image = "{http://www.w3.org/2000/svg}image"
    for href in ("data:image/png;base64,iVBORw0KGgo=", 'data:text/plain;a="b"&c=<d>,x\ty\nz\r#page-image'):
        image = ET.fromstring(boxes_svg([_block("text")], 100, 80, href)).find(svg_image)
        assert image is not None and image.get("{http://www.w3.org/1999/xlink}href") == href


def test_a_preview_is_the_page_scaled_down_by_a_whole_factor() -> None:
    def size(width: int, height: int) -> tuple[int, int]:
        preview = Image.open(io.BytesIO(preview_jpeg(Image.new("RGB", (width, height), "white"))))
        assert preview.format == "JPEG"
        return preview.size

    assert size(3200, 2400) == (1067, 800)  # / 3: the smallest whole factor to a shorter side <= 1000
    assert size(1000, 700) == (1000, 700)
    assert size(1275, 1650) == (638, 825)
    assert size(576, 9220) == (576, 9220)  # a long receipt keeps its width (5.3 megapixels)
    assert size(700, 20000) == (350, 10000)  # and at most 6 megapixels


def test_labels_are_legible_on_every_kind_colour() -> None:
    """Black or white, whichever contrasts more: at least 4.5:1 (WCAG 2.1 AA for small text)."""

    def luminance(colour: str) -> float:
        values = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in values)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    for kind, colour in KIND_COLOURS.items():
        light, dark = sorted((luminance(colour), luminance(label_ink(colour))), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, kind


def test_render_page_makes_the_picture_over_the_upload_else_over_a_preview() -> None:
    page = Image.new("RGB", (1275, 1650), "white")
    upload = image_bytes(page, "PNG")
    result = PageResult(index=0, width=1275, height=1650, blocks=[_block("text", "x", bbox=(0, 0, 10, 10))])
    over_upload = read_picture(
        render_page(result, None, True, page_href(upload, "image/png")).page.boxes_image
    )
    assert over_upload.data == upload and (over_upload.width, over_upload.height) == (1275, 1650)
    over_pixels = read_picture(render_page(result, page, True).page.boxes_image)
    assert over_pixels.media_type == "image/jpeg" and over_pixels.page.size == (638, 825)
    assert (over_pixels.width, over_pixels.height) == (1275, 1650)  # boxes in the page's own pixels
    assert over_pixels.outlines == over_upload.outlines == [(0, 0, 10, 10, KIND_COLOURS["text"])]
    assert render_page(result, page, False).page.boxes_image is None


def test_source_markdown_embeds_the_cropped_figure() -> None:
    page = Image.new("RGB", (200, 100), "white")
    page.paste((255, 0, 0), (20, 30, 80, 70))
    markdown = source_markdown(page, [_block("figure", "Figure 1", bbox=(20, 30, 80, 70))])
    data = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", markdown)
    assert data is not None and "Figure 1" in markdown
    crop = Image.open(io.BytesIO(base64.b64decode(data.group(1))))
    assert crop.size == (60, 40) and crop.convert("RGB").getpixel((30, 20)) == (255, 0, 0)


def test_assemble_orders_pages_and_keys_raw_by_backend() -> None:
    page = Image.new("RGB", (100, 100), "white")
    results = [
        PageResult(index=i, width=100, height=100, blocks=[_block("text", f"page {i}")], raw={"i": i})
        for i in (1, 0)
    ]
    rendered = [render_page(r, page, boxes=r.index == 0) for r in results]
    response = assemble_response("engine", "doc.pdf", rendered, request_id="r1")
    assert response.markdown == "page 0\n\n<!-- page 2 -->\n\npage 1"
    assert [p.index for p in response.pages] == [0, 1]
    assert response.raw_result == {"engine": [{"i": 0}, {"i": 1}]}
    assert response.boxes_image is None and response.pages[0].boxes_image is not None  # once, in its page
    assert response.pages[1].boxes_image is None
    single = assemble_response("engine", "p.png", rendered[:1], request_id="r2")
    assert single.raw_result == {"engine": {"i": 1}}
