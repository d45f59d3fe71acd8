"""Pages larger than an engine's input: read in overlapping strips, lines merged back without duplicates.

An engine with a longest-side limit (RapidOCR's `max_side_len`, 2000 px) shrinks a larger page as
a whole, so a long, narrow page (a till receipt of 576 x 9220 px is shrunk 4.6 times) loses its
text: lines come out a few pixels tall and unreadable. `read_page` reads the page as the engine
would; when the lines it found are shorter than `MIN_LINE_HEIGHT` engine pixels and strips would
shrink the page less, it reads the page again in strips along its long axis (a page too narrow for
any legible text goes to strips at once). Each strip is the page's full short side wide and shrunk
only as much as the short side needs; neighbours overlap by `OVERLAP` of a strip's length (200 px
at 2000: taller than a line, several words wide). `merge_lines` puts the strips' lines together:

- a line seen whole in two neighbouring strips (in their overlap) is kept once;
- a line cut by a strip's edge is dropped where the neighbouring strip's box holds it;
- two pieces of one line that only overlap (a line running across the edge between strips side
  by side) are stitched: their texts joined at the longest substring both read (the overlap), or,
  when they read nothing in common, each cut at the middle of the boxes' overlap.

Two lines of neighbouring strips are compared when they share a text row: vertical overlap of at
least half the lower box, and one box holds the other or they overlap horizontally by at least half
a line height (padded boxes of neighbouring words touch, but no more).

A page the engine shrank whose lines stay under `MIN_LINE_HEIGHT` (both sides far over the limit,
small print) gets the `downscaled` flag (a small image read at full size never does), and so does
a page on which nothing was found while the engine still saw it shrunk `EMPTY_SHRINK` times or more
(text that small may not be detected at all). The threshold,
measured with RapidOCR's default PP-OCR models on pages shrunk with OpenCV's bilinear resize (as
the engine shrinks): the tesseract_test page reads without error down to 12 px line boxes and fails
at 10 px (CER 0.5); the receipt reads at CER 0.004 at 16 px and 0.026 at 11 px. 16 px keeps that
margin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from statistics import median
from typing import Any

from ocrgate.schema import Box, TextLine

#: line box height (in the engine's pixels, after its own shrinking) below which text is illegible
MIN_LINE_HEIGHT = 16.0
#: a page whose short side the engine shrinks below this (pixels) is read in strips without a whole
#: read first: a text line is at least 1/16 of a page's width high only in large print (the
#: tesseract_test page: 39 px boxes on 640 px, the receipt: 28 on 576), so its text would fall
#: below MIN_LINE_HEIGHT
NARROW_SIDE = 16 * MIN_LINE_HEIGHT
#: with no line to measure, a page the engine still sees shrunk this many times is flagged: small
#: print (line boxes under 32 px, 9 pt at 300 dpi) falls below MIN_LINE_HEIGHT and may not be found
EMPTY_SHRINK = 2 * MIN_LINE_HEIGHT / 16
#: strips overlap by this share of their length
OVERLAP = 0.1
#: the page flag for text still shrunk below `MIN_LINE_HEIGHT`
DOWNSCALED = "downscaled"
# boxes of one line read in two strips agree within this many engine pixels a side
_EDGE_SLACK = 4.0


@dataclass(frozen=True)
class Tile:
    """A region of the page handed to the engine: [x0, x1) x [y0, y1) in page pixels."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


@dataclass
class TiledRead:
    """What `read_page` returns: lines in page pixels, the engine output per read, and page flags."""

    lines: list[TextLine]
    raw: list[Any]
    tiles: list[Tile]
    flags: list[str]


#: reads one region: (lines in page pixels, the engine's raw output entries in page pixels)
RegionReader = Callable[[Tile], tuple[list[TextLine], list[Any]]]


def engine_shrink(width: int, height: int, max_side: int) -> float:
    """How many times an engine with a longest-side limit of `max_side` px shrinks a region (>= 1)."""
    return max(1.0, max(width, height) / max_side)


def text_height(lines: Sequence[TextLine]) -> float | None:
    """The median line box height in pixels (a box's shorter side, so vertical lines count too)."""
    heights = [min(ln.bbox[2] - ln.bbox[0], ln.bbox[3] - ln.bbox[1]) for ln in lines]
    return median(heights) if heights else None


def strips(width: int, height: int, max_side: int) -> list[Tile]:
    """Overlapping strips along the long axis, each the full short side wide and at most
    max(max_side, short side) long, so the engine shrinks a strip by short side / max_side at most.
    One tile (the page) when the page needs no strips."""
    long_side, short_side = max(width, height), min(width, height)
    length = max(max_side, short_side)
    if long_side <= length:
        return [Tile(0, 0, width, height)]
    overlap = round(OVERLAP * length)
    count = math.ceil((long_side - overlap) / (length - overlap))
    step = (long_side - overlap) / count
    spans = [
        (round(i * step), long_side if i == count - 1 else round(i * step + step + overlap))
        for i in range(count)
    ]
    if height >= width:
        return [Tile(0, start, width, stop) for start, stop in spans]
    return [Tile(start, 0, stop, height) for start, stop in spans]


