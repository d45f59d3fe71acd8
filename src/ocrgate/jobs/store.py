"""The job store's interface, and the one place that picks SQLite (one gateway) or PostgreSQL (several)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ocrgate.errors import StorageError
from ocrgate.jobs.records import JobRecord, NewJob, PageKey, PageOutcome, PageTask, PageTruth
from ocrgate.jobs.sqlite import SQLiteJobStore
from ocrgate.schema import JobProgress

if TYPE_CHECKING:
    from ocrgate.config import GatewayConfig


class JobStore(Protocol):
    """What the gateway needs from a job store; `SQLiteJobStore` and `PostgresJobStore` provide it.

    Every method is synchronous and safe to call from several threads at once. Storage failures (disk
    full, server gone) raise `ocrgate.errors.StorageError`; a page that does not exist raises `NotFound`.
    """

    def create_job(self, job: NewJob) -> JobRecord:
        """Store the job, its input and one queued page per (backend, page): all of it or none."""
        ...

    def get_job(self, job_id: str, owner: str | None = None) -> JobRecord | None: ...

    def load_job(self, job_id: str) -> JobRecord | None: ...

    def list_jobs(self, owner: str | None, limit: int = 50) -> list[JobRecord]: ...

    def input_bytes(self, job_id: str) -> bytes: ...

    def unfinished_jobs(self) -> list[str]: ...

    def requeue_running_pages(self, job_id: str) -> int:
        """Pages left `running` by a gateway that is gone go back to `queued` (attempts kept)."""
        ...

    def release_pages(self, job_id: str, pages: list[tuple[str, int]]) -> int:
        """This gateway's `running` pages (backend, index) back to `queued`, no attempt counted: work it
        abandoned (its round was interrupted), not work that failed. Returns how many moved."""
        ...

    def stale_pages(self, before: float) -> list[PageKey]:
        """`running` pages of queued or running jobs unchanged since `before` (Unix seconds) whose
        claimer is this gateway or a gone one (never another live gateway's): what the watchdog checks."""
        ...

    def queued_pages(self, job_id: str) -> list[PageTask]: ...

    def mark_running(self, job_id: str, backend: str, index: int) -> bool: ...

    def save_page(self, job_id: str, backend: str, index: int, result_json: str) -> bool:
        """Store a page's result: only for a queued or running page of a queued or running job; False
        when it came too late (the job was cancelled, the page failed meanwhile) and was dropped."""
        ...

    def fail_attempt(self, job_id: str, backend: str, index: int, reason: str, max_attempts: int) -> str:
        """Count a failed attempt of a queued or running page: `queued` again, or `failed` once it used up
        `max_attempts`; a page already settled keeps its status. Returns the page's status."""
        ...

    def page_results(self, job_id: str, backend: str, index: int | None = None) -> list[PageOutcome]:
        """Where each page of `backend` stands, by page; only page `index` when given."""
        ...

    def progress(self, job_id: str) -> dict[str, JobProgress]: ...

    def finish_if_complete(self, job_id: str) -> str | None: ...

    def cancel(self, job_id: str) -> bool:
        """A queued or running job becomes `cancelled`, and so do its queued and running pages."""
        ...

    def delete_ended(self, job_id: str) -> bool:
        """Delete an ended job now, with its input, pages and truths; False when it is active or gone."""
        ...

    def set_truth(self, job_id: str, index: int, text: str, backend: str | None) -> PageTruth:
        """Keep a person's reading of page `index` with the job (replacing any); NotFound without the job."""
        ...

    def truths(self, job_id: str) -> list[PageTruth]: ...

    def delete_truth(self, job_id: str, index: int) -> bool: ...

    def delete_expired(self, now: float | None = None) -> int: ...

    def close(self) -> None: ...


def open_store(gateway: GatewayConfig) -> JobStore:
    """The store `[gateway] job_store` names: SQLite under `data_dir`, or PostgreSQL at `database_url`.

    Raises `StorageError` when the store cannot be opened (or psycopg, an optional extra, is missing).
    """
    if gateway.job_store == "sqlite":
        return SQLiteJobStore(Path(gateway.data_dir))
    if not gateway.database_url:
        raise StorageError('job_store = "postgres" needs [gateway] database_url (postgresql://...)')
    try:
        from ocrgate.jobs.postgres import PostgresJobStore
    except ImportError as exc:  # psycopg is an optional extra
        raise StorageError(
            f"the PostgreSQL job store needs psycopg: pip install 'ocrgate[postgres]' ({exc})"
        ) from exc
    return PostgresJobStore(gateway.database_url)
