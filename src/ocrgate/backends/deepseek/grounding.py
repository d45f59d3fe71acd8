"""DeepSeek-OCR's raw answer -> blocks in page pixels, clean markdown and flags.

With the grounding prompt the model writes one region after another: `<|ref|>label<|/ref|>`, then
`<|det|>[[x0, y0, x1, y1], ...]<|/det|>`, then a newline and the region's content. Coordinates lie on
a 0..999 grid over the image the model saw (DeepSeek's own code divides by 999). Other prompts give
plain text without tags; "Locate" gives regions without content. `parse_grounding` is total: any
string gives a page, and what was wrong with it becomes flags.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from ocrgate.render import page_markdown
from ocrgate.schema import Block, BlockKind, Box
from ocrgate.tables import html_table_markdown

GRID = 999
#: every flag `parse_grounding` may raise, in the order it lists them
FLAGS = ("empty", "no_grounding", "malformed_tags", "bbox_out_of_range", "truncated", "repetition")

# the engine's labels; anything else (text, footnote, a locate phrase) is text
KINDS: dict[str, BlockKind] = {
    "title": "title", "sub_title": "title", "table": "table", "image": "figure", "figure": "figure",
    "image_caption": "caption", "table_caption": "caption", "figure_caption": "caption", "caption": "caption",
    "equation": "equation", "header": "header", "page_header": "header", "footer": "footer",
    "page_footer": "footer", "list": "list", "code": "code",
}  # fmt: skip

_REF, _END_REF, _DET, _END_DET = "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>"
_TAG = re.compile(r"<\|/?(?:ref|det)\|>")
_STRAY = re.compile(r"<\|/?\w{0,16}(?:\|>)?")  # other special tokens, or pieces of them
_SPECIAL = re.compile(r"<｜[^｜<>\n]{0,40}｜>")  # <｜end▁of▁sentence｜> when not skipped
_BOX = re.compile(r"\[([^\[\]]*)\]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_HEADING = re.compile(r"(#{1,6})(?:[ \t]+|$)")
_DELIMITERS = (("\\[", "\\]"), ("$$", "$$"), ("\\(", "\\)"))

# A loop: one unit (a chunk of >= _MIN_CHUNK characters, or a shorter period taken several times)
# repeated >= _MIN_COPIES times over >= _MIN_RUN characters. Found by probing every _STEP characters.
_MIN_CHUNK, _MIN_COPIES, _MIN_RUN = 20, 10, 800
_MAX_PERIOD, _STEP, _PROBE = 2000, 200, 16


class GroundedPage(BaseModel):
    blocks: list[Block]
    markdown: str  # clean markdown, no tags, in output order
    flags: list[str]


@dataclass
class _Region:
    label: str | None
    content: str
    boxes: list[tuple[float, ...]] = field(default_factory=list)  # none usable: the whole page


def _longest(same: Callable[[int], bool], limit: int) -> int:
    """The largest k <= limit with same(k), for a `same` true up to some k and false beyond."""
    lo, hi = 0, 1
    while hi <= limit and same(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if same(mid) else (lo, mid)
    return lo


def _loop_at(s: str, i: int, floor: int) -> tuple[int, int, int] | None:
    """(start, end, period) of a loop through position i that starts no earlier than `floor`."""
    probe, j = s[i : i + _PROBE], i
    for _ in range(4):  # the nearest few recurrences of the probe are the candidate periods
        j = s.find(probe, j + 1, i + _MAX_PERIOD + _PROBE)
        if j < 0:
            return None
        p = j - i
        ahead = _longest(lambda k, p=p: s[i : i + k] == s[i + p : i + p + k], len(s) - i - p)
        back = _longest(lambda k, p=p: s[i - k : i] == s[i - k + p : i + p], i - floor)
        length, unit = back + p + ahead, p * math.ceil(_MIN_CHUNK / p)
        if length >= _MIN_RUN and length // unit >= _MIN_COPIES:
            return i - back, i + p + ahead, p
    return None


def collapse_repeats(text: str) -> tuple[str, bool]:
    """The text with each loop cut down to two copies of its period (and its last partial copy)."""
    pieces: list[str] = []
    kept = i = 0
    while i + _PROBE < len(text):
        found = _loop_at(text, i, kept)
        if found is None:
            i += _STEP
            continue
        start, end, p = found
        cut = start + 2 * p + (end - start) % p  # whole periods go, so the seam stays seamless
        pieces.append(text[kept:cut])
        kept = i = end
    return "".join([*pieces, text[kept:]]), bool(pieces)


def _number(token: str) -> float:
    return float(token) if len(token) < 12 else math.copysign(1e12, -1 if token.startswith("-") else 1)


def _boxes(coords: str) -> tuple[list[tuple[float, ...]], bool]:
    """The 4-number lists in a det tag's text, and whether anything in it was not one."""
    boxes: list[tuple[float, ...]] = []
    bad = False
    for match in _BOX.finditer(coords):
        numbers = [n.strip() for n in match.group(1).split(",")]
        if len(numbers) == 4 and all(_NUMBER.fullmatch(n) for n in numbers):
            boxes.append(tuple(_number(n) for n in numbers))
        else:
            bad = True
    return boxes, bad or not boxes


def _pixels(box: tuple[float, ...], width: int, height: int) -> Box:
    def scale(v: float, size: int) -> float:
        return min(max(v / GRID * size, 0.0), float(max(size, 0)))

    x0, x1 = sorted((scale(box[0], width), scale(box[2], width)))
    y0, y1 = sorted((scale(box[1], height), scale(box[3], height)))
    return Box(x0, y0, x1, y1)


