"""Deciding from a job: its scorecard (engines scored on the corrected pages) and the set as an eval set.

`GET /v1/jobs/{id}/scorecard` computes the figures of `ocrgate eval` on the pages the person corrected
(`ocrgate.jobs.scorecard`); `GET /v1/jobs/{id}/export` answers a zip that `ocrgate eval --manifest` reads
(`ocrgate.jobs.export`).
"""

from __future__ import annotations

import re

import anyio
from fastapi import APIRouter, Response

from ocrgate.errors import NotFound
from ocrgate.gateway.routes.errors import ERRORS
from ocrgate.gateway.routes.job_pages import page_images
from ocrgate.gateway.routes.jobs import owned_job
from ocrgate.gateway.state import GatewayDep, OwnerDep
from ocrgate.jobs.export import export_set
from ocrgate.jobs.runner import job_pages
from ocrgate.jobs.scorecard import Scorecard, scorecard

router = APIRouter(tags=["jobs"])


@router.get("/v1/jobs/{job_id}/scorecard", response_model=Scorecard, responses=ERRORS)
def get_scorecard(job_id: str, gw: GatewayDep, owner: OwnerDep) -> Scorecard:
    """Per engine: CER, WER, F1 and NED on the corrected pages, wins, speed; per page: scores, agreement
    and winner; the best engine overall (null until a page is corrected)."""
    job = owned_job(gw, job_id, owner)
    return scorecard(job, job_pages(gw.store, job), gw.store.truths(job.id))


@router.get(
    "/v1/jobs/{job_id}/export",
    responses={**ERRORS, 200: {"content": {"application/zip": {}}, "description": "the evaluation set"}},
    response_class=Response,
)
async def export(job_id: str, gw: GatewayDep, owner: OwnerDep) -> Response:
    """The corrected pages as a zip: `manifest.jsonl`, page images, truths, each engine's output and the
    scorecard; 404 when no page is corrected yet."""
    job = owned_job(gw, job_id, owner)
    truths = gw.store.truths(job.id)
    if not truths:
        raise NotFound("no page of this job has a truth yet: correct a page first")
    pages = job_pages(gw.store, job)
    card = scorecard(job, pages, truths)
    images = await anyio.to_thread.run_sync(page_images, gw, job, [t.index for t in truths])
    data = await anyio.to_thread.run_sync(export_set, job, truths, images.__getitem__, pages, card)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", job.name).strip("._")[:60] or "job"
    disposition = f'attachment; filename="{stem}.eval-set.zip"'
    return Response(data, media_type="application/zip", headers={"Content-Disposition": disposition})
