"""Regenerate tests/fixtures/hostile/: small files built to hurt a document intake, and what each must get.

Every file is made here from first principles (struct, zlib, a hand-written PDF, Pillow for the few
valid images, pypdf for the encrypted PDF), so the corpus is small, reviewable and reproducible:

    .venv/bin/python scripts/make_hostile_corpus.py            # writes tests/fixtures/hostile/
    .venv/bin/python scripts/make_hostile_corpus.py --out DIR

`manifest.json` lists each file with the HTTP status and error code the gateway must answer with
(`tests/reliability/test_hostile_corpus.py` posts every file to a real gateway and checks it). The
limits the expectations assume are `CORPUS_LIMITS` below; the test runs its gateway with them.
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from unittest import mock

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "fixtures" / "hostile"
#: the gateway limits the expectations are written for (small, so accepted files stay cheap)
CORPUS_LIMITS = {"max_upload_bytes": 1_000_000, "max_page_pixels": 2_000_000, "max_pages": 500}
MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Entry:
    name: str
    status: int
    code: str | None  # None for files that must be accepted
    what: str


# -- building blocks -------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_signature_and_header(width: int, height: int, bit_depth: int = 8, colour: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)


def small_page() -> Image.Image:
    """A 96x32 page with a few dark strokes: a valid image that costs nothing to recognise."""
    image = Image.new("L", (96, 32), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((6, 10, 40, 20), fill=0)
    draw.line((50, 8, 90, 24), fill=0, width=3)
    return image


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def pdf_file(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF of `objects` (object i + 1 is objects[i]) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def pdf_stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def one_page_pdf(media_box: str = "0 0 144 72") -> bytes:
    content = b"BT /F1 12 Tf 10 30 Td (hostile corpus) Tj ET"
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>" % media_box.encode(),
            pdf_stream(content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def zip_archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            archive.writestr(info, data)
    return buffer.getvalue()


HTML_WITH_SCRIPT = (
    b"<html><body><script>alert(document.cookie)</script><img src=x onerror=alert(1)></body></html>"
)


# -- the hostile files -----------------------------------------------------------------------------


def png_huge_dimensions() -> bytes:
    return (
        png_signature_and_header(100_000, 100_000)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def png_deflate_bomb() -> bytes:
    """20000x20000 grey declared; 4 MB of zero scanlines deflated into a few KB of IDAT."""
    idat = zlib.compress(b"\0" * (4 << 20), 9)
    return png_signature_and_header(20_000, 20_000) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def png_text_bomb() -> bytes:
    """A valid 1x1 PNG whose zTXt chunk inflates to 8 MB of text."""
    ztxt = b"Comment\0\0" + zlib.compress(b"A" * (8 << 20), 9)
    pixel = zlib.compress(b"\0\0")
    return (
        png_signature_and_header(1, 1)
        + png_chunk(b"zTXt", ztxt)
        + png_chunk(b"IDAT", pixel)
        + png_chunk(b"IEND", b"")
    )


def tiff_entry(tag: int, kind: int, count: int, value: int) -> bytes:
    """One little-endian IFD entry; SHORT values sit left-aligned in the 4-byte field."""
    if kind == 3 and count == 1:
        return struct.pack("<HHIHH", tag, kind, count, value, 0)
    return struct.pack("<HHII", tag, kind, count, value)


def tiff_ifd(entries: list[bytes], next_offset: int) -> bytes:
    return struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", next_offset)


def tiff_huge_dimensions() -> bytes:
    """One strip of 8 bytes behind a header that says 100000 x 100000 pixels, 8-bit grey."""
    data_offset = 8
    ifd_offset = data_offset + 8
    entries = [
        tiff_entry(256, 4, 1, 100_000),  # ImageWidth
        tiff_entry(257, 4, 1, 100_000),  # ImageLength
        tiff_entry(258, 3, 1, 8),  # BitsPerSample
        tiff_entry(259, 3, 1, 1),  # Compression: none
        tiff_entry(262, 3, 1, 1),  # Photometric: black is zero
        tiff_entry(273, 4, 1, data_offset),  # StripOffsets
        tiff_entry(277, 3, 1, 1),  # SamplesPerPixel
        tiff_entry(278, 4, 1, 100_000),  # RowsPerStrip
        tiff_entry(279, 4, 1, 8),  # StripByteCounts
    ]
    return b"II*\x00" + struct.pack("<I", ifd_offset) + b"\0" * 8 + tiff_ifd(entries, 0)


def tiff_many_frames(frames: int) -> bytes:
    """A chain of `frames` IFDs of 1x1 bilevel pages, 42 bytes each: width, height and a strip
    offset (the other tags default), every page pointing at the same byte of pixels."""
    header = b"II*\x00" + struct.pack("<I", 10) + b"\0\0"  # the shared pixel byte sits at offset 8
    entries = [tiff_entry(256, 3, 1, 1), tiff_entry(257, 3, 1, 1), tiff_entry(273, 4, 1, 8)]
    size = 2 + len(entries) * 12 + 4
    ifds = bytearray()
    for index in range(frames):
        next_offset = len(header) + (index + 1) * size if index + 1 < frames else 0
        ifds += tiff_ifd(entries, next_offset)
    return header + bytes(ifds)


def jpeg_huge_dimensions() -> bytes:
    """A real 8x8 JPEG whose frame header (SOF0) is patched to say 65000 x 65000."""
    data = bytearray(encoded(Image.new("L", (8, 8), 128), "JPEG", quality=50))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65_000, 65_000)
    return bytes(data)


def bmp_huge_dimensions() -> bytes:
    """A BMP info header of 100000 x 100000 at 24 bits with 16 bytes of pixels."""
    pixels = b"\0" * 16
    info = struct.pack("<IiiHHIIiiII", 40, 100_000, 100_000, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    header = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return header + info + pixels


def pdf_hundred_thousand_pages() -> bytes:
    """A page tree of 100,000 pages in 8 objects: each node lists the next node ten times."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    levels = 5
    for level in range(levels):
        number = 2 + level
        child = number + 1
        count = 10 ** (levels - level)
        parent = b" /Parent %d 0 R" % (number - 1) if level else b""
        kids = b" ".join([b"%d 0 R" % child] * 10)
        objects.append(b"<< /Type /Pages /Kids [%s] /Count %d%s >>" % (kids, count, parent))
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 144 72] >>" % (1 + levels))
    return pdf_file(objects)


