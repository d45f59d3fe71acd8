"""Image files' pages: which frames of an image file are pages (from its headers alone, every limit
checked on the sizes they declare) and one frame's pixels, normalised (`ocrgate.images.normalise`).

Pillow opens every format but some TIFFs, which tifffile reads: big-endian BigTIFF (`MM\\x00+`), and
samples Pillow has no mode for (16- and 64-bit floating point). Pillow's and tifffile's failures on a
hostile or damaged file become the intake's typed errors (`CorruptFile`, `ImageTooLarge`,
`TooManyPages`).
"""

from __future__ import annotations

import io
import math
import re
import warnings
from typing import TYPE_CHECKING, NamedTuple

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from ocrgate.config import Limits
from ocrgate.errors import CorruptFile, ImageTooLarge, OCRGateError, TooManyPages
from ocrgate.images import normalise, page_frames, tifffile_page_image, tifffile_pages
from ocrgate.png_header import ordinary_png

if TYPE_CHECKING:
    import tifffile

IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
}
BIG_ENDIAN_BIGTIFF = b"MM\x00+"
#: the types and Pillow modes a browser shows as ocrgate decodes them, when no orientation is to be
#: applied and nothing is transparent: not a TIFF (no browser shows one), a CMYK JPEG (colours differ),
#: a 16-bit PNG (ocrgate stretches its values to 8 bits, a browser takes the high byte: a faint scan
#: shows black) or transparency (ocrgate flattens it keeping the text's contrast: white text on
#: transparency becomes dark on white, which a browser shows as white on the picture's white)
_SHOWN_AS_STORED = {
    "image/png": {"1", "L", "P", "RGB"},
    "image/jpeg": {"L", "RGB"},
    "image/webp": {"L", "RGB"},
}
_ORIENTATION = 0x0112  # EXIF's Orientation tag (Pillow merges an XMP tiff:Orientation into it)
#: PNG text chunks where Pillow looks for an orientation, by their keyword (with its NUL separator):
#: EXIF as text (ImageMagick's), XMP
_PNG_TEXT_KEYWORDS = {
    b"tEXt": b"Raw profile type exif\x00",
    b"zTXt": b"Raw profile type exif\x00",
    b"iTXt": b"XML:com.adobe.xmp\x00",
}


class Frame(NamedTuple):
    """One page of an image file, from its headers: the frame's number in the file, the resolution it
    declares (dots per inch; None when it declares none), and whether its headers say a browser shows
    the file's bytes as the page's pixels (`headers_as_stored`: its type and mode shown as they are,
    nothing transparent, one frame, no EXIF orientation to apply), so a picture may embed the upload
    itself; a PNG's chunks are checked only when that is asked (`as_stored`)."""

    number: int
    dpi: float | None
    headers_as_stored: bool


# Pillow warns of a decompression bomb between its own MAX_IMAGE_PIXELS and twice that; ocrgate checks
# every page's pixels against `limits.max_page_pixels` itself, so the warning is ignored for the
# process: `warnings.catch_warnings` around each open would change the global filters from whichever
# thread opens an image (not thread-safe, its documentation says), and cost every open.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


#: a PNG of colour type 3 must have a PLTE chunk before its pixels (PNG specification, 11.2.3); Pillow
#: opens one without, and decodes it to a black page a browser refuses to show
_NO_PALETTE = (
    "the image cannot be decoded: the PNG is palette-indexed (colour type 3) but has no palette "
    "(PLTE chunk) before its pixels"
)
#: Pillow cannot identify a file of a type ocrgate recognised from its first bytes: its header stops
#: before its end (a file cut short after a PNG's IHDR) or holds what the type does not allow
_UNREADABLE_HEADER = "the image cannot be decoded: its header is cut short or not one its type allows"


