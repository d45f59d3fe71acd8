"""The request and response of Mistral's OCR API, as ocrgate takes and gives them.

Field names and types follow Mistral's public API (`POST /v1/ocr`) as the `mistralai` SDK 3.x models
it (`OCRRequest`, `OCRResponse`, `OCRPageObject`, `OCRImageObject`, `OCRPageDimensions`,
`OCRUsageInfo`, the `OCR*Block` types). Fields marked "ocrgate" are additions that clients of that API
ignore: the engine's options, timings, a comparison of several backends. Coordinates are pixels of
the page image that was recognised (`dimensions`: a PDF page rasterised at `dpi`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from ocrgate.render import BoxesMode
from ocrgate.schema import Agreement, Timings


class ImageURL(BaseModel):
    url: str = Field(description="a data: URL (base64) or, where the gateway allows it, an http(s) URL")
    detail: str | None = None


class DocumentURLChunk(BaseModel):
    type: Literal["document_url"] = "document_url"
    document_url: str = Field(
        description="data:application/pdf;base64,... (or an image type); http(s) only where allowed"
    )
    document_name: str | None = None


class ImageURLChunk(BaseModel):
    type: Literal["image_url"] = "image_url"
    image_url: str | ImageURL = Field(description="data:image/png;base64,...; http(s) only where allowed")


class FileChunk(BaseModel):
    """A file uploaded to Mistral's own storage: refused by ocrgate, which keeps no file store."""

    type: Literal["file"] = "file"
    file_id: str


def _chunk_type(value: Any) -> str:
    """Which kind of document a request names: its `type`, or the field it carries."""
    if isinstance(value, BaseModel):
        return str(getattr(value, "type", ""))
    if not isinstance(value, dict):
        return ""
    if "type" in value:
        return str(value["type"])
    if "image_url" in value:
        return "image_url"
    return "file" if "file_id" in value else "document_url"


Document = Annotated[
    Annotated[DocumentURLChunk, Tag("document_url")]
    | Annotated[ImageURLChunk, Tag("image_url")]
    | Annotated[FileChunk, Tag("file")],
    Discriminator(_chunk_type),
]


class MistralOCRRequest(BaseModel):
    """`POST /v1/ocr` with a JSON body in Mistral's convention; `model` picks the ocrgate backend."""

    model: str | None = Field(
        default=None, description="ocrgate backend: a name, a comma list, or `all`; null: the default"
    )
    document: Document
    pages: list[int] | str | None = Field(
        default=None, description="0-based pages: [0, 2] or '0,2-4'; null: every page"
    )
    include_image_base64: bool | None = Field(default=None, description="figures' pixels as data: URLs")
    image_limit: int | None = Field(default=None, ge=0, description="at most this many figures extracted")
    image_min_size: int | None = Field(
        default=None, ge=0, description="figures narrower or lower than this (pixels) are not extracted"
    )
    bbox_annotation_format: dict[str, Any] | None = Field(default=None, description="not supported")
    document_annotation_format: dict[str, Any] | None = Field(default=None, description="not supported")
    document_annotation_prompt: str | None = Field(default=None, description="not supported")
    table_format: Literal["markdown", "html"] | None = Field(
        default=None, description="only null: tables stay in the markdown (HTML where the engine gives it)"
    )
    extract_header: bool = Field(default=False, description="page headers into `header`")
    extract_footer: bool = Field(default=False, description="page footers into `footer`")
    include_blocks: bool = Field(default=True, description="each page's layout regions as `blocks`")
    confidence_scores_granularity: Literal["word", "page", "block"] | None = Field(
        default=None, description="page or block (from the engine's scores); word is not supported"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="ocrgate: engine options; each backend's schema: GET /v1/backends"
    )
    prompt: str | None = Field(default=None, description="ocrgate: prompt, for engines that take one")
    dpi: int | None = Field(default=None, ge=36, le=600, description="ocrgate: PDF rasterising resolution")


class SeedOCRRequest(BaseModel):
    """`POST /v1/ocr` with the seed's JSON body; the answer is the unified response (or a comparison).
    A field it does not name is refused, as the multipart form refuses one (Mistral's convention, whose
    clients send fields of their own, takes them)."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(description="the image or PDF in base64 (plain, or a data: URL)")
    backend: str | None = Field(default=None, description="a backend name, a comma list, or `all`")
    prompt: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="engine options")
    boxes: BoxesMode | None = None
    dpi: int | None = Field(default=None, ge=36, le=600)
    filename: str | None = Field(default=None, description="shown as `image_name`")


class OCRImageObject(BaseModel):
    """A figure of the page: its box and, when asked, its pixels (`data:image/jpeg;base64,...`)."""

    id: str = Field(description="img-N.jpeg, numbered through the document; the markdown links it")
    top_left_x: int | None
    top_left_y: int | None
    bottom_right_x: int | None
    bottom_right_y: int | None
    image_base64: str | None = None


class OCRPageDimensions(BaseModel):
    dpi: int = Field(description="dots per inch of the page image")
    height: int = Field(description="pixels")
    width: int = Field(description="pixels")


class OCRBlockConfidenceScores(BaseModel):
    average_content_confidence_score: float | None = None
    minimum_content_confidence_score: float | None = None


class OCRPageConfidenceScores(BaseModel):
    average_page_confidence_score: float
    minimum_page_confidence_score: float


class OCRBlock(BaseModel):
    """One layout region: Mistral's block types (text, title, table, image, equation, caption, list,
    code, header, footer), its box in page pixels and its markdown."""

    type: str
    top_left_x: int
    top_left_y: int
    bottom_right_x: int
    bottom_right_y: int
    content: str
    image_id: str | None = Field(default=None, description="image blocks: the entry of `images`")
    confidence_scores: OCRBlockConfidenceScores | None = None


class OCRPageObject(BaseModel):
    index: int = Field(description="0-based page of the document")
    markdown: str
    images: list[OCRImageObject] = Field(default_factory=list)
    dimensions: OCRPageDimensions | None
    tables: list[dict[str, Any]] = Field(default_factory=list)
    hyperlinks: list[str] = Field(default_factory=list)
    header: str | None = None
    footer: str | None = None
    confidence_scores: OCRPageConfidenceScores | None = None
    blocks: list[OCRBlock] | None = None
    flags: list[str] = Field(default_factory=list, description="ocrgate: problems noticed on this page")


class OCRUsageInfo(BaseModel):
    pages_processed: int
    doc_size_bytes: int | None = None


class MistralOCRResponse(BaseModel):
    """The answer in Mistral's convention; with several backends, the first one's at the top level."""

    model_config = ConfigDict(protected_namespaces=())

    id: str = Field(description="the request id")
    model: str = Field(description="the ocrgate backend that read the document")
    pages: list[OCRPageObject]
    usage_info: OCRUsageInfo
    document_annotation: str | None = None
    processing_time: float = Field(default=0.0, description="ocrgate: seconds, wall clock")
    timings: Timings | None = Field(default=None, description="ocrgate: seconds per stage")
    backends: list[str] | None = Field(default=None, description="ocrgate: every backend compared")
    results: dict[str, MistralOCRResponse] | None = Field(
        default=None, description="ocrgate: each compared backend's answer"
    )
    agreement: list[Agreement] | None = Field(
        default=None, description="ocrgate: pairwise edit similarity of the compared backends' markdown"
    )
