"""The unified data model every stage speaks: boxes, words, lines, blocks, pages, page results, responses.

Geometry and sanitising live on the types: `Box` knows its size, how to clamp, scale and unite
itself; `Block.sanitised` and `PageResult.fitted` make a worker's answer safe to draw and show.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

BlockKind = Literal[
    "text", "title", "table", "figure", "equation", "caption", "list", "code", "header", "footer"
]
BLOCK_KINDS: tuple[str, ...] = BlockKind.__args__  # type: ignore[attr-defined]

# What an engine's table HTML may keep: table structure, spans and light inline markup, nothing else.
TABLE_TAGS = {"table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td"}
TABLE_TAGS |= {"br", "b", "strong", "i", "em", "sub", "sup", "span", "p"}
TABLE_ATTRIBUTES = {cell: {"colspan", "rowspan"} for cell in ("th", "td")}
BOX_DESCRIPTION = "[x0, y0, x1, y1] in pixels of the page image that was recognised"
DocumentStatus = Literal["complete", "partial"]
#: a request's use of PDF text layers: where reliable instead of OCR (`auto`), `never`, or `only` them
TextLayerMode = Literal["auto", "never", "only"]


class Box(NamedTuple):
    """An axis-aligned box in pixels of the page image that was recognised.

    Origin at the page's top-left corner, x to the right, y down; (x0, y0) is the top-left corner and
    (x1, y1) the bottom-right one. A tuple, so its JSON is exactly `[x0, y0, x1, y1]` and it compares
    equal to a plain 4-tuple. A box read from a worker may have its corners out of order, NaN or
    infinities: `clamped` makes it sane; the other methods assume finite numbers.
    """

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        """x1 - x0 in pixels; 0 when the corners are out of order."""
        return max(0.0, self.x1 - self.x0)

    @property
    def height(self) -> float:
        """y1 - y0 in pixels; 0 when the corners are out of order."""
        return max(0.0, self.y1 - self.y0)

    @property
    def area(self) -> float:
        """width * height in square pixels."""
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        """(x, y) of the box's middle, in pixels."""
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def clamped(self, width: float, height: float) -> Box:
        """This box inside a page of `width` x `height` pixels, corners in order.

        NaN goes to 0, infinities (and any number past an edge) to the page's edges, so the result
        always satisfies 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height. A box of floats that
        does already (most are) is returned as it is.
        """
        x0, y0, x1, y1 = self
        if 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height and {*map(type, self)} == {float}:
            return self

        def clamp(value: float, limit: float) -> float:
            return 0.0 if math.isnan(value) else min(max(float(value), 0.0), float(limit))

        x0, x1 = sorted((clamp(self.x0, width), clamp(self.x1, width)))
        y0, y1 = sorted((clamp(self.y0, height), clamp(self.y1, height)))
        return Box(x0, y0, x1, y1)

    def scaled(self, sx: float, sy: float) -> Box:
        """This box with its x coordinates multiplied by `sx` and its y coordinates by `sy`."""
        return Box(self.x0 * sx, self.y0 * sy, self.x1 * sx, self.y1 * sy)

    @classmethod
    def union(cls, boxes: Iterable[Sequence[float]]) -> Box:
        """The smallest box holding every one of `boxes` (4-sequences [x0, y0, x1, y1]).

        Raises ValueError when `boxes` is empty.
        """
        boxes = list(boxes)
        if not boxes:
            raise ValueError("the union of no boxes")
        return cls(
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    def intersection(self, other: Sequence[float]) -> Box | None:
        """The box both boxes cover, or None when they do not overlap (touching edges do not)."""
        x0, y0 = max(self.x0, other[0]), max(self.y0, other[1])
        x1, y1 = min(self.x1, other[2]), min(self.y1, other[3])
        return Box(x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None

    def iou(self, other: Sequence[float]) -> float:
        """Intersection over union (Jaccard index) of the two boxes' areas, 0..1; 0 when both are empty."""
        common = self.intersection(other)
        if common is None:
            return 0.0
        return common.area / (self.area + Box(*other).area - common.area)

    def contains(self, other: Sequence[float]) -> bool:
        """Whether `other` lies wholly inside this box (edges included)."""
        return self.x0 <= other[0] and self.y0 <= other[1] and other[2] <= self.x1 and other[3] <= self.y1

    def pixels(self) -> tuple[int, int, int, int]:
        """The integer pixel box that covers this one (x0, y0 rounded down; x1, y1 up), for cropping.

        Raises ValueError (NaN) or OverflowError (infinity) for a box that was not clamped first.
        """
        return math.floor(self.x0), math.floor(self.y0), math.ceil(self.x1), math.ceil(self.y1)


def finite_score(score: float | None) -> float | None:
    """`score`, or None when it is NaN or infinite (an engine's confidence must be a number)."""
    return score if score is None or math.isfinite(score) else None


def _unchanged(model: BaseModel, update: Mapping[str, Any]) -> bool:
    """Whether `model.model_copy(update=update)` would equal `model`: each new value equals the old one
    (a list: holds the very same items). `sanitised` skips the copy then: most engines' numbers need
    no mending, and a copy per block, line and word cost 1 % of the gateway's CPU for the small page
    (py-spy). Nothing changes a block once made, so a page may share its blocks with the result."""
    for key, new in update.items():
        old = getattr(model, key)
        if isinstance(new, list):
            if len(new) != len(old) or any(a is not b for a, b in zip(new, old, strict=True)):
                return False
        elif new is not old and new != old:
            return False
    return True


def clean_table_html(html: str) -> str:
    """An engine's table HTML reduced to table markup (nh3): no scripts, handlers, links or styles."""
    import nh3  # here, not at the top: engine workers import this module from virtualenvs without nh3

    return nh3.clean(html, tags=TABLE_TAGS, attributes=TABLE_ATTRIBUTES, url_schemes=set())


class Word(BaseModel):
    """One word as the engine read it, with its box in page-image pixels."""

    text: str
    bbox: Box = Field(description=BOX_DESCRIPTION)
    score: float | None = Field(default=None, description="the engine's confidence, 0..1")

    def sanitised(self, width: float, height: float) -> Word:
        """This word with its box clamped to a `width` x `height` page and a non-finite score dropped
        (itself where nothing changes)."""
        update = {"bbox": self.bbox.clamped(width, height), "score": finite_score(self.score)}
        return self if _unchanged(self, update) else self.model_copy(update=update)

    def scaled(self, sx: float, sy: float) -> Word:
        return self.model_copy(update={"bbox": self.bbox.scaled(sx, sy)})


class TextLine(BaseModel):
    """One line of text (ALTO `TextLine`, hOCR `ocr_line`): its text, box and, where known, its words."""

    text: str
    bbox: Box = Field(description=BOX_DESCRIPTION)
    score: float | None = Field(default=None, description="the engine's confidence, 0..1")
    words: list[Word] = Field(default_factory=list, description="empty where the engine gives no words")

    def sanitised(self, width: float, height: float) -> TextLine:
        """This line and its words, boxes clamped to a `width` x `height` page, non-finite scores dropped
        (itself where nothing changes)."""
        update = {
            "bbox": self.bbox.clamped(width, height),
            "score": finite_score(self.score),
            "words": [w.sanitised(width, height) for w in self.words],
        }
        return self if _unchanged(self, update) else self.model_copy(update=update)

    def scaled(self, sx: float, sy: float) -> TextLine:
        return self.model_copy(
            update={"bbox": self.bbox.scaled(sx, sy), "words": [w.scaled(sx, sy) for w in self.words]}
        )


class Block(BaseModel):
    """One region of a page: its kind, its markdown text and its box in page-image pixels."""

    kind: BlockKind = "text"
    text: str = ""
    bbox: Box = Field(description=BOX_DESCRIPTION)
    score: float | None = None
    html: str | None = Field(default=None, description="tables only: the table as HTML")
    level: int | None = Field(default=None, ge=1, le=6, description="titles only: heading level")
    label: str | None = Field(default=None, description="the engine's own label for this region")
    origin: Literal["engine", "text_layer"] = Field(
        default="engine", description="where its text came from: the OCR engine or the PDF's text layer"
    )
    lines: list[TextLine] = Field(
        default_factory=list, description="its text lines in reading order, where the engine gives lines"
    )

    def sanitised(self, width: float, height: float) -> Block:
        """This block made safe to draw, crop, serialise and show (a worker's numbers are not trusted).

        Its boxes (its own, its lines' and words') clamped to a `width` x `height` page (`Box.clamped`),
        non-finite scores dropped, table HTML reduced to table markup (`clean_table_html`).
        """
        update: dict[str, Any] = {
            "bbox": self.bbox.clamped(width, height),
            "score": finite_score(self.score),
            "lines": [line.sanitised(width, height) for line in self.lines],
        }
        if self.html is not None:
            update["html"] = clean_table_html(self.html)
        return self if _unchanged(self, update) else self.model_copy(update=update)

    def scaled(self, sx: float, sy: float) -> Block:
        """This block with its boxes (its own, its lines' and words') scaled by `sx`, `sy`."""
        return self.model_copy(
            update={"bbox": self.bbox.scaled(sx, sy), "lines": [ln.scaled(sx, sy) for ln in self.lines]}
        )


class PageResult(BaseModel):
    """What a backend returns for one page."""

    index: int = Field(ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    blocks: list[Block] = Field(default_factory=list)
    raw: Any = Field(default=None, description="the engine's own output for this page")
    flags: list[str] = Field(
        default_factory=list, description="problems noticed while parsing: truncated, repetition, ..."
    )
    ocr_seconds: float = 0.0
    page_preview: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9+/]*={0,2}$",
        description="base64 JPEG preview of the page as read, for its boxes picture: made by a worker "
        "asked for it (`POST /v1/ocr?boxes=true`) where the page's pixels are; never set by a backend",
    )

    def fitted(self, width: int, height: int) -> PageResult:
        """This result with its boxes scaled to a page image of `width` x `height` pixels.

        For a backend that read the page at another size than the image shown (a whole-file engine's
        own rasterisation). A no-op when the sizes already agree.
        """
        if (self.width, self.height) == (width, height):
            return self
        sx, sy = width / self.width, height / self.height
        blocks = [block.scaled(sx, sy) for block in self.blocks]
        return self.model_copy(update={"width": width, "height": height, "blocks": blocks})


class Page(BaseModel):
    """One page of the unified response."""

    index: int
    width: int
    height: int
    markdown: str
    blocks: list[Block]
    flags: list[str] = Field(default_factory=list)
    page_name: str | None = Field(
        default=None,
        description="in a job made of several files: the file this page came from, with `#N` (1-based) "
        "for a page of a file of several (`report.pdf#2`), as the job's `page_names` lists them; else null",
    )
    boxes_image: str | None = Field(
        default=None,
        description="the boxes picture, an SVG document: the page (the upload itself, or a JPEG preview "
        "its shorter side at most 1000 pixels) with every block's box outlined and labelled, in page pixels",
    )


class Timings(BaseModel):
    """Wall-clock seconds spent in each stage."""

    queue: float = 0.0
    decode: float = 0.0
    ocr: float = 0.0
    render: float = 0.0
    total: float = 0.0


class ErrorInfo(BaseModel):
    code: str
    message: str


def new_request_id() -> str:
    """A new request id: 32 lowercase hex digits, 128 random bits (`secrets`; a quarter of what a
    version 4 UUID's hex costs, with 6 more random bits)."""
    return secrets.token_hex(16)


class ErrorResponse(BaseModel):
    success: Literal[False] = False
    request_id: str | None = Field(
        default=None, description="the request's id, as in its `X-Request-ID` response header"
    )
    error: ErrorInfo


class OCRResponse(BaseModel):
    """The unified answer for one document and one backend."""

    model_config = ConfigDict(protected_namespaces=())

    success: bool = True
    status: DocumentStatus = Field(
        default="complete",
        description="`complete`: every page was read; `partial`: some pages failed (each flagged "
        "`failed: <reason>`, with no blocks) and the others are here, or (a job's result) some pages "
        "were not read: the job was cancelled or still runs",
    )
    request_id: str = ""
    backend: str
    image_name: str | None = None
    markdown: str = ""
    source_markdown: str = ""
    boxes_image: str | None = Field(
        default=None,
        description="the seed's field, answered to the seed's JSON body only: page 1's boxes picture "
        "(SVG), a copy of `pages[0].boxes_image`; every other answer carries each picture once, in its page",
    )
    pages: list[Page] = Field(default_factory=list)
    raw_result: dict[str, Any] = Field(default_factory=dict)
    processing_time: float = 0.0
    timings: Timings = Field(default_factory=Timings)
    error: ErrorInfo | None = None


class Agreement(BaseModel):
    """Normalised edit similarity (0..1) between two backends' markdown."""

    a: str
    b: str
    similarity: float


class CompareResponse(BaseModel):
    """Several backends on one document: one result each plus their pairwise agreement."""

    success: bool = True
    request_id: str = ""
    image_name: str | None = None
    backends: list[str]
    results: dict[str, OCRResponse]
    agreement: list[Agreement] = Field(
        default_factory=list,
        description="pairwise, over the pages at least one engine read (`text_layer_pages` left out)",
    )
    text_layer_pages: list[int] = Field(
        default_factory=list,
        description="0-based pages every backend took from the PDF's text layer: no engine read them, "
        "so they are not compared",
    )
    processing_time: float = 0.0


class BackendHealth(BaseModel):
    """What a backend says about itself."""

    model_config = ConfigDict(protected_namespaces=())

    backend: str
    available: bool = True
    model_loaded: bool = False
    device: str = "cpu"
    engine_version: str | None = None
    gpu_ids: list[str] = Field(default_factory=list)
    gpu_memory_mb: dict[str, int] = Field(default_factory=dict)
    detail: str | None = None
    info: dict[str, Any] = Field(default_factory=dict, description="engine facts: model, batch sizes, ...")


JobState = Literal["queued", "running", "completed", "failed", "cancelled"]


class JobProgress(BaseModel):
    total: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    queued: int = 0
    reported: int | None = Field(
        default=None, description="pages done so far by an engine that reads the whole file, as it says"
    )


class JobStatus(BaseModel):
    """A job as `GET /v1/jobs/{id}` shows it."""

    id: str
    status: JobState
    name: str
    page_count: int
    backends: list[str]
    progress: dict[str, JobProgress]
    created_at: float
    updated_at: float
    expires_at: float
    error: str | None = None
    page_names: list[str] = Field(
        default_factory=list, description="a job of several files: each page's name; empty otherwise"
    )


class JobEvent(BaseModel):
    """One server-sent event of a job: a page finished or failed, or the job ended."""

    event: Literal["page", "progress", "job"]
    job_id: str
    status: str
    backend: str | None = None
    index: int | None = None
    page: Page | None = Field(default=None, description="the finished page, without its boxes image")
    timings: Timings | None = Field(
        default=None, description="seconds this page took in each stage, for this backend (`page` events)"
    )
    error: str | None = None
    progress: dict[str, JobProgress] = Field(default_factory=dict)
