"""Bytes in, a Document of page images out: type sniffing, limits, PDF rasterising (image files' frames
and pixels: `ocrgate.image_files`).

Nothing is decoded at intake: an image's headers are read (type, frames, declared sizes: Pillow's
`Image.open` reads no pixels) and a PDF is parsed, then each page's pixels are made when they are first
needed (`PageImage.image`), one page at a time, so a long document never sits in memory as pixels and
an uploaded single image can travel to a worker as its own bytes (`PageImage.encoded`) and be decoded
only there. A damaged image (truncated, bad data) is thus found when its pixels are made, with the same
typed errors intake gave before; `Document.verify` finds it at once. Every limit is checked before the
step it protects: bytes before parsing, declared pixels before decoding, declared pages before
rasterising.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from PIL import Image

from ocrgate.config import Limits
from ocrgate.errors import (
    CorruptFile,
    EmptyDocument,
    EncryptedPDF,
    FileTooLarge,
    PageUnreadable,
    TooManyPages,
    UnsupportedType,
)
from ocrgate.image_files import IMAGE_TYPES, Frame, decode_frame, image_frames
from ocrgate.image_files import as_stored as image_as_stored
from ocrgate.pdf_forms import field_values
from ocrgate.textlayer import TextLayer, read_text_layer

PDF = "application/pdf"
SUPPORTED_TYPES = (*IMAGE_TYPES, PDF)
#: the highest rasterising resolution ocrgate chooses itself (`limits.pdf_dpi` allows as much)
MAX_DPI = 600
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
    # classic TIFF, then BigTIFF (version 43 instead of 42)
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM"):
        return "image/bmp"
    # PDF readers accept the header anywhere in the first kilobyte.
    if b"%PDF-" in data[:1024]:
        return PDF
    return None


@dataclass(frozen=True)
class EncodedImage:
    """An image file as uploaded: its bytes and media type (a worker decodes it as the intake would);
    `headers_as_stored`: its headers say a browser shows these bytes as the page's pixels
    (`image_files.Frame`)."""

    data: bytes = field(repr=False)
    media_type: str
    headers_as_stored: bool = False

    @functools.cached_property
    def as_stored(self) -> bool:
        """Whether a browser shows these bytes as the page's pixels (`image_files.as_stored`), found
        when first asked."""
        return image_as_stored(self.data, self.media_type, self.headers_as_stored)


class PageImage:
    """One page as the backends see it: RGB pixels plus what the source knew about it.

    `image` is made on first use when the page was given a `decode` callable instead of pixels (an
    image upload's page): decoding raises the typed errors of the intake (CorruptFile, ImageTooLarge)
    and runs once, however many threads ask. `encoded` is the upload itself when the page is the whole
    of a single-image upload: what a worker is sent instead of pixels. `dpi` is the rasterising
    resolution of a PDF page, or the resolution an image file declares (None when it declares none).
    """

    def __init__(
        self,
        index: int,
        image: Image.Image | None = None,
        dpi: float | None = None,
        *,
        decode: Callable[[], Image.Image] | None = None,
        encoded: EncodedImage | None = None,
    ) -> None:
        if image is None and decode is None:
            raise ValueError("a page needs its image or a way to decode it")
        self.index = index
        self.dpi = dpi
        self.encoded = encoded
        self._image = image
        self._decode = decode
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = f"{self._image.width}x{self._image.height}" if self._image is not None else "not decoded"
        return f"PageImage(index={self.index}, {state}, dpi={self.dpi})"

    @property
    def image(self) -> Image.Image:
        """The page's RGB pixels, decoded now if they were not yet (blocking: call it in a thread)."""
        if self._image is None:
            with self._lock:
                if self._image is None:
                    assert self._decode is not None
                    self._image = self._decode()
                    self._decode = None
        return self._image

    @property
    def decoded(self) -> bool:
        """Whether the pixels are already made (reading `image` costs nothing then)."""
        return self._image is not None

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
    #: `dpi` is the default, not asked for: a small PDF page gets more (`limits.pdf_min_long_side`)
    auto_dpi: bool = False
    #: an image file's pages, from its headers; None for a PDF
    _frames: list[Frame] | None = field(default=None, repr=False)
    _pdf: pdfium.PdfDocument | None = field(default=None, repr=False)

    @property
    def is_pdf(self) -> bool:
        return self.media_type == PDF

    def page(self, index: int) -> PageImage:
        """Page `index` (from 0) as an image: an image file's decoded when its pixels are first asked
        for (`PageImage.image`), a PDF's rasterised now.

        Raises IndexError outside 0..page_count-1 and PageUnreadable for a PDF page that cannot be
        loaded or rendered (the document's other pages stay readable).
        """
        if not 0 <= index < self.page_count:
            raise IndexError(f"page {index} out of range 0..{self.page_count - 1}")
        if self._frames is not None:
            frame = self._frames[index]
            decode = functools.partial(decode_frame, self.data, self.media_type, frame.number)
            single = (
                EncodedImage(self.data, self.media_type, frame.headers_as_stored)
                if self.page_count == 1
                else None
            )
            return PageImage(index=index, dpi=frame.dpi, decode=decode, encoded=single)
        return self._render_pdf_page(index)

    def page_size(self, index: int) -> tuple[int, int]:
        """(width, height) in pixels of `page(index)`'s image: a PDF page's without rendering it, an
        image page's by decoding it (its normalisation, e.g. orientation, decides the size).

        Raises what `page` raises (PageUnreadable for a PDF page that cannot be loaded).
        """
        if not 0 <= index < self.page_count:
            raise IndexError(f"page {index} out of range 0..{self.page_count - 1}")
        if self._frames is not None:
            return self.page(index).image.size
        with _PDFIUM_LOCK:
            _, width_pt, height_pt, scale = self._load_pdf_page(index)
        # pdfium renders ceil(points * scale) pixels a side
        return math.ceil(width_pt * scale), math.ceil(height_pt * scale)

    def page_sizes(self) -> list[tuple[int, int]]:
        return [self.page_size(i) for i in range(self.page_count)]

    def iter_pages(self) -> Iterator[PageImage]:
        for index in range(self.page_count):
            yield self.page(index)

    def verify(self) -> None:
        """Decode every page of an image file once (pixels dropped at once): the typed error of a
        damaged one now (CorruptFile, ImageTooLarge) rather than when it is read. Nothing for a PDF,
        whose pages are checked when rasterised."""
        for index in range(self.page_count if self._frames is not None else 0):
            self.page(index).image  # noqa: B018  # decoding is the check

    def _load_pdf_page(self, index: int) -> tuple[pdfium.PdfPage, float, float, float]:
        """The pdfium page, its size in points and its points -> pixels scale (caller holds the lock)."""
        assert self._pdf is not None
        try:
            page = _load_page(self._pdf, index)
            width_pt, height_pt = page.get_size()
        except pdfium.PdfiumError as exc:
            raise PageUnreadable(f"page {index + 1} of the PDF cannot be loaded: {exc}", index) from exc
        if width_pt <= 0 or height_pt <= 0:
            raise PageUnreadable(f"page {index + 1} of the PDF has an empty size", index)
        return (
            page,
            width_pt,
            height_pt,
            _pdf_scale(
                width_pt,
                height_pt,
                self.dpi,
                self.limits.max_page_pixels,
                self.limits.pdf_min_long_side if self.auto_dpi else 0,
            ),
        )

    def page_dpi(self, index: int) -> float | None:
        """The resolution of `page(index)`'s image without making it: a PDF page's rasterising dpi
        (more than `dpi` for a small page, less for a huge one), an image page's declared dpi (None
        when its file gives none). Raises what `page` raises."""
        if not 0 <= index < self.page_count:
            raise IndexError(f"page {index} out of range 0..{self.page_count - 1}")
        if self._frames is not None:
            return self._frames[index].dpi
        with _PDFIUM_LOCK:
            return self._load_pdf_page(index)[3] * 72

    def _render_pdf_page(self, index: int) -> PageImage:
        """Rasterise as a viewer shows the page: content, annotations and form fields (values too)."""
        assert self._pdf is not None
        with _PDFIUM_LOCK:
            page, _, _, scale = self._load_pdf_page(index)
            try:
                image = page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
            except pdfium.PdfiumError as exc:
                raise PageUnreadable(f"page {index + 1} of the PDF cannot be rendered: {exc}", index) from exc
        return PageImage(index=index, image=image, dpi=scale * 72)

    def text_layer(self, index: int) -> TextLayer | None:
        """Page `index`'s text layer in pixels of `page(index)`'s image, form field values included,
        without rendering the page; None for an image. Raises PageUnreadable like `page`."""
        if self._pdf is None:
            return None
        with _PDFIUM_LOCK:
            page, width_pt, height_pt, scale = self._load_pdf_page(index)
            size = math.ceil(width_pt * scale), math.ceil(height_pt * scale)
            try:
                return read_text_layer(page, *size, fields=field_values(self._pdf, page))
            except pdfium.PdfiumError as exc:
                raise PageUnreadable(f"page {index + 1}'s text cannot be read: {exc}", index) from exc

    def close(self) -> None:
        if self._pdf is not None:
            with _PDFIUM_LOCK:
                self._pdf.close()
            self._pdf = None


def _ends_whole(data: bytes) -> bool:
    """Whether a PDF ends as a whole file does: `%%EOF` in its last kilobyte (PDF 32000-1, 7.5.5; some
    writers add a few bytes after it). A file cut short in transfer has none."""
    return b"%%EOF" in data[-1024:]


def _load_page(pdf: pdfium.PdfDocument, index: int) -> pdfium.PdfPage:
    """pdfium's page, loaded a second time when the first try fails (caller holds the lock).

    Right after a page that cannot be loaded, pdfium's page-tree walk can fail once for a good page
    (its traversal state is left mid-walk; seen with pdfium 159.0.8149 on a nulled /Kids entry
    before pages already loaded); the second load succeeds. Raises PdfiumError when both fail.
    """
    try:
        return pdf[index]
    except pdfium.PdfiumError:
        return pdf[index]


def _pdf_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int, min_long_side: int = 0) -> float:
    """Points -> pixels at `dpi`, raised (up to 600 dpi) so that the longer side has at least
    `min_long_side` pixels, lowered so the page stays within the pixel limit (sizes > 0).

    The floor is for small pages (cards, pocket books, a 180 x 300 pt page): at 144 dpi their text is
    a few pixels high and engines miss lines (olmOCR-Bench's `small_page_size.pdf`, 360 x 600 px,
    loses one of its lines to RapidOCR; from 200 dpi on it reads whole).
    """
    scale = dpi / 72
    if min_long_side:
        scale = max(scale, min(MAX_DPI / 72, min_long_side / max(width_pt, height_pt)))
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
    auto_dpi = dpi is None
    dpi = dpi or limits.pdf_dpi
    if media_type == PDF:
        pdf = _open_pdf(data, limits)
        return Document(name, media_type, data, len(pdf), dpi, limits, auto_dpi, _pdf=pdf)
    frames = image_frames(data, media_type, limits)
    return Document(name, media_type, data, len(frames), dpi, limits, _frames=frames)


