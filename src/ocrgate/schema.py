"""The unified data model every stage speaks: blocks, pages, page results, responses, errors."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BlockKind = Literal[
    "text", "title", "table", "figure", "equation", "caption", "list", "code", "header", "footer"
]
BLOCK_KINDS: tuple[str, ...] = BlockKind.__args__  # type: ignore[attr-defined]

BBox = tuple[float, float, float, float]
DocumentStatus = Literal["complete", "partial"]


class Word(BaseModel):
    """One word as the engine read it, with its box in page-image pixels."""

    text: str
    bbox: BBox = Field(description="[x0, y0, x1, y1] in pixels of the page image that was recognised")
    score: float | None = Field(default=None, description="the engine's confidence, 0..1")


class TextLine(BaseModel):
    """One line of text (ALTO `TextLine`, hOCR `ocr_line`): its text, box and, where known, its words."""

    text: str
    bbox: BBox = Field(description="[x0, y0, x1, y1] in pixels of the page image that was recognised")
    score: float | None = Field(default=None, description="the engine's confidence, 0..1")
    words: list[Word] = Field(default_factory=list, description="empty where the engine gives no words")


class Block(BaseModel):
    """One region of a page: its kind, its markdown text and its box in page-image pixels."""

    kind: BlockKind = "text"
    text: str = ""
    bbox: BBox = Field(description="[x0, y0, x1, y1] in pixels of the page image that was recognised")
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


class Page(BaseModel):
    """One page of the unified response."""

    index: int
    width: int
    height: int
    markdown: str
    blocks: list[Block]
    flags: list[str] = Field(default_factory=list)
    boxes_image: str | None = Field(default=None, description="base64 PNG with the blocks' boxes drawn")


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


class ErrorResponse(BaseModel):
    success: Literal[False] = False
    request_id: str | None = None
    error: ErrorInfo


class OCRResponse(BaseModel):
    """The unified answer for one document and one backend."""

    model_config = ConfigDict(protected_namespaces=())

    success: bool = True
    status: DocumentStatus = Field(
        default="complete",
        description="`complete`: every page was read; `partial`: some pages failed (each flagged "
        "`failed: <reason>`, with no blocks) and the others are here",
    )
    request_id: str = ""
    backend: str
    image_name: str | None = None
    markdown: str = ""
    source_markdown: str = ""
    boxes_image: str | None = Field(default=None, description="base64 PNG of the first page's boxes")
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
    agreement: list[Agreement] = Field(default_factory=list)
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


class JobEvent(BaseModel):
    """One server-sent event of a job: a page finished or failed, or the job ended."""

    event: Literal["page", "progress", "job"]
    job_id: str
    status: str
    backend: str | None = None
    index: int | None = None
    page: Page | None = Field(default=None, description="the finished page, without its boxes image")
    error: str | None = None
    progress: dict[str, JobProgress] = Field(default_factory=dict)
