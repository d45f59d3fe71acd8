"""A job's pages one by one: the page image (from the stored input) and a person's reading of it (truth).

`GET /v1/jobs/{id}/pages/{n}/image` renders page n (0-based) of the job's input as the engines saw it
(PDF pages at the job's dpi), as PNG; the client shows it as soon as that page's first result arrives.
`PUT`/`DELETE /v1/jobs/{id}/truth/{n}` keep or forget the page's ground truth in the job store (SQLite or
PostgreSQL, so it survives reloads and is the same in every browser); `GET /v1/jobs/{id}/truth` lists them.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

import anyio
from fastapi import APIRouter, Response
from PIL import Image
from pydantic import BaseModel, Field

from ocrgate.documents import open_document
from ocrgate.errors import InvalidOption, NotFound
from ocrgate.gateway.formatting import content_disposition, download_name
from ocrgate.gateway.routes.errors import ERRORS
from ocrgate.gateway.routes.jobs import owned_job
from ocrgate.gateway.state import Gateway, GatewayDep, OwnerDep
from ocrgate.jobs import JobRecord, PageTruth
from ocrgate.jobs.export import png
from ocrgate.render import RenderedPage
from ocrgate.structure.orientation import rotation, turned_upright

router = APIRouter(tags=["jobs"])
MAX_TRUTH_CHARS = 1_000_000
CACHED_IMAGES = 64  # PNGs kept (a set's pages are asked for as thumbnails and again when opened)


class TruthIn(BaseModel):
    """A page's text as it should read, and the engine whose reading it was corrected from."""

    text: str = Field(max_length=MAX_TRUTH_CHARS, description="plain text, lines as on the page")
    backend: str | None = Field(default=None, description="one of the job's backends, or null")


class _PNGCache:
    """The last `size` page images rendered, by (job, page, angle turned): a job's input never changes."""

    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict[tuple[str, int, int], bytes](), Lock()

    def get(self, key: tuple[str, int, int]) -> bytes | None:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
            return self.items.get(key)

    def put(self, key: tuple[str, int, int], data: bytes) -> None:
        with self.lock:
            self.items[key] = data
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_cache = _PNGCache(CACHED_IMAGES)


def page_angle(gw: Gateway, job: JobRecord, index: int) -> int:
    """How far page `index` was turned to be read (`rotated: N`, degrees clockwise) by the first of the
    job's backends that has read it; 0 while none has, or when none turned it."""
    for backend in job.backends:
        for outcome in gw.store.page_results(job.id, backend, index):
            if outcome.result_json:
                return rotation(RenderedPage.model_validate_json(outcome.result_json).page.flags)
    return 0


def page_images(gw: Gateway, job: JobRecord, indices: list[int]) -> dict[int, Image.Image]:
    """Pages `indices` of the job's input as the engines saw them (blocking: run it in a thread)."""
    document = open_document(gw.store.input_bytes(job.id), job.name, gw.settings.limits, job.dpi)
    try:
        return {index: document.page(index).image for index in indices}
    finally:
        document.close()


def _page_index(job: JobRecord, index: int) -> int:
    if not 0 <= index < job.page_count:
        raise NotFound(f"job {job.id!r} has no page {index} (pages are 0..{job.page_count - 1})")
    return index


@router.get(
    "/v1/jobs/{job_id}/pages/{index}/image",
    responses={**ERRORS, 200: {"content": {"image/png": {}}, "description": "the page as PNG"}},
    response_class=Response,
)
async def page_image(job_id: str, index: int, gw: GatewayDep, owner: OwnerDep) -> Response:
    """Page `index` (0-based) of the job's input as PNG, in the pixels its boxes refer to: turned
    upright the way the first engine that read it turned it (`rotated: N`), as sent before that."""
    job = owned_job(gw, job_id, owner)
    _page_index(job, index)
    angle = await anyio.to_thread.run_sync(page_angle, gw, job, index)
    data = _cache.get((job.id, index, angle))
    if data is None:
        images = await anyio.to_thread.run_sync(page_images, gw, job, [index])
        data = await anyio.to_thread.run_sync(png, turned_upright(images[index], angle))
        _cache.put((job.id, index, angle), data)
    # `.pN` even for one page: saved beside the upload, `scan.png` would replace it
    name = content_disposition(download_name(job.name, f".p{index + 1}.png"), inline=True)
    headers = {"Cache-Control": "private, max-age=3600", "Content-Disposition": name}
    return Response(data, media_type="image/png", headers=headers)


@router.get("/v1/jobs/{job_id}/truth", response_model=list[PageTruth], responses=ERRORS)
def list_truths(job_id: str, gw: GatewayDep, owner: OwnerDep) -> list[PageTruth]:
    """The job's corrected pages (ground truth), by page."""
    return gw.store.truths(owned_job(gw, job_id, owner).id)


@router.put("/v1/jobs/{job_id}/truth/{index}", response_model=PageTruth, responses=ERRORS)
def put_truth(job_id: str, index: int, body: TruthIn, gw: GatewayDep, owner: OwnerDep) -> PageTruth:
    """Keep `text` as page `index`'s ground truth (replacing an earlier one)."""
    job = owned_job(gw, job_id, owner)
    _page_index(job, index)
    if body.backend is not None and body.backend not in job.backends:
        raise InvalidOption(f"backend {body.backend!r} is not one of the job's: {', '.join(job.backends)}")
    return gw.store.set_truth(job.id, index, body.text, body.backend)


@router.delete("/v1/jobs/{job_id}/truth/{index}", status_code=204, responses=ERRORS)
def delete_truth(job_id: str, index: int, gw: GatewayDep, owner: OwnerDep) -> Response:
    """Forget page `index`'s ground truth; 404 when it had none."""
    job = owned_job(gw, job_id, owner)
    if not gw.store.delete_truth(job.id, _page_index(job, index)):
        raise NotFound(f"page {index} of job {job.id!r} has no truth")
    return Response(status_code=204)