def pdf_page_tree_loop() -> bytes:
    """A page tree whose only kid is the tree itself."""
    return pdf_file([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])


def pdf_encrypted() -> bytes:
    """RC4-128 with a user password; pypdf's random file id is pinned so the bytes are reproducible."""
    import pypdf

    counter = iter(range(1 << 30))
    with mock.patch.object(secrets, "token_bytes", lambda n: bytes([next(counter) % 256]) * n):
        writer = pypdf.PdfWriter()
        writer.add_blank_page(width=144, height=72)
        writer.encrypt(user_password="hostile", owner_password="corpus", algorithm="RC4-128")
        buffer = io.BytesIO()
        writer.write(buffer)
    return buffer.getvalue()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def polyglot_pdf_zip() -> bytes:
    """Starts like a PDF, is a ZIP (readers find the central directory from the end) with HTML inside."""
    return b"%PDF-1.7\n" + zip_archive({"index.html": HTML_WITH_SCRIPT})


def polyglot_png_html() -> bytes:
    """The PNG signature, then an HTML page instead of chunks."""
    return b"\x89PNG\r\n\x1a\n" + HTML_WITH_SCRIPT


def polyglot_png_zip() -> bytes:
    """A valid PNG with a ZIP appended: its pixels are all the gateway reads, the rest is ignored."""
    return encoded(small_page(), "PNG") + zip_archive({"payload.html": HTML_WITH_SCRIPT})


def polyglot_gif_js() -> bytes:
    """Parses as a GIF header and as JavaScript (`GIF89a=...` is an assignment)."""
    return b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.domain);//\x00\x3b"


def polyglot_html_pdf() -> bytes:
    """HTML with `%PDF-` inside its first kilobyte, where PDF readers look for the header."""
    return b"<html><!-- %PDF-1.4 -->" + HTML_WITH_SCRIPT + b"</html>"


def svg_with_script() -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" onload="alert(1)">'
        b"<script>alert(document.cookie)</script><rect width='100' height='100'/></svg>"
    )


# -- the corpus ------------------------------------------------------------------------------------

Maker = Callable[[], bytes]


