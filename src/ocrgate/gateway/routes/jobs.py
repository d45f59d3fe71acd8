"""`/v1/jobs`: documents read in the background, durable across restarts, followed by events."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, Query, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Message, Receive, Scope, Send

from ocrgate.documents import open_document
from ocrgate.errors import NotFound, NotReady
from ocrgate.formats import FormatName
from ocrgate.gateway.formatting import (
    FORMAT_DESCRIPTION,
    FORMAT_RESPONSES,
    check_backends,
    content_disposition,
    download_name,
    file_response,
    one_backend,
    requested_format,
)
from ocrgate.gateway.routes.errors import ERRORS
from ocrgate.gateway.state import Gateway, GatewayDep, OwnerDep
from ocrgate.gateway.uploads import JOB_REFUSED, Upload, job_form, openapi_body
from ocrgate.jobs import JobRecord, NewJob, PageKey
from ocrgate.jobs.events import FINAL
from ocrgate.jobs.runner import job_result, job_status
from ocrgate.schema import CompareResponse, JobStatus, OCRResponse

router = APIRouter(tags=["jobs"])

#: how long a client should wait before it opens a stream the gateway's stop ended (SSE `retry`, ms)
RECONNECT_MS = 5000


def owned_job(gw: Gateway, job_id: str, owner: str | None) -> JobRecord:
    """The job `job_id` if `owner` may see it; NotFound otherwise (or when it has expired)."""
    job = gw.store.get_job(job_id, owner)
    if job is None:
        raise NotFound(f"no job {job_id!r} (it may have expired)")
    return job


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=JobStatus,
    responses=ERRORS,
    openapi_extra=openapi_body(leave_out=JOB_REFUSED),
)
async def submit_job(
    gw: GatewayDep, owner: OwnerDep, upload: Annotated[Upload, Depends(job_form)], response: Response
) -> JobStatus:
    """Accept a document for background processing; 202 with the job's id and progress, and the job's
    address in `Location` (RFC 9110, 15.3.3). A set's pages that cannot be read are failed at once,
    with their reason."""
    try:  # a damaged image is refused now (its typed 4xx), not found later in the background
        await anyio.to_thread.run_sync(upload.document.verify)
    finally:
        upload.document.close()
    job = gw.store.create_job(
        NewJob(
            data=upload.data,
            name=upload.document.name,
            media_type=upload.document.media_type,
            backends=upload.backends,
            options=upload.options,
            boxes=upload.boxes or "first",
            page_count=upload.document.page_count,
            owner=owner,
            ttl_s=gw.settings.gateway.job_ttl_s,
            dpi=upload.dpi,
            text_layer=upload.text_layer,
            backend_options=upload.backend_options,
            page_names=upload.page_names,
        )
    )
    for index, reason in upload.unreadable_pages.items():  # a set's page that cannot be read: failed now
        for backend in upload.backends:
            gw.runner.fail_page(PageKey(job.id, backend, index), reason, 1)
    gw.runner.schedule(job.id)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job_status(gw.store, job)


@router.get("/v1/jobs", response_model=list[JobStatus])
def list_jobs(
    gw: GatewayDep,
    owner: OwnerDep,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many jobs")] = 50,
) -> list[JobStatus]:
    """The caller's most recent jobs, newest first (at most `limit`, 1..500; outside that a 422)."""
    return [job_status(gw.store, job) for job in gw.store.list_jobs(owner, limit=limit)]


@router.get("/v1/jobs/{job_id}", response_model=JobStatus, responses=ERRORS)
def get_job(job_id: str, gw: GatewayDep, owner: OwnerDep) -> JobStatus:
    job = owned_job(gw, job_id, owner)
    return job_status(gw.store, job, gw.runner.progress(job.id))


