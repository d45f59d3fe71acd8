"""MinerU's page-range syntax (`page_range` option), evaluated here so bad ranges fail fast as 4xx.

Same grammar and rules as MinerU 4.0.12 (`docvortex/document/page_range.py`, checked against it in
tests/backends/mineru/test_mineru_contract.py): 1-based inclusive ranges separated by commas,
`rN` counts from the end (`r1` is the last page), `all` or blank selects every page; selections are
sorted and deduplicated, pages past the end are dropped; reversed ranges and an empty selection are
errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ocrgate.errors import InvalidOption

_SEGMENT = re.compile(r"(r?[1-9][0-9]*)(?:\s*-\s*(r?[1-9][0-9]*))?")


def _endpoint(token: str) -> int:
    return -int(token[1:]) if token.startswith("r") else int(token)


def _invalid(raw: str, reason: str) -> InvalidOption:
    return InvalidOption(f"invalid page_range {raw!r}: {reason}")


def select_pages(raw: str | None, page_count: int) -> list[int]:
    """The 0-based pages `raw` selects in a document of `page_count` pages; InvalidOption if none or bad."""
    value = (raw or "").strip()
    if page_count <= 0:
        raise _invalid(value, "document has no available pages")
    if not value or value == "all":
        return list(range(page_count))
    selected: set[int] = set()
    for part in value.split(","):
        match = _SEGMENT.fullmatch(part.strip())
        if match is None:
            raise _invalid(value, "expected a page, an inclusive range (1-5, r3-r1), or 'all'")
        try:
            start = _endpoint(match[1])
            end = _endpoint(match[2]) if match[2] else start
        except ValueError as exc:
            raise _invalid(value, "page number is too large") from exc
        if (start > 0) == (end > 0) and start > end:
            raise _invalid(value, "reversed ranges are not supported")
        start = start if start > 0 else page_count + start + 1
        end = end if end > 0 else page_count + end + 1
        if start > end:
            raise _invalid(value, "reversed ranges are not supported")
        selected.update(range(max(1, start) - 1, min(page_count, end)))
    if not selected:
        raise _invalid(value, "selection does not contain any available pages")
    return sorted(selected)


def format_pages(pages: Iterable[int]) -> str:
    """0-based pages -> MinerU's 1-based range text, e.g. [0, 1, 2, 5] -> "1-3,6"."""
    ordered = sorted(set(pages))
    parts: list[str] = []
    index = 0
    while index < len(ordered):
        first = last = ordered[index]
        while index + 1 < len(ordered) and ordered[index + 1] == last + 1:
            index += 1
            last = ordered[index]
        parts.append(str(first + 1) if first == last else f"{first + 1}-{last + 1}")
        index += 1
    return ",".join(parts)


def chunks(pages: list[int], size: int) -> list[list[int]]:
    """`pages` cut into runs of at most `size` (all in one run when `size` <= 0)."""
    if size <= 0 or len(pages) <= size:
        return [pages]
    return [pages[i : i + size] for i in range(0, len(pages), size)]