class _ImageErrors:
    """Context manager: Pillow's (and tifffile's) failures on a hostile or damaged image file as the
    intake's typed errors. An image so large that Pillow refuses to open it (over twice its own
    `MAX_IMAGE_PIXELS`, before ocrgate's check can run) is told against `limits.max_page_pixels`, the
    limit the caller knows from `/v1/limits`, not against Pillow's. A class, not a generator: it is
    entered for every upload."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, (OCRGateError, MemoryError)):
            return  # raised on as it is
        if isinstance(exc, Image.DecompressionBombError):
            declared = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(declared[1]):,} pixels" if declared else "too many pixels"
            limit = f"; the limit is {self.limits.max_page_pixels:,}" if self.limits else ""
            raise ImageTooLarge(f"the image declares {size}{limit}") from exc
        if isinstance(exc, UnidentifiedImageError):  # its text names a Python object, of no use to the sender
            raise CorruptFile(_UNREADABLE_HEADER) from exc
        if isinstance(exc, (OSError, SyntaxError, ValueError, EOFError)):
            raise CorruptFile(f"the image cannot be decoded (corrupt or truncated): {exc}") from exc
        # Pillow's plugins raise more than they document on hostile headers
        raise CorruptFile(f"the image cannot be decoded ({type(exc).__name__}: {exc})") from exc


def image_frames(data: bytes, media_type: str, limits: Limits) -> list[Frame]:
    """An image file's pages from its headers alone (no pixels decoded), every page's declared size
    checked against the pixel limit. An ordinary PNG's are read without Pillow (`png_header`)."""
    if media_type == "image/png" and (png := ordinary_png(data, _pixels_pillow_opens(limits))) is not None:
        headers_as_stored = png.mode in _SHOWN_AS_STORED[media_type]
        return [Frame(0, _declared_dpi(png.dpi), headers_as_stored)]
    with _ImageErrors(limits):
        source = _pillow_open(data, media_type)
        if source is None:
            return _tifffile_frames(data, limits)
        if source.format == "PNG" and source.mode == "P" and source.palette is None:
            raise CorruptFile(_NO_PALETTE)
        frames = getattr(source, "n_frames", 1) if source.format == "TIFF" else 1
        if frames > limits.max_pages:
            raise TooManyPages(f"the image has {frames:,} pages; the limit is {limits.max_pages:,}")
        pages = []
        for number, frame in enumerate(page_frames(source, frames)):
            source.seek(frame)
            _check_pixels(source.width, source.height, number, limits)
            pages.append(
                Frame(
                    frame,
                    _declared_dpi(source.info.get("dpi")),
                    frames == 1 and _headers_as_stored(source, media_type),
                )
            )
        return pages


def as_stored(data: bytes, media_type: str, headers_as_stored: bool) -> bool:
    """Whether a browser shows an image file as ocrgate decodes it: its headers say so
    (`Frame.headers_as_stored`) and, for a PNG, none of its chunks can carry an orientation
    (`_png_may_turn`: a PNG's EXIF and XMP may follow its pixels, where Pillow finds them only by
    decoding it). About 30 us for an A4 PNG, so it is asked only for a boxes picture."""
    return headers_as_stored and not (media_type == "image/png" and _png_may_turn(data))


def _headers_as_stored(source: Image.Image, media_type: str) -> bool:
    """Whether the opened file's headers say a browser shows it as ocrgate decodes it: one frame (an
    animated PNG or WebP would play in the picture), a mode of `_SHOWN_AS_STORED`, nothing
    transparent, no orientation in a JPEG's or WebP's EXIF and XMP (which come with its headers; a
    PNG's chunks are `as_stored`'s). An EXIF block Pillow cannot parse counts as none
    (`images.upright` does too)."""
    if source.mode not in _SHOWN_AS_STORED.get(media_type, ()) or "transparency" in source.info:
        return False
    if getattr(source, "n_frames", 1) != 1:
        return False
    if media_type == "image/png":
        return True
    try:
        return source.getexif().get(_ORIENTATION, 1) == 1
    except Exception:  # Pillow's EXIF parser raises SyntaxError, struct.error, ... on garbage
        return True


def _png_may_turn(data: bytes) -> bool:
    """Whether a PNG may hold an orientation to apply, anywhere in the file: an eXIf chunk whose
    Orientation is not 1, XMP (an iTXt `XML:com.adobe.xmp`, maybe compressed), or a `Raw profile type
    exif` text (tEXt, zTXt). Walks the chunk headers with Pillow's own chunk reader, skipping each
    chunk's data (about 30 us for an A4 page); a file it cannot walk counts as turned."""
    stream = PngImagePlugin.ChunkStream(io.BytesIO(data))
    try:
        stream.fp.seek(8)  # the PNG signature
        while True:
            kind, position, length = stream.read()
            if kind == b"IEND":
                return False
            body = memoryview(data)[position : position + length]
            if kind == b"eXIf":
                exif = Image.Exif()
                exif.load(bytes(body))
                if exif.get(_ORIENTATION, 1) != 1:
                    return True
            elif (
                kind in _PNG_TEXT_KEYWORDS
                and bytes(body[: len(_PNG_TEXT_KEYWORDS[kind])]) == _PNG_TEXT_KEYWORDS[kind]
            ):
                return True
            stream.fp.seek(position + length + 4)  # past the data and its CRC
    except Exception:  # SyntaxError, OSError, struct.error, Pillow's EXIF parser on garbage
        return True


