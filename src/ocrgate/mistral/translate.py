"""ocrgate's unified response -> Mistral's OCR response (pure functions, no I/O).

Mapping, per page of the unified response:
- `markdown`: the page's markdown (the same text the multipart route gives), with each extracted
  figure linked where it stands, as Mistral does: `![img-0.jpeg](img-0.jpeg)`, then its text.
- `images`: the extracted figures (blocks of kind `figure`), `img-N.jpeg` numbered through the
  document, their boxes in page pixels, their pixels as `data:image/jpeg;base64,...` when asked.
- `dimensions`: the page image's size in pixels and its dpi.
- `blocks`: every block as Mistral's block types (`figure` -> `image`, the other kinds keep their
  names), content = the block's markdown.
- `header` / `footer`: the page's header and footer blocks' text, when asked (ocrgate never puts
  them in the markdown).
- `confidence_scores`: mean and minimum of the engine's scores (words where it gives words, else
  lines, else the block's own), when asked.
"""

from __future__ import annotations

import base64
import io
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from ocrgate.mistral.models import (
    MistralOCRResponse,
    OCRBlock,
    OCRBlockConfidenceScores,
    OCRImageObject,
    OCRPageConfidenceScores,
    OCRPageDimensions,
    OCRPageObject,
    OCRUsageInfo,
)
from ocrgate.render import block_markdown, crop
from ocrgate.schema import Block, CompareResponse, OCRResponse, Page
from ocrgate.structure.orientation import rotation, turned_upright

# ocrgate's page furniture: in the blocks, never in the markdown (as render.page_markdown)
FURNITURE = ("header", "footer")
BLOCK_TYPES = {"figure": "image"}
JPEG_QUALITY = 90

FigureKey = tuple[int, int]  # (page index, block position on that page)


@dataclass(frozen=True)
class Shape:
    """What a request asked of the answer's shape (MistralOCRRequest's fields of the same names)."""

    include_image_base64: bool = False
    image_limit: int | None = None
    image_min_size: int | None = None
    extract_header: bool = False
    extract_footer: bool = False
    include_blocks: bool = True
    confidence: Literal["page", "block"] | None = None


def image_id(number: int) -> str:
    return f"img-{number}.jpeg"


def _corners(block: Block) -> tuple[int, int, int, int]:
    """The block's box as whole pixels, as `render.crop` crops it (blocks are clamped to their page)."""
    return block.bbox.pixels()


def figure_ids(pages: Sequence[Page], shape: Shape) -> dict[FigureKey, str]:
    """The figures that become `images`, each with its id: every `figure` block, in page and reading
    order, but those under `image_min_size` pixels a side and those past `image_limit`."""
    ids: dict[FigureKey, str] = {}
    for page in sorted(pages, key=lambda p: p.index):
        for position, block in enumerate(page.blocks):
            if block.kind != "figure":
                continue
            if shape.image_limit is not None and len(ids) >= shape.image_limit:
                return ids
            x0, y0, x1, y1 = _corners(block)
            if shape.image_min_size and min(x1 - x0, y1 - y0) < shape.image_min_size:
                continue
            ids[(page.index, position)] = image_id(len(ids))
    return ids


def jpeg_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def crop_figures(
    page_image: Callable[[int], Image.Image], responses: Mapping[str, OCRResponse], shape: Shape
) -> dict[str, dict[str, str]]:
    """Each backend's extracted figures cropped from their pages: {backend: {image id: data URL}}.

    `page_image(index)` gives the page as it was sent, asked for once per page; a backend that read a
    page turned (`rotated: N`) has its figures cropped from that page turned the same way, the pixels
    its boxes refer to.
    """
    wanted = {name: figure_ids(r.pages, shape) for name, r in responses.items()}
    blocks = {
        (name, page.index, position): block
        for name, r in responses.items()
        for page in r.pages
        for position, block in enumerate(page.blocks)
    }
    angles = {(name, page.index): rotation(page.flags) for name, r in responses.items() for page in r.pages}
    crops: dict[str, dict[str, str]] = {name: {} for name in responses}
    for index in sorted({key[0] for ids in wanted.values() for key in ids}):
        image = page_image(index)
        turned: dict[int, Image.Image] = {}
        for name, ids in wanted.items():
            for (page, position), figure in ids.items():
                if page == index:
                    angle = angles[(name, page)]
                    if angle not in turned:
                        turned[angle] = turned_upright(image, angle)
                    box = blocks[(name, page, position)].bbox
                    crops[name][figure] = jpeg_data_url(crop(turned[angle], box))
    return crops