def _open_pdf(data: bytes, limits: Limits) -> pdfium.PdfDocument:
    """The parsed PDF with its form environment set up (so fields render), once a page loads.

    A page tree may promise pages it does not hold (a /Count too high, a dangling or wrong kid):
    those pages raise PageUnreadable when asked for; the document is refused (CorruptFile) only
    when not one of its pages can be loaded.
    """
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
            # before any page is loaded: pdfium attaches the form environment to pages as they load
            pdf.init_forms()
        except pdfium.PdfiumError as exc:
            # pdfium's error code can be stale from an earlier failure: confirm it from the bytes
            if exc.err_code == _PDFIUM_PASSWORD_ERROR and b"/Encrypt" in data:
                raise EncryptedPDF("the PDF is encrypted with a password; send an unlocked copy") from exc
            if not _PAGE_OBJECT.search(data) and _ends_whole(data):
                # pdfium refuses an empty page tree as a format error; say what is really wrong
                raise EmptyDocument("the PDF has no pages") from exc
            raise CorruptFile(f"the PDF cannot be read (corrupt or truncated): {exc}") from exc
        count = len(pdf)
    if count == 0:
        pdf.close()
        if not _ends_whole(data):
            raise CorruptFile("the PDF is truncated: it ends before its end-of-file marker and holds no page")
        raise EmptyDocument("the PDF has no pages")
    if count > limits.max_pages:
        pdf.close()
        raise TooManyPages(f"the PDF has {count:,} pages; the limit is {limits.max_pages:,}")
    with _PDFIUM_LOCK:
        problem = None
        for index in range(count):  # usually page 1 answers at once
            try:
                _load_page(pdf, index).get_size()
                return pdf
            except pdfium.PdfiumError as exc:
                problem = problem or exc
        pdf.close()
    raise CorruptFile(f"none of the PDF's {count:,} pages can be read (broken page tree): {problem}")