def _regions(text: str, flags: set[str]) -> tuple[str, list[_Region]]:
    """The text before the first region, and the regions: each a ref, a det, then its content."""
    tokens = list(_TAG.finditer(text))
    names = [t.group(0) for t in tokens]
    regions: list[_Region] = []
    first = next((k for k, name in enumerate(names) if name in (_REF, _DET)), len(tokens))
    preamble = text[: tokens[first].start()] if first < len(tokens) else text
    flags.update(["malformed_tags"] if first else [])
    k = first
    while k < len(tokens):
        name, region, after = names[k], _Region(None, ""), tokens[k].end()
        k += 1
        if name == _REF:
            if k < len(names) and names[k] == _END_REF:
                region.label, after = text[after : tokens[k].start()].strip(), tokens[k].end()
                k += 1
                gap_ok = k < len(names) and not text[after : tokens[k].start()].strip()
                if gap_ok and names[k] == _DET:
                    name, after = _DET, tokens[k].end()
                    k += 1
                elif k == len(names) and not text[after:].strip():
                    flags.add("truncated")  # cut off right after the label
                    continue
                else:
                    flags.add("malformed_tags")  # a ref without its det
            elif k == len(names) and "\n" not in text[after:].strip():
                flags.add("truncated")  # cut off inside the label
                continue
            else:
                flags.add("malformed_tags")
                label = text[after : tokens[k].start()] if k < len(names) else ""
                if k < len(names) and names[k] == _DET and "\n" not in label.strip() and len(label) <= 64:
                    region.label, name, after = label.strip(), _DET, tokens[k].end()  # no <|/ref|>
                    k += 1
        elif name == _DET:
            flags.add("malformed_tags")  # a det without its ref
        if name == _DET:
            if k < len(names) and names[k] == _END_DET:
                region.boxes, bad = _boxes(text[after : tokens[k].start()])
                flags.update(["malformed_tags"] if bad else [])
                after = tokens[k].end()
                k += 1
            elif k == len(names):
                flags.add("truncated")  # cut off inside the coordinates: no content follows
                region.boxes, _ = _boxes(text[after:])
                if not region.boxes:
                    continue
                after = len(text)
            else:
                flags.add("malformed_tags")
        stop = k
        while stop < len(names) and names[stop] in (_END_REF, _END_DET):
            stop += 1  # stray closers inside the content: dropped, their text kept
        flags.update(["malformed_tags"] if stop > k else [])
        region.content = text[after : tokens[stop].start() if stop < len(tokens) else len(text)]
        if region.content.strip() or region.label is not None or region.boxes:
            regions.append(region)
        k = stop
    return preamble, regions


def _clean(text: str, flags: set[str]) -> str:
    cleaned = _STRAY.sub("", _TAG.sub("", text))
    if cleaned != text:
        flags.add("malformed_tags")
    return cleaned.strip()


def _unwrap(latex: str) -> str:
    for opener, closer in _DELIMITERS:
        if latex.startswith(opener) and latex.endswith(closer) and len(latex) >= len(opener + closer):
            return latex[len(opener) : len(latex) - len(closer)].strip()
    return latex


def _block(label: str | None, text: str, bbox: Box) -> Block:
    key = "_".join((label or "").lower().replace("-", " ").split())
    kind = KINDS.get(key, "text")
    html, level = None, None
    if kind == "title":
        level = 2 if key == "sub_title" else 1
        if match := _HEADING.match(text):
            level, text = len(match.group(1)), text[match.end() :].strip()
    elif kind == "table" and "<table" in text.lower():
        html, text = text, html_table_markdown(text) or text
    elif kind == "equation":
        text = _unwrap(text)
    return Block(kind=kind, text=text, bbox=bbox, html=html, level=level, label=label)


def parse_grounding(text: str, width: int, height: int, finish_reason: str | None = None) -> GroundedPage:
    """The page DeepSeek-OCR's raw `text` describes, for an image of `width` x `height` pixels.

    Flags (see FLAGS): `empty` (no text at all), `no_grounding` (text without any ref/det tag),
    `malformed_tags` (tags out of grammar: their text is kept, the tags dropped), `bbox_out_of_range`
    (a coordinate outside 0..999, clamped), `truncated` (finish_reason "length", or the answer ends
    inside a tag or a table), `repetition` (a loop, cut down to two copies).
    """
    flags: set[str] = {"truncated"} if finish_reason == "length" else set()
    text, looped = collapse_repeats(_SPECIAL.sub("", text))
    flags.update(["repetition"] if looped else [])
    page = Box(0.0, 0.0, float(max(width, 0)), float(max(height, 0)))
    preamble, regions = _regions(text, flags)
    blocks: list[Block] = []
    if preamble.strip():
        blocks.append(_block(None, _clean(preamble, flags), page))
    for region in regions:
        if any(v < 0 or v > GRID for box in region.boxes for v in box):
            flags.add("bbox_out_of_range")
        boxes = [_pixels(box, width, height) for box in region.boxes]
        label = _clean(region.label, flags) if region.label is not None else None
        blocks.append(_block(label, _clean(region.content, flags), Box.union(boxes) if boxes else page))
    if not text.strip():
        flags.add("empty")
    elif not _TAG.search(text):
        flags.add("no_grounding")
    last = (regions[-1].content if regions else preamble).lower()
    if last.count("<table") > last.count("</table"):
        flags.add("truncated")  # ends inside a table
    return GroundedPage(blocks=blocks, markdown=page_markdown(blocks), flags=[f for f in FLAGS if f in flags])
