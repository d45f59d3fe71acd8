"""Rendering: markdown per block kind, the boxes picture, figures embedded in source markdown."""

from __future__ import annotations

import base64
import io
import re

from PIL import Image

from ocrgate.render import (
    KIND_COLOURS,
    assemble_response,
    block_markdown,
    boxes_image,
    page_markdown,
    render_page,
    source_markdown,
)
from ocrgate.schema import Block, PageResult


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


def test_boxes_image_draws_each_block_in_its_kind_colour() -> None:
    page = Image.new("RGB", (400, 300), "white")
    picture = boxes_image(page, [_block("table", bbox=(100, 100, 300, 250))])
    assert picture.size == (400, 300)
    colour = tuple(int(KIND_COLOURS["table"][i : i + 2], 16) for i in (1, 3, 5))
    assert picture.getpixel((200, 249)) == colour  # bottom edge
    assert picture.getpixel((200, 175)) == (255, 255, 255)  # inside stays clear
    assert page.getpixel((200, 249)) == (255, 255, 255)  # the page itself is untouched


def test_boxes_image_of_a_big_page_is_scaled_down_by_a_whole_factor() -> None:
    picture = boxes_image(Image.new("RGB", (3200, 2400), "white"), [_block("text", bbox=(0, 0, 3200, 2400))])
    assert picture.size == (800, 600)  # 3200 / 4: the smallest whole factor to at most 1000 a side
    assert boxes_image(Image.new("RGB", (1000, 700), "white"), []).size == (1000, 700)
    assert boxes_image(Image.new("RGB", (1275, 1650), "white"), []).size == (638, 825)


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
    assert response.boxes_image == response.pages[0].boxes_image is not None
    assert response.pages[1].boxes_image is None
    single = assemble_response("engine", "p.png", rendered[:1], request_id="r2")
    assert single.raw_result == {"engine": {"i": 1}}
