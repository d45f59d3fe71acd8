"""Bytes in, a Document of page images out: type sniffing, limits, image decoding, PDF rasterising.

Images are decoded at intake (so a truncated file is refused at once); PDF pages are rasterised on
demand, one at a time, so a long PDF never sits in memory as pixels and rasterising can overlap
recognition. Every limit is checked before the step it protects: bytes before parsing, declared
pixels before decoding, declared pages before rasterising.
"""

from __future__ import annotations

import io
import math
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

from ocrgate.config import Limits
from ocrgate.errors import (
    CorruptFile,
    EmptyDocument,
    EncryptedPDF,
    FileTooLarge,
    ImageTooLarge,
    OCRGateError,
    TooManyPages,
    UnsupportedType,
)
from ocrgate.textlayer import TextLayer, read_text_layer

PDF = "application/pdf"
IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
}
SUPPORTED_TYPES = (*IMAGE_TYPES, PDF)
_PDFIUM_PASSWORD_ERROR = 4
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?!s)")
# pdfium is not thread-safe: every call into it goes through this lock.
_PDFIUM_LOCK = threading.RLock()


def sniff(data: bytes) -> str | None:
    """The media type told by the file's first bytes (never by its name), or None."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM"):
        return "image/bmp"
    # PDF readers accept the header anywhere in the first kilobyte.
    if b"%PDF-" in data[:1024]:
        return PDF
    return None


@dataclass
class PageImage:
    """One page as the backends see it: RGB pixels plus what the source knew about it."""

    index: int
    image: Image.Image
    dpi: float | None = None
    text_layer: TextLayer | None = field(default=None, repr=False)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


@dataclass
class Document:
    """A validated upload: its type, page count and a way to get each page as an image."""

    name: str
    media_type: str
    data: bytes = field(repr=False)
    page_count: int
    dpi: int
    limits: Limits = field(repr=False)
    _images: list[Image.Image] | None = field(default=None, repr=False)
    _pdf: pdfium.PdfDocument | None = field(default=None, repr=False)

    @property
    def is_pdf(self) -> bool:
        return self.media_type == PDF

    def page(self, index: int) -> PageImage:
        if not 0 <= index < self.page_count:
            raise IndexError(f"page {index} out of range 0..{self.page_count - 1}")
        if self._images is not None:
            return PageImage(index=index, image=self._images[index])
        return self._render_pdf_page(index)

    def page_size(self, index: int) -> tuple[int, int]:
        """(width, height) in pixels of `page(index)`'s image, without rendering it."""
        if not 0 <= index < self.page_count:
            raise IndexError(f"page {index} out of range 0..{self.page_count - 1}")
        if self._images is not None:
            return self._images[index].size
        assert self._pdf is not None
        with _PDFIUM_LOCK:
            try:
                width_pt, height_pt = self._pdf[index].get_size()
            except pdfium.PdfiumError as exc:
                raise CorruptFile(f"page {index + 1} of the PDF cannot be read: {exc}") from exc
        scale = _pdf_scale(width_pt, height_pt, self.dpi, self.limits.max_page_pixels)
        # pdfium renders ceil(points * scale) pixels a side
        return math.ceil(width_pt * scale), math.ceil(height_pt * scale)

    def page_sizes(self) -> list[tuple[int, int]]:
        return [self.page_size(i) for i in range(self.page_count)]

    def iter_pages(self) -> Iterator[PageImage]:
        for index in range(self.page_count):
            yield self.page(index)

    def _render_pdf_page(self, index: int) -> PageImage:
        assert self._pdf is not None
        with _PDFIUM_LOCK:
            try:
                page = self._pdf[index]
                width_pt, height_pt = page.get_size()
                scale = _pdf_scale(width_pt, height_pt, self.dpi, self.limits.max_page_pixels)
                image = page.render(scale=scale).to_pil().convert("RGB")
                layer = read_text_layer(page, image.width, image.height)
            except pdfium.PdfiumError as exc:
                raise CorruptFile(f"page {index + 1} of the PDF cannot be rendered: {exc}") from exc
        return PageImage(index=index, image=image, dpi=scale * 72, text_layer=layer)

    def close(self) -> None:
        if self._pdf is not None:
            with _PDFIUM_LOCK:
                self._pdf.close()
            self._pdf = None


