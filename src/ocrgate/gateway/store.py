"""The job store's interface, and the one place that picks SQLite (one gateway) or PostgreSQL (several)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ocrgate.errors import StorageError
from ocrgate.gateway.jobs import JobRecord, JobStore, PageOutcome, PageTask
from ocrgate.schema import JobProgress

if TYPE_CHECKING:
    from ocrgate.config import GatewayConfig


class JobStoreAPI(Protocol):
    """What the gateway needs from a job store; `JobStore` (SQLite) and `PostgresJobStore` provide it.

    Every method is synchronous and safe to call from several threads at once.
    """

    def create_job(
        self,
        *,
        data: bytes,
        name: str,
        media_type: str,
        backends: list[str],
        options: dict,
        boxes: str,
        page_count: int,
        owner: str | None,
        ttl_s: float,
    ) -> JobRecord: ...

    def get_job(self, job_id: str, owner: str | None = None) -> JobRecord | None: ...

    def load_job(self, job_id: str) -> JobRecord | None: ...

    def list_jobs(self, owner: str | None, limit: int = 50) -> list[JobRecord]: ...

    def input_bytes(self, job_id: str) -> bytes: ...

    def unfinished_jobs(self) -> list[str]: ...

    def requeue_running_pages(self, job_id: str) -> int: ...

    def queued_pages(self, job_id: str) -> list[PageTask]: ...

    def mark_running(self, job_id: str, backend: str, index: int) -> bool: ...

    def save_page(self, job_id: str, backend: str, index: int, result_json: str) -> None: ...

    def fail_attempt(self, job_id: str, backend: str, index: int, reason: str, max_attempts: int) -> str: ...

    def page_results(self, job_id: str, backend: str) -> list[PageOutcome]: ...

    def progress(self, job_id: str) -> dict[str, JobProgress]: ...

    def finish_if_complete(self, job_id: str) -> str | None: ...

    def cancel(self, job_id: str) -> bool: ...

    def delete_expired(self, now: float | None = None) -> int: ...

    def close(self) -> None: ...


def open_store(gateway: GatewayConfig) -> JobStoreAPI:
    """The store `[gateway] job_store` names: SQLite under `data_dir`, or PostgreSQL at `database_url`."""
    if gateway.job_store == "sqlite":
        return JobStore(Path(gateway.data_dir))
    if not gateway.database_url:
        raise StorageError('job_store = "postgres" needs [gateway] database_url (postgresql://...)')
    try:
        from ocrgate.gateway.jobs_postgres import PostgresJobStore
    except ImportError as exc:  # psycopg is an optional extra
        raise StorageError(
            f"the PostgreSQL job store needs psycopg: pip install 'ocrgate[postgres]' ({exc})"
        ) from exc
    return PostgresJobStore(gateway.database_url)