@router.get(
    "/v1/jobs/{job_id}/result",
    response_model=OCRResponse | CompareResponse,
    responses={**ERRORS, **FORMAT_RESPONSES},
)
def get_job_result(
    job_id: str,
    gw: GatewayDep,
    owner: OwnerDep,
    response: Response,
    fmt: Annotated[FormatName | None, Query(alias="format", description=FORMAT_DESCRIPTION)] = None,
    backend: Annotated[str | None, Query(description="only this backend's result (of several)")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> OCRResponse | CompareResponse | Response:
    """The pages done so far as the unified response; or, once the job has ended, the result as
    markdown, text, ALTO, hOCR or a searchable PDF (`format`, or `Accept`), of one backend. Each is
    named after the upload in its Content-Disposition (`scan.json` inline, `scan.md` ...)."""
    job = owned_job(gw, job_id, owner)
    wanted = requested_format(fmt, accept)
    result = job_result(gw.store, job)
    if backend is not None:
        result = one_backend(result, backend)
    engine = backend if backend and len(job.backends) > 1 else None
    if wanted == "json":
        name = download_name(job.name, ".json", engine)
        response.headers["Content-Disposition"] = content_disposition(name, inline=True)
        return result
    check_backends(wanted, [backend] if backend else job.backends, "name one with ?backend=")
    if job.status in ("queued", "running"):
        raise NotReady(
            f"job {job_id!r} is {job.status}: its result as {wanted} is written once it ends "
            "(its JSON result shows the pages done so far)"
        )
    document = open_document(gw.store.input_bytes(job.id), job.name, gw.settings.limits, job.dpi)
    try:
        return file_response(result, wanted, document, engine)
    finally:
        document.close()


class JobEventStream(EventSourceResponse):
    """A job's event stream that the server's stop ends cleanly: sse-starlette stops the stream when the
    server begins to stop (SIGTERM, Ctrl-C); this then sends one last `stopping` event (its data
    `{"job_id", "message"}`, with `retry: RECONNECT_MS`) as the end of the chunked body. sse-starlette
    3.7 ends such a body itself (an empty last chunk), which this replaces with the `stopping` event;
    earlier releases left it unended, and this sends it. A stream whose events ran out (the job's end)
    ends as the library ends it, and one whose client went away gets nothing more."""

    def __init__(self, content: AsyncGenerator[dict[str, str], None], job_id: str) -> None:
        self.exhausted = False
        super().__init__(self._watched(content), ping=10)
        self.job_id = job_id

    async def _watched(self, content: AsyncGenerator[dict[str, str], None]) -> AsyncIterator[dict[str, str]]:
        async with contextlib.aclosing(content):  # cut short: the job's listener goes at once
            async for event in content:
                yield event
        self.exhausted = True

    def _stopping(self) -> bytes:
        message = "the gateway is stopping; the job goes on when it is back: open this stream again"
        data = json.dumps({"job_id": self.job_id, "message": message})
        return ServerSentEvent(data=data, event="stopping", retry=RECONNECT_MS).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = ended = gone = False

        async def watched_receive() -> Message:
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started, ended
            started = started or message["type"] == "http.response.start"
            if message["type"] == "http.response.body" and not message.get("more_body"):
                ended = True
                if not self.exhausted and scope["method"] != "HEAD":  # the stop ended it, not the job
                    message = {**message, "body": message.get("body", b"") + self._stopping()}
            await send(message)

        await super().__call__(scope, watched_receive, watched_send)
        if ended or gone:
            return
        with contextlib.suppress(OSError):  # the client may be gone by now
            if not started:
                await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": self._stopping(), "more_body": False})


@router.get("/v1/jobs/{job_id}/events", responses=ERRORS)
async def job_events(job_id: str, gw: GatewayDep, owner: OwnerDep) -> EventSourceResponse:
    """Server-sent events: one `page` event per finished page, then one `job` event at the end; or,
    when the gateway stops first, one `stopping` event (`JobEventStream`): open the stream again."""
    owned_job(gw, job_id, owner)

    async def stream() -> AsyncGenerator[dict[str, str], None]:
        async for event in gw.runner.events(job_id):
            yield {"event": event.event, "data": event.model_dump_json()}

    return JobEventStream(stream(), job_id)


@router.delete(
    "/v1/jobs/{job_id}",
    response_model=JobStatus,
    responses={**ERRORS, 204: {"description": "the job had ended: deleted, with its upload and results"}},
)
async def cancel_or_delete_job(job_id: str, gw: GatewayDep, owner: OwnerDep) -> JobStatus | Response:
    """A queued or running job is cancelled: 200 with its status (its data stays until it expires). An
    ended job (completed, failed, cancelled) is deleted at once with its upload, results and page
    truths: 204, and the job is 404 from then on. So two DELETEs remove a running job now."""
    job = owned_job(gw, job_id, owner)
    if job.status in FINAL and await anyio.to_thread.run_sync(gw.store.delete_ended, job_id):
        return Response(status_code=204)
    await gw.runner.cancel(job_id)
    return job_status(gw.store, owned_job(gw, job_id, owner))
