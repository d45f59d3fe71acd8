"""Geometry of text lines in page pixels: height, width, vertical core, median height, bands.

Shared by the reading order (`reading_order`), its column gutters (`text_columns`) and paragraphs
(`layout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from ocrgate.schema import TextLine


def height(line: TextLine) -> float:
    """The box's height, in the line's pixels."""
    return line.bbox[3] - line.bbox[1]


def width(line: TextLine) -> float:
    """The box's width, in the line's pixels."""
    return line.bbox[2] - line.bbox[0]


def core(line: TextLine) -> tuple[float, float]:
    """The middle half of the box's vertical extent (engines pad boxes, so neighbouring lines overlap)."""
    quarter = height(line) / 4
    return line.bbox[1] + quarter, line.bbox[3] - quarter


def median_height(lines: Sequence[TextLine]) -> float:
    """The median height of the boxes with any height (the line height `h`); 1.0 when none has."""
    heights = [height(ln) for ln in lines if height(ln) > 0]
    return median(heights) if heights else 1.0


def bands(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines in horizontal bands, top to bottom: maximal runs whose cores overlap vertically."""
    result: list[list[TextLine]] = []
    bottom = float("-inf")
    for line in sorted(lines, key=lambda ln: core(ln)[0]):
        top, low = core(line)
        if result and top < bottom:
            result[-1].append(line)
            bottom = max(bottom, low)
        else:
            result.append([line])
            bottom = low
    return result