def corpus() -> list[tuple[Entry, Maker]]:
    png = encoded(small_page(), "PNG")
    jpeg = encoded(small_page(), "JPEG", quality=80)
    pdf = one_page_pdf()
    return [
        (Entry("zero_bytes.png", 422, "empty_document", "an empty file"), lambda: b""),
        (
            Entry("png_huge_dimensions.png", 413, "image_too_large", "PNG header says 100000x100000"),
            png_huge_dimensions,
        ),
        (
            Entry(
                "png_deflate_bomb.png", 413, "image_too_large", "20000x20000, 4 MB of IDAT zeros in a few KB"
            ),
            png_deflate_bomb,
        ),
        (
            Entry("png_text_bomb.png", 422, "corrupt_file", "1x1 PNG with a zTXt chunk inflating to 8 MB"),
            png_text_bomb,
        ),
        (
            Entry("tiff_huge_dimensions.tif", 413, "image_too_large", "TIFF header says 100000x100000"),
            tiff_huge_dimensions,
        ),
        (
            Entry(
                "tiff_1000_frames.tif", 413, "too_many_pages", "a chain of 1,000 IFDs (the test adds 10,000)"
            ),
            lambda: tiff_many_frames(1000),
        ),
        (
            Entry("jpeg_huge_dimensions.jpg", 413, "image_too_large", "JPEG SOF0 patched to 65000x65000"),
            jpeg_huge_dimensions,
        ),
        (
            Entry("bmp_huge_dimensions.bmp", 413, "image_too_large", "BMP header says 100000x100000"),
            bmp_huge_dimensions,
        ),
        (
            Entry("pdf_100000_pages.pdf", 413, "too_many_pages", "page tree of 100,000 pages in 8 objects"),
            pdf_hundred_thousand_pages,
        ),
        (
            Entry("pdf_page_tree_loop.pdf", 422, "corrupt_file", "a page tree whose kid is itself"),
            pdf_page_tree_loop,
        ),
        (
            Entry(
                "pdf_huge_mediabox.pdf",
                200,
                None,
                "MediaBox 14400000 pt square: rendered under the pixel cap",
            ),
            lambda: one_page_pdf("0 0 14400000 14400000"),
        ),
        (
            Entry(
                "pdf_thin_mediabox.pdf",
                200,
                None,
                "MediaBox 14400 x 14400000 pt: rendered under the pixel cap",
            ),
            lambda: one_page_pdf("0 0 14400 14400000"),
        ),
        (
            Entry("pdf_zero_mediabox.pdf", 200, None, "MediaBox 0x0: pdfium falls back to US Letter"),
            lambda: one_page_pdf("0 0 0 0"),
        ),
        (Entry("pdf_encrypted.pdf", 422, "encrypted_pdf", "RC4-128 with a user password"), pdf_encrypted),
        (Entry("truncated.png", 422, "corrupt_file", "a valid PNG cut in half"), lambda: truncated(png)),
        (Entry("truncated.jpg", 422, "corrupt_file", "a valid JPEG cut in half"), lambda: truncated(jpeg)),
        (Entry("truncated.pdf", 422, "corrupt_file", "a valid PDF cut in half"), lambda: truncated(pdf)),
        (Entry("png_named.pdf", 200, None, "a valid PNG with a .pdf name"), lambda: png),
        (Entry("pdf_named.png", 200, None, "a valid PDF with a .png name"), lambda: pdf),
        (
            Entry("polyglot_pdf_zip.pdf", 422, "corrupt_file", "%PDF- header on a ZIP holding HTML"),
            polyglot_pdf_zip,
        ),
        (
            Entry("polyglot_png_html.png", 422, "corrupt_file", "PNG signature, then an HTML page"),
            polyglot_png_html,
        ),
        (
            Entry("polyglot_png_zip.png", 200, None, "valid PNG + appended ZIP: only the pixels are used"),
            polyglot_png_zip,
        ),
        (
            Entry("polyglot_gif_js.gif", 415, "unsupported_type", "GIF header that is also JavaScript"),
            polyglot_gif_js,
        ),
        (
            Entry("polyglot_html_pdf.html", 422, "corrupt_file", "HTML with %PDF- in its first kilobyte"),
            polyglot_html_pdf,
        ),
        (
            Entry("svg_with_script.svg", 415, "unsupported_type", "SVG with onload and <script>"),
            svg_with_script,
        ),
        (
            Entry("html_with_script.html", 415, "unsupported_type", "HTML with <script>"),
            lambda: HTML_WITH_SCRIPT,
        ),
    ]


def write_corpus(out: Path) -> list[Entry]:
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for entry, make in corpus():
        data = make()
        if len(data) > MAX_FILE_BYTES:
            raise SystemExit(
                f"{entry.name} has {len(data)} bytes; the corpus keeps files under {MAX_FILE_BYTES}"
            )
        (out / entry.name).write_bytes(data)
        entries.append(entry)
    manifest = {"limits": CORPUS_LIMITS, "files": [asdict(e) for e in entries]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    entries = write_corpus(args.out)
    total = sum((args.out / e.name).stat().st_size for e in entries)
    print(f"wrote {len(entries)} files ({total:,} bytes) and manifest.json to {args.out}")


if __name__ == "__main__":
    main()
