"""The records a job store takes and gives back: a new job, a stored job, a page to run, a page's outcome.

A job's state is `ocrgate.schema.JobState` (`queued -> running -> completed | failed`, or `cancelled`);
each of its pages, one per (backend, page index), moves `queued -> running -> done | failed` (`PageState`),
or becomes `cancelled` with its job (queued and running pages alike). Only a queued or running page of a
queued or running job changes: a result or failure that arrives for a page already settled (cancelled,
failed by the watchdog) is dropped.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from ocrgate.schema import JobState, TextLayerMode

PageState = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE: tuple[JobState, ...] = ("queued", "running")  # the job states a (restarted) gateway still works on


def new_job_id() -> str:
    """An unguessable job id (144 random bits, URL-safe)."""
    return secrets.token_urlsafe(18)


class NewJob(BaseModel):
    """Everything `JobStore.create_job` needs: the upload and how to read it."""

    model_config = ConfigDict(frozen=True)

    data: bytes = Field(description="the uploaded file, stored as it came")
    name: str = Field(description="the file's name, as the client gave it")
    media_type: str = Field(description="the file's detected media type, e.g. application/pdf")
    backends: list[str] = Field(description="backends to run every page on, in the client's order")
    options: dict[str, Any] = Field(default_factory=dict, description="checked request options for them")
    boxes: str = Field(description="which pages get a boxes picture (`ocrgate.render.BoxesMode`)")
    page_count: int = Field(description="pages in the document; the store makes one task per backend each")
    owner: str | None = Field(default=None, description="the API key's owner; None without keys")
    ttl_s: float = Field(description="seconds from creation until the job and its input are deleted")
    dpi: int | None = Field(default=None, description="rasterisation resolution for PDF pages; None: default")
    text_layer: TextLayerMode = Field(default="auto", description="PDF text layers: auto | never | only")
    backend_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="backend name -> its own options, merged over `options` for it"
    )
    page_names: list[str] = Field(
        default_factory=list, description="a set of several files: each page's name (file, and page in it)"
    )

    def record(self, job_id: str, now: float) -> JobRecord:
        """The job as stored: `queued`, created and updated at `now` (Unix seconds), expires `ttl_s` later."""
        return JobRecord(
            id=job_id, status="queued", name=self.name, media_type=self.media_type,
            backends=list(self.backends), options=dict(self.options), boxes=self.boxes,
            page_count=self.page_count, owner=self.owner, dpi=self.dpi, text_layer=self.text_layer,
            backend_options={k: dict(v) for k, v in self.backend_options.items()},
            page_names=list(self.page_names),
            created_at=now, updated_at=now, expires_at=now + self.ttl_s,
        )  # fmt: skip


class JobRecord(BaseModel):
    """A stored job (its pages are kept apart); times are Unix seconds."""

    id: str
    status: JobState
    name: str
    media_type: str
    backends: list[str]
    options: dict[str, Any] = Field(default_factory=dict)
    boxes: str
    page_count: int
    owner: str | None = None
    dpi: int | None = None
    text_layer: TextLayerMode = "auto"
    created_at: float
    updated_at: float
    expires_at: float
    error: str | None = None
    backend_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    page_names: list[str] = Field(default_factory=list)

    def page_name(self, index: int) -> str | None:
        """Page `index`'s name in a set of several files (`Page.page_name`); None for one file's pages."""
        return self.page_names[index] if index < len(self.page_names) else None


class PageTask(BaseModel):
    """A queued page: run page `index` on `backend`; `attempts` already failed."""

    backend: str
    index: int
    attempts: int


class PageKey(NamedTuple):
    """One page of one backend of one job: what the runner tracks while it is in flight."""

    job_id: str
    backend: str
    index: int


class PageOutcome(BaseModel):
    """Where one page of one backend stands; `result_json` is the rendered page once it is `done`."""

    index: int
    status: PageState
    result_json: str | None = None
    error: str | None = None
    attempts: int = 0


class PageTruth(BaseModel):
    """A person's reading of one page of a job (ground truth), kept with the job; times are Unix seconds."""

    index: int = Field(ge=0, description="0-based page of the job")
    text: str = Field(description="the page's text as it should read (plain text, lines as on the page)")
    backend: str | None = Field(default=None, description="whose reading it was corrected from, if any")
    updated_at: float