def decode_frame(data: bytes, media_type: str, frame: int) -> Image.Image:
    """The pixels of one frame of an image file, normalised to what backends read (`images.normalise`)."""
    with _ImageErrors():
        source = _pillow_open(data, media_type)
        if source is None:
            import tifffile

            with tifffile.TiffFile(io.BytesIO(data)) as tiff:
                return normalise(tifffile_page_image(tiff.pages[frame]))
        source.seek(frame)
        return normalise(source)


def _pillow_open(data: bytes, media_type: str) -> Image.Image | None:
    """The file opened by Pillow (headers read, no pixels); None for a TIFF Pillow cannot identify,
    which tifffile then reads in its stead (parsed once: `_tifffile_frames` tells a TIFF neither reads).
    Raises UnidentifiedImageError for any other type Pillow cannot identify."""
    if data.startswith(BIG_ENDIAN_BIGTIFF):
        return None
    try:
        return Image.open(io.BytesIO(data), formats=[IMAGE_TYPES[media_type]])
    except UnidentifiedImageError:
        if media_type != "image/tiff":
            raise
        return None


def _pixels_pillow_opens(limits: Limits) -> int:
    """The most pixels a page may have: `limits.max_page_pixels`, and what Pillow opens at all (twice
    its `MAX_IMAGE_PIXELS`; over that it refuses the file before ocrgate's own check)."""
    bomb = Image.MAX_IMAGE_PIXELS
    return limits.max_page_pixels if bomb is None else min(limits.max_page_pixels, 2 * bomb)


def _declared_dpi(value: object) -> float | None:
    """An image's declared resolution (Pillow's `info["dpi"]`, a pair or a number), None when unusable."""
    first = value[0] if isinstance(value, tuple) and value else value
    try:
        dpi = float(first)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return dpi if math.isfinite(dpi) and dpi >= 1 else None


def _tifffile_frames(data: bytes, limits: Limits) -> list[Frame]:
    """The pages of a TIFF Pillow cannot open, from tifffile's headers, by the same rules."""
    import tifffile

    unreadable = _UNREADABLE_HEADER
    try:
        tiff = tifffile.TiffFile(io.BytesIO(data))
    except Exception as exc:  # whatever tifffile raises on a file it cannot parse
        raise CorruptFile(unreadable) from exc
    with tiff:
        if not tiff.pages:  # tifffile found no image where the header points
            raise CorruptFile(unreadable)
        if _has_page(tiff, limits.max_pages):
            raise TooManyPages(
                f"the image has over {limits.max_pages:,} pages; the limit is {limits.max_pages:,}"
            )
        pages = []
        for number, page in enumerate(tifffile_pages(tiff.pages)):
            _check_pixels(int(page.imagewidth), int(page.imagelength), number, limits)
            pages.append(Frame(int(page.index), None, False))
        return pages


def _has_page(tiff: tifffile.TiffFile, index: int) -> bool:
    """Whether the TIFF's chain of image directories reaches page `index` (0-based), walking at most
    `index + 1` of them. `len(tiff.pages)` walks the whole chain, which a loop tifffile's check misses
    (it compares offsets once, at the 100th directory) stretches to 2**32 entries: a 42 KB upload held
    a core for 50 s and 11 GB before failing (found by tests/reliability/test_fuzz_documents.py)."""
    try:
        tiff.pages[index]
    except IndexError:  # the chain ends before it: now fully walked, so len() is cheap
        return False
    except Exception:  # the directory is there but damaged: the file still declares that many pages
        return True
    return True


def _check_pixels(width: int, height: int, frame: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptFile(f"page {frame + 1} has an empty size {width}x{height}")
    if width * height > limits.max_page_pixels:
        raise ImageTooLarge(
            f"page {frame + 1} is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {limits.max_page_pixels:,}"
        )
