"""Regenerate src/ocrgate/samples/sample_page.png, the page `make serve` shows before any upload.

Drawn with Pillow's bundled font so the script gives the same page on any machine.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

TITLE = "ocrgate sample page"
PARAGRAPHS = [
    "This page was drawn by a script so that a fresh checkout has something to read.",
    "Send your own pages and PDFs to the gateway, pick an engine for each request,",
    "and compare what the engines read on the same page.",
    "",
    "The quick brown fox jumps over the lazy dog 0123456789.",
]


def main() -> None:
    page = Image.new("L", (1000, 520), 255)
    draw = ImageDraw.Draw(page)
    draw.text((60, 50), TITLE, font=ImageFont.load_default(size=44), fill=0)
    body = ImageFont.load_default(size=26)
    y = 140
    for line in PARAGRAPHS:
        draw.text((60, y), line, font=body, fill=0)
        y += 48 if line else 30
    out = Path(__file__).resolve().parents[1] / "src" / "ocrgate" / "samples" / "sample_page.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.save(out, optimize=True)
    print(out, out.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