def _pdf_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> float:
    """Points -> pixels at `dpi`, lowered so the page stays within the pixel limit."""
    if width_pt <= 0 or height_pt <= 0:
        raise CorruptFile("the PDF has a page with an empty size")
    scale = dpi / 72
    pixels = width_pt * height_pt * scale * scale
    if pixels > max_pixels:
        # a little under the limit, so that pdfium's rounding up stays within it
        scale *= 0.995 * (max_pixels / pixels) ** 0.5
    # pdfium renders ceil(points * scale) pixels a side: on a very thin page that rounding alone can
    # pass the limit (a 16 x 15733 page from a 1:1000 MediaBox), so step down until it fits
    while math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > max_pixels:
        scale *= 0.99
    return scale


def open_document(
    data: bytes, name: str | None = None, limits: Limits | None = None, dpi: int | None = None
) -> Document:
    """Validate `data` and return a Document; raises a typed InputError for anything unusable."""
    limits = limits or Limits()
    name = name or "upload"
    if not data:
        raise EmptyDocument("the file is empty (0 bytes)")
    if len(data) > limits.max_upload_bytes:
        raise FileTooLarge(
            f"the file has {len(data):,} bytes; the limit is {limits.max_upload_bytes:,} bytes"
        )
    media_type = sniff(data)
    if media_type is None:
        raise UnsupportedType(
            "unsupported file type (recognised from its content, not its name); send one of: "
            "PNG, JPEG, TIFF, WebP, BMP, PDF"
        )
    dpi = dpi or limits.pdf_dpi
    if media_type == PDF:
        pdf = _open_pdf(data, limits)
        return Document(name, media_type, data, len(pdf), dpi, limits, _pdf=pdf)
    images = _decode_images(data, media_type, limits)
    return Document(name, media_type, data, len(images), dpi, limits, _images=images)


def _open_pdf(data: bytes, limits: Limits) -> pdfium.PdfDocument:
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            # pdfium's error code can be stale from an earlier failure: confirm it from the bytes
            if exc.err_code == _PDFIUM_PASSWORD_ERROR and b"/Encrypt" in data:
                raise EncryptedPDF("the PDF is encrypted with a password; send an unlocked copy") from exc
            if not _PAGE_OBJECT.search(data):
                # pdfium refuses an empty page tree as a format error; say what is really wrong
                raise EmptyDocument("the PDF has no pages") from exc
            raise CorruptFile(f"the PDF cannot be read (corrupt or truncated): {exc}") from exc
        count = len(pdf)
    if count == 0:
        pdf.close()
        raise EmptyDocument("the PDF has no pages")
    if count > limits.max_pages:
        pdf.close()
        raise TooManyPages(f"the PDF has {count:,} pages; the limit is {limits.max_pages:,}")
    with _PDFIUM_LOCK:
        try:  # a page tree can promise pages it does not hold (a loop, a dangling kid)
            pdf[0].get_size()
        except pdfium.PdfiumError as exc:
            pdf.close()
            raise CorruptFile(f"the PDF's first page cannot be read (broken page tree): {exc}") from exc
    return pdf


def _decode_images(data: bytes, media_type: str, limits: Limits) -> list[Image.Image]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data), formats=[IMAGE_TYPES[media_type]])
            frames = getattr(source, "n_frames", 1)
            if frames > limits.max_pages:
                raise TooManyPages(f"the image has {frames:,} pages; the limit is {limits.max_pages:,}")
            pages = []
            for frame in range(frames):
                source.seek(frame)
                _check_pixels(source.width, source.height, frame, limits)
                pages.append(_to_rgb(source))
            return pages
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image declares too many pixels: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptFile(f"the image cannot be decoded (corrupt or truncated): {exc}") from exc
    except (OCRGateError, MemoryError):
        raise
    except Exception as exc:  # Pillow's plugins raise more than they document on hostile headers
        raise CorruptFile(f"the image cannot be decoded ({type(exc).__name__}: {exc})") from exc


def _check_pixels(width: int, height: int, frame: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptFile(f"page {frame + 1} has an empty size {width}x{height}")
    if width * height > limits.max_page_pixels:
        raise ImageTooLarge(
            f"page {frame + 1} is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {limits.max_page_pixels:,}"
        )


def _to_rgb(frame: Image.Image) -> Image.Image:
    frame.load()
    # no copy of the frame: each branch below returns a new image
    image = ImageOps.exif_transpose(frame) if frame.format == "JPEG" else frame
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda value: value / 256).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")