def page_markdown(page: Page, ids: Mapping[FigureKey, str]) -> str:
    """The page's markdown with each extracted figure linked where it stands (`![id](id)`)."""
    parts: list[str] = []
    for position, block in enumerate(page.blocks):
        if block.kind in FURNITURE:
            continue
        figure = ids.get((page.index, position))
        if figure:
            parts.append(f"![{figure}]({figure})")
        text = block_markdown(block)
        if text:
            parts.append(text)
    return "\n\n".join(parts)


def _scores(block: Block) -> list[float]:
    words = [w.score for line in block.lines for w in line.words if w.score is not None]
    lines = [line.score for line in block.lines if line.score is not None]
    return words or lines or ([block.score] if block.score is not None else [])


def _block(block: Block, figure: str | None, shape: Shape) -> OCRBlock:
    x0, y0, x1, y1 = _corners(block)
    scores = _scores(block) if shape.confidence == "block" else []
    return OCRBlock(
        type=BLOCK_TYPES.get(block.kind, block.kind),
        top_left_x=x0,
        top_left_y=y0,
        bottom_right_x=x1,
        bottom_right_y=y1,
        content=block_markdown(block),
        image_id=figure,
        confidence_scores=OCRBlockConfidenceScores(
            average_content_confidence_score=statistics.fmean(scores),
            minimum_content_confidence_score=min(scores),
        )
        if scores
        else None,
    )


def _furniture(page: Page, kind: str, wanted: bool) -> str | None:
    texts = [b.text.strip() for b in page.blocks if b.kind == kind and b.text.strip()]
    return "\n\n".join(texts) if wanted and texts else None


def to_page(
    page: Page, ids: Mapping[FigureKey, str], crops: Mapping[str, str], dpi: int, shape: Shape
) -> OCRPageObject:
    """One page of the unified response in Mistral's shape."""
    images = []
    blocks = []
    for position, block in enumerate(page.blocks):
        figure = ids.get((page.index, position))
        if figure:
            x0, y0, x1, y1 = _corners(block)
            images.append(
                OCRImageObject(
                    id=figure,
                    top_left_x=x0,
                    top_left_y=y0,
                    bottom_right_x=x1,
                    bottom_right_y=y1,
                    image_base64=crops.get(figure) if shape.include_image_base64 else None,
                )
            )
        if shape.include_blocks and (block.kind != "figure" or figure):
            blocks.append(_block(block, figure, shape))
    scores = [s for b in page.blocks for s in _scores(b)] if shape.confidence else []
    return OCRPageObject(
        index=page.index,
        markdown=page_markdown(page, ids),
        images=images,
        dimensions=OCRPageDimensions(dpi=dpi, height=page.height, width=page.width),
        header=_furniture(page, "header", shape.extract_header),
        footer=_furniture(page, "footer", shape.extract_footer),
        confidence_scores=OCRPageConfidenceScores(
            average_page_confidence_score=statistics.fmean(scores),
            minimum_page_confidence_score=min(scores),
        )
        if scores
        else None,
        blocks=blocks if shape.include_blocks else None,
        flags=page.flags,
    )


def to_mistral(
    result: OCRResponse | CompareResponse,
    shape: Shape,
    *,
    dpi: Callable[[int], int],
    doc_size_bytes: int,
    crops: Mapping[str, Mapping[str, str]] | None = None,
) -> MistralOCRResponse:
    """The unified response (or a comparison) in Mistral's shape.

    `dpi(index)` gives each page image's resolution; `crops` the figures' data URLs per backend
    (`crop_figures`). A comparison answers with its first backend at the top level and every
    backend's answer under `results`, with `backends` and `agreement` as in the unified comparison.
    """
    crops = crops or {}
    if isinstance(result, CompareResponse):
        results = {
            name: to_mistral(response, shape, dpi=dpi, doc_size_bytes=doc_size_bytes, crops=crops)
            for name, response in result.results.items()
        }
        first = results[result.backends[0]]
        return first.model_copy(
            update={
                "id": result.request_id,
                "backends": result.backends,
                "results": results,
                "agreement": result.agreement,
            }
        )
    ids = figure_ids(result.pages, shape)
    own = crops.get(result.backend, {})
    return MistralOCRResponse(
        id=result.request_id,
        model=result.backend,
        pages=[to_page(page, ids, own, dpi(page.index), shape) for page in result.pages],
        usage_info=OCRUsageInfo(pages_processed=len(result.pages), doc_size_bytes=doc_size_bytes),
        processing_time=result.processing_time,
        timings=result.timings,
    )