def read_page(width: int, height: int, max_side: int, read: RegionReader) -> TiledRead:
    """Read a page whole and, when its text comes out too small to read, in strips instead.

    `read(tile)` runs the engine on that region and returns its lines and raw entries in page
    pixels. A page within `max_side` is read once, whole. A larger page is read whole first and its
    text height decides (no text at all counts as too small); a page whose short side the engine
    would shrink below `NARROW_SIDE` pixels goes to strips at once, as no ordinary text on it can
    stay legible.
    """
    whole = Tile(0, 0, width, height)
    shrink = engine_shrink(width, height, max_side)
    tiles = strips(width, height, max_side)
    lines: list[TextLine] = []
    raw: list[Any] = []
    if len(tiles) == 1 or min(width, height) / shrink >= NARROW_SIDE:
        lines, raw = read(whole)
    if len(tiles) > 1 and not _legible(lines, shrink):
        reads = [read(tile) for tile in tiles]
        shrink = engine_shrink(tiles[0].width, tiles[0].height, max_side)
        lines = merge_lines(tiles, [tile_lines for tile_lines, _ in reads], _EDGE_SLACK * shrink)
        raw = [dict(entry, tile=k) for k, (_, entries) in enumerate(reads) for entry in entries]
    else:
        tiles = [whole]
    # only text the engine shrank is flagged: small print it saw at full size is the page's own
    illegible = shrink > 1 and (not _legible(lines, shrink) if lines else shrink >= EMPTY_SHRINK)
    return TiledRead(lines=lines, raw=raw, tiles=tiles, flags=[DOWNSCALED] if illegible else [])


def _legible(lines: Sequence[TextLine], shrink: float) -> bool:
    height = text_height(lines)
    return height is not None and height / shrink >= MIN_LINE_HEIGHT


@dataclass(eq=False)
class _Piece:
    line: TextLine
    tile: int  # the last strip it came from


def merge_lines(
    tiles: Sequence[Tile], lines_per_tile: Sequence[Sequence[TextLine]], slack: float = _EDGE_SLACK
) -> list[TextLine]:
    """The lines of overlapping strips (from `strips`, in order; lines in page pixels) as one page.

    A line of strip k is compared with the lines of strip k-1 it shares a text row with: when one
    of them holds the other (within `slack` pixels) the larger is kept; two that only overlap are
    parts of one line cut by both strips' edges and are stitched. Returns every line once.
    """
    kept: list[_Piece] = [_Piece(ln, 0) for ln in lines_per_tile[0]] if lines_per_tile else []
    for k in range(1, len(tiles)):
        for line in lines_per_tile[k]:
            pairs = [p for p in kept if p.tile == k - 1 and _same_row(p.line, line, slack)]
            if any(_holds(p.line, line, slack) for p in pairs):
                continue  # seen whole in the previous strip; this one is a copy or a fragment
            partial = [p for p in pairs if not _holds(line, p.line, slack)]
            kept = [p for p in kept if p not in pairs]  # fragments `line` holds, and parts stitched in
            for piece in sorted(partial, key=lambda p: p.line.bbox[0]):
                line = _stitch(piece.line, line)
            kept.append(_Piece(line, k))
    return [piece.line for piece in kept]


def _holds(a: TextLine, b: TextLine, slack: float) -> bool:
    """Whether a's box holds b's, give or take `slack` pixels a side."""
    return (
        a.bbox[0] - slack <= b.bbox[0]
        and a.bbox[1] - slack <= b.bbox[1]
        and b.bbox[2] <= a.bbox[2] + slack
        and b.bbox[3] <= a.bbox[3] + slack
    )


def _same_row(a: TextLine, b: TextLine, slack: float) -> bool:
    """One text row: vertical overlap of half the lower box, and one box holds the other or they
    overlap horizontally by half a line height (padded boxes of neighbouring words touch, no more)."""
    height = min(a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1])
    vertical = min(a.bbox[3], b.bbox[3]) - max(a.bbox[1], b.bbox[1])
    if vertical < 0.5 * height:
        return False
    horizontal = min(a.bbox[2], b.bbox[2]) - max(a.bbox[0], b.bbox[0])
    return horizontal >= 0.5 * height or _holds(a, b, slack) or _holds(b, a, slack)


def _stitch(a: TextLine, b: TextLine) -> TextLine:
    """One line from two overlapping parts: joined at the longest text both read (the overlap),
    or, when they read nothing in common, each cut at the middle of the boxes' overlap."""
    if b.bbox[0] < a.bbox[0]:
        a, b = b, a
    match = SequenceMatcher(None, a.text, b.text, autojunk=False).find_longest_match()
    overlap_px = max(0.0, a.bbox[2] - b.bbox[0])
    char_px = (a.bbox[2] - a.bbox[0]) / max(1, len(a.text))
    if match.size >= max(2.0, 0.3 * overlap_px / max(char_px, 1e-6)):
        text = a.text[: match.a] + b.text[match.b :]
        cut = b.bbox[0]
    else:
        middle = (min(a.bbox[2], b.bbox[2]) + b.bbox[0]) / 2
        keep_a = round(len(a.text) * (middle - a.bbox[0]) / max(1e-6, a.bbox[2] - a.bbox[0]))
        skip_b = round(len(b.text) * (middle - b.bbox[0]) / max(1e-6, b.bbox[2] - b.bbox[0]))
        text = a.text[:keep_a] + b.text[skip_b:]
        cut = middle
    words = [w for w in a.words if w.bbox[2] <= cut] + [w for w in b.words if w.bbox[0] >= cut]
    if [w.text for w in words] != text.split():
        words = []  # the parts' words do not spell the stitched text: none rather than wrong ones
    scores = [s for s in (a.score, b.score) if s is not None]
    return a.model_copy(
        update={
            "text": text,
            "bbox": Box.union([a.bbox, b.bbox]),
            "score": min(scores) if scores else None,
            "words": words,
        }
    )
