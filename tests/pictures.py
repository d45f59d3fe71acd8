"""The boxes picture read back for tests: its SVG's size, outlines and labels, and the page image it
embeds (a `data:` URL, read with the standard library's own `data:` URL handler)."""

from __future__ import annotations

import io
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from PIL import Image

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


@dataclass
class Picture:
    width: int
    height: int
    #: the page image's media type and bytes, as the picture embeds them
    media_type: str
    data: bytes
    #: each block's outline: x0, y0, x1, y1 (page pixels) and its colour
    outlines: list[tuple[float, float, float, float, str]]
    labels: list[str]

    @property
    def page(self) -> Image.Image:
        return Image.open(io.BytesIO(self.data))


def read_picture(boxes_image: str) -> Picture:
    """A `boxes_image` (an SVG document) read back; raises on anything that is not such a picture."""
    root = ET.fromstring(boxes_image)
    assert root.tag == f"{SVG}svg", root.tag
    width, height = int(root.get("width", "")), int(root.get("height", ""))
    assert root.get("viewBox") == f"0 0 {width} {height}"
    image = root.find(f"{SVG}image")
    assert image is not None and (image.get("width"), image.get("height")) == (str(width), str(height))
    with urllib.request.urlopen(image.get(XLINK_HREF, "")) as embedded:  # a data: URL
        media_type, data = embedded.headers.get_content_type(), embedded.read()
    groups = root.findall(f"{SVG}g")
    outlines = [
        (
            float(r.get("x", "")),
            float(r.get("y", "")),
            float(r.get("x", "")) + float(r.get("width", "")),
            float(r.get("y", "")) + float(r.get("height", "")),
            r.get("stroke", ""),
        )
        for r in groups[0].findall(f"{SVG}rect")
    ]
    labels = [t.text or "" for t in groups[1].findall(f"{SVG}text")]
    return Picture(width, height, media_type, data, outlines, labels)
