"""Durable jobs in PostgreSQL: the SQLite store's semantics, shareable by several gateway processes.

Four tables: `ocrgate_jobs`, `ocrgate_pages` (one row per backend and page, `queued -> running -> done |
failed`), `ocrgate_inputs` (the upload as bytea: gateways need not share a disk) and `ocrgate_truths` (a
person's reading of a page, kept with its job), created and migrated by `postgres_schema`.

Concurrency. Every write transaction takes its job's row lock first (`SELECT ... FOR NO KEY UPDATE`, or the
UPDATE of that row), then touches pages: writes to one job are serialised across all gateways, always in
the same order, so they cannot deadlock, and `finish_if_complete` counts pages nobody else is changing. A
page is claimed by `UPDATE ... WHERE status = 'queued'`: of several gateways racing, exactly one wins.

Liveness. Each store holds a session advisory lock (its lease) on a connection of its own and stamps the
pages it claims with the lease's key. `requeue_running_pages` puts back only pages whose claimer's lease
is gone (its gateway died or closed the store), never pages a live gateway is working on; the same rule
keeps another gateway's pages out of `stale_pages`, and `release_pages` moves only this store's own.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ocrgate.errors import NotFound, StorageError
from ocrgate.jobs.postgres_schema import SCHEMA_VERSION as SCHEMA_VERSION
from ocrgate.jobs.postgres_schema import create_schema
from ocrgate.jobs.records import (
    ACTIVE,
    JobRecord,
    NewJob,
    PageKey,
    PageOutcome,
    PageTask,
    PageTruth,
    new_job_id,
)
from ocrgate.jobs.rows import count_progress, failure_summary, job_fields, job_row, truth_of
from ocrgate.schema import JobProgress

TIMEOUT_S = 10.0  # to connect, and to wait for a free pooled connection
KEEPALIVE = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}

_COLUMNS = ", ".join(JobRecord.model_fields)
_PAGE_KEY = "job_id = %s AND backend = %s AND idx = %s"
_ACTIVE_SQL = "status IN ('queued', 'running')"
_OPEN = ("queued", "running")  # the page states a result or a failure may still change
# the keys of the leases held right now: what a bigint advisory lock shows in pg_locks
_LIVE_LEASES = (
    "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _where(url: str) -> str:
    """host:port/dbname of a libpq URL, without its password, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "(an invalid database_url)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def _owned(owner: str | None) -> tuple[str, tuple[str, ...]]:
    """The owner condition: `owner IS NULL` for keyless jobs, equality (which uses the index) otherwise."""
    return ("owner IS NULL", ()) if owner is None else ("owner = %s", (owner,))


class PostgresJobStore:
    """Jobs in the PostgreSQL database at `url` (libpq URL); safe across threads and across processes."""

    def __init__(self, url: str, *, max_connections: int = 4, timeout_s: float = TIMEOUT_S) -> None:
        self.where = _where(url)
        self.lease = secrets.randbits(62)  # stamps this store's claims; held as an advisory lock
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=timeout_s,
            kwargs={"autocommit": True, "row_factory": dict_row},
            check=ConnectionPool.check_connection,
            num_workers=1,
            name="ocrgate-jobs",
        )
        self._lease_conn: psycopg.Connection[Any] | None = None
        try:
            self._pool.open(wait=True, timeout=timeout_s)
            self._lease_conn = psycopg.connect(url, autocommit=True, connect_timeout=int(timeout_s))
            for name, value in KEEPALIVE.items():  # so a vanished gateway host loses its lease in ~1 min
                self._lease_conn.execute(f"SET {name} = {int(value)}")
            self._lease_conn.execute("SELECT pg_advisory_lock(%s)", (self.lease,))
            self._create_schema()
        except (psycopg.Error, StorageError) as exc:
            self.close()
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"cannot open the PostgreSQL job store at {self.where}: {exc}") from exc

    # -- plumbing ---------------------------------------------------------------------------------------

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:  # server gone, connection killed, pool exhausted, disk full, ...
            raise StorageError(f"job store error ({self.where}): {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction, committed at the end, rolled back on any error (nothing half-written)."""
        with self._conn() as conn, conn.transaction():
            yield conn

    def _create_schema(self) -> None:
        with self._tx() as db:
            create_schema(db, self.where)

    @staticmethod
    def _lock_job(db: psycopg.Connection[Any], job_id: str) -> str | None:
        """Lock the job's row for this transaction (the first lock every write takes); its status."""
        row = db.execute(
            "SELECT status FROM ocrgate_jobs WHERE id = %s FOR NO KEY UPDATE", (job_id,)
        ).fetchone()
        return None if row is None else str(row["status"])

    @staticmethod
    def _page(db: psycopg.Connection[Any], job_id: str, backend: str, index: int) -> dict[str, Any]:
        sql = f"SELECT status, attempts FROM ocrgate_pages WHERE {_PAGE_KEY}"
        row = db.execute(sql, (job_id, backend, index)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id!r} has no page {index} for backend {backend!r}")
        return row

    @staticmethod
    def _set_page(db: psycopg.Connection[Any], key: tuple[str, str, int], **cols: Any) -> None:
        now = time.time()
        assignments = ", ".join(f"{name} = %s" for name in cols)
        sql = f"UPDATE ocrgate_pages SET {assignments}, updated_at = %s WHERE {_PAGE_KEY}"
        if not db.execute(sql, (*cols.values(), now, *key)).rowcount:
            raise NotFound(f"job {key[0]!r} has no page {key[2]} for backend {key[1]!r}")
        db.execute("UPDATE ocrgate_jobs SET updated_at = %s WHERE id = %s", (now, key[0]))

    # -- jobs -------------------------------------------------------------------------------------------

    def create_job(self, job: NewJob) -> JobRecord:
        """Write the job, its pages and its input in one transaction: all of it or none."""
        job_id, now = new_job_id(), time.time()
        record = job.record(job_id, now)
        row = job_row(record)
        with self._tx() as db:
            db.execute(
                f"INSERT INTO ocrgate_jobs ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                tuple(row.values()),
            )
            db.execute(
                "INSERT INTO ocrgate_pages (job_id, backend, idx, status, attempts, updated_at)"
                " SELECT %s, b.backend, i, 'queued', 0, %s"
                " FROM unnest(%s::text[]) WITH ORDINALITY AS b (backend, n), generate_series(0, %s - 1) AS i"
                " ORDER BY b.n, i",
                (job_id, now, record.backends, record.page_count),
            )
            db.execute("INSERT INTO ocrgate_inputs (job_id, data) VALUES (%s, %b)", (job_id, job.data))
        return record

    def get_job(self, job_id: str, owner: str | None = None) -> JobRecord | None:
        """The job, if it exists and belongs to `owner` (`None` sees only jobs created without an owner)."""
        clause, params = _owned(owner)
        with self._conn() as db:
            sql = f"SELECT {_COLUMNS} FROM ocrgate_jobs WHERE id = %s AND {clause}"
            row = db.execute(sql, (job_id, *params)).fetchone()
        return JobRecord(**job_fields(row)) if row else None

    def load_job(self, job_id: str) -> JobRecord | None:
        """The job whoever owns it: for the gateway's own use (the runner), never for answering a client."""
        with self._conn() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM ocrgate_jobs WHERE id = %s", (job_id,)).fetchone()
        return JobRecord(**job_fields(row)) if row else None

    def list_jobs(self, owner: str | None, limit: int = 50) -> list[JobRecord]:
        clause, params = _owned(owner)
        sql = (
            f"SELECT {_COLUMNS} FROM ocrgate_jobs WHERE {clause} ORDER BY created_at DESC, seq DESC LIMIT %s"
        )
        with self._conn() as db:
            rows = db.execute(sql, (*params, limit)).fetchall()
        return [JobRecord(**job_fields(row)) for row in rows]

    def input_bytes(self, job_id: str) -> bytes:
        with self._conn() as db:
            sql = "SELECT data FROM ocrgate_inputs WHERE job_id = %s"
            row = db.execute(sql, (job_id,), binary=True).fetchone()
        if row is None:
            raise NotFound(f"no input stored for job {job_id!r}")
        return bytes(row["data"])

    def unfinished_jobs(self) -> list[str]:
        """Ids of queued or running jobs, oldest first: what a restarted gateway must resume."""
        with self._conn() as db:
            sql = f"SELECT id FROM ocrgate_jobs WHERE {_ACTIVE_SQL} ORDER BY created_at, seq"
            return [row["id"] for row in db.execute(sql)]

    def requeue_running_pages(self, job_id: str) -> int:
        """Pages left `running` by a dead gateway go back to `queued` (attempts kept); returns how many.

        A page whose claimer's lease is still held (a live gateway, this one included) stays running.
        """
        with self._tx() as db:
            if self._lock_job(db, job_id) is None:
                return 0
            sql = (
                "UPDATE ocrgate_pages SET status = 'queued', claimed_by = NULL, updated_at = %s"
                " WHERE job_id = %s AND status = 'running'"
                f" AND (claimed_by IS NULL OR claimed_by NOT IN ({_LIVE_LEASES}))"
            )
            return db.execute(sql, (time.time(), job_id)).rowcount

    def release_pages(self, job_id: str, pages: list[tuple[str, int]]) -> int:
        """This store's `running` pages back to `queued`, attempts kept (abandoned work); how many moved."""
        sql = (
            "UPDATE ocrgate_pages SET status = 'queued', claimed_by = NULL, updated_at = %s"
            f" WHERE {_PAGE_KEY} AND status = 'running' AND (claimed_by = %s OR claimed_by IS NULL)"
        )
        now = time.time()
        with self._tx() as db:
            if self._lock_job(db, job_id) is None:
                return 0
            moved = [db.execute(sql, (now, job_id, b, i, self.lease)).rowcount for b, i in pages]
        return sum(moved)

    def stale_pages(self, before: float) -> list[PageKey]:
        """`running` pages of active jobs unchanged since `before`, claimed by this store or a gone one."""
        sql = (
            "SELECT p.job_id, p.backend, p.idx FROM ocrgate_pages p JOIN ocrgate_jobs j ON j.id = p.job_id"
            " WHERE p.status = 'running' AND p.updated_at < %s AND j.status IN ('queued', 'running')"
            f" AND (p.claimed_by IS NULL OR p.claimed_by = %s OR p.claimed_by NOT IN ({_LIVE_LEASES}))"
            " ORDER BY j.created_at, p.idx"
        )
        with self._conn() as db:
            rows = db.execute(sql, (before, self.lease)).fetchall()
        return [PageKey(r["job_id"], r["backend"], r["idx"]) for r in rows]

    # -- pages ------------------------------------------------------------------------------------------

    def queued_pages(self, job_id: str) -> list[PageTask]:
        sql = "SELECT backend, idx, attempts FROM ocrgate_pages WHERE job_id = %s AND status = 'queued'"
        with self._conn() as db:
            rows = db.execute(sql + " ORDER BY idx, backend", (job_id,)).fetchall()
        return [PageTask(backend=r["backend"], index=r["idx"], attempts=r["attempts"]) for r in rows]

    def mark_running(self, job_id: str, backend: str, index: int) -> bool:
        """Claim a queued page (and start its job); False when the page was not queued (taken, cancelled).

        Atomic across processes: the conditional UPDATE lets exactly one of several claimers through.
        """
        now = time.time()
        with self._tx() as db:
            self._lock_job(db, job_id)
            sql = (
                "UPDATE ocrgate_pages SET status = 'running', claimed_by = %s, updated_at = %s"
                f" WHERE {_PAGE_KEY} AND status = 'queued'"
            )
            if not db.execute(sql, (self.lease, now, job_id, backend, index)).rowcount:
                self._page(db, job_id, backend, index)  # NotFound for a page that does not exist
                return False
            db.execute(
                "UPDATE ocrgate_jobs SET updated_at = %s,"
                " status = CASE WHEN status = 'queued' THEN 'running' ELSE status END WHERE id = %s",
                (now, job_id),
            )
        return True

    def save_page(self, job_id: str, backend: str, index: int, result_json: str) -> bool:
        """Store the page's result, unless it came too late (page settled, job cancelled): then False."""
        with self._tx() as db:
            job_status = self._lock_job(db, job_id)
            page = self._page(db, job_id, backend, index)
            if page["status"] not in _OPEN or job_status not in ACTIVE:
                return False
            self._set_page(db, (job_id, backend, index), status="done", result_json=result_json, error=None)
        return True

    def fail_attempt(self, job_id: str, backend: str, index: int, reason: str, max_attempts: int) -> str:
        """Count a failed attempt: the page is requeued, or `failed` once it used up `max_attempts`.

        A page already settled (done, failed, cancelled) is left as it is; returns the page's status.
        """
        with self._tx() as db:
            job_status = self._lock_job(db, job_id)
            page = self._page(db, job_id, backend, index)
            if page["status"] not in _OPEN:
                return str(page["status"])
            attempts = page["attempts"] + 1
            if attempts >= max_attempts:
                status = "failed"
            else:  # a cancelled job's page is not worth another try
                status = "cancelled" if job_status == "cancelled" else "queued"
            self._set_page(db, (job_id, backend, index), status=status, attempts=attempts, error=reason)
        return status

    def page_results(self, job_id: str, backend: str) -> list[PageOutcome]:
        sql = "SELECT idx, status, result_json, error, attempts FROM ocrgate_pages WHERE job_id = %s"
        with self._conn() as db:
            rows = db.execute(sql + " AND backend = %s ORDER BY idx", (job_id, backend)).fetchall()
        return [PageOutcome(**r, index=r["idx"]) for r in rows]

    def progress(self, job_id: str) -> dict[str, JobProgress]:
        """Page counts per backend (cancelled pages count only in `total`)."""
        sql = (  # one statement: one snapshot of the job and its pages
            "SELECT j.backends, p.backend, p.status, COUNT(p.idx) AS n FROM ocrgate_jobs j"
            " LEFT JOIN ocrgate_pages p ON p.job_id = j.id WHERE j.id = %s"
            " GROUP BY j.backends, p.backend, p.status"
        )
        with self._conn() as db:
            rows = db.execute(sql, (job_id,)).fetchall()
        if not rows:
            raise NotFound(f"no job {job_id!r}")
        return count_progress(rows[0]["backends"], [r for r in rows if r["backend"] is not None])

    def finish_if_complete(self, job_id: str) -> str | None:
        """Settle a job none of whose pages is queued or running as `completed` or `failed`.

        Returns the job's status once it is terminal (a cancelled job is left as it is), else None.
        Race-free: the job's row lock keeps every page write of every gateway out while it counts.
        """
        with self._tx() as db:
            status = self._lock_job(db, job_id)
            if status is None:
                raise NotFound(f"no job {job_id!r}")
            if status not in ACTIVE:
                return status
            sql = "SELECT status, COUNT(*) AS n FROM ocrgate_pages WHERE job_id = %s GROUP BY status"
            counts = {r["status"]: r["n"] for r in db.execute(sql, (job_id,))}
            if counts.get("queued") or counts.get("running"):
                return None
            status, error = "completed", None
            if counts.get("failed"):
                sql = "SELECT backend, idx, error FROM ocrgate_pages WHERE job_id = %s AND status = 'failed'"
                first = db.execute(sql + " ORDER BY idx, backend LIMIT 1", (job_id,)).fetchone()
                status, error = "failed", failure_summary(counts, first)
            sql = "UPDATE ocrgate_jobs SET status = %s, error = %s, updated_at = %s WHERE id = %s"
            db.execute(sql, (status, error, time.time(), job_id))
        return status

    def cancel(self, job_id: str) -> bool:
        """A queued or running job becomes `cancelled`, and so do its queued and running pages (work in
        flight is abandoned: its result is dropped when it comes); False if the job was not active."""
        now = time.time()
        with self._tx() as db:  # the UPDATE takes the job's row lock first, as every write does
            sql = f"UPDATE ocrgate_jobs SET status = 'cancelled', updated_at = %s WHERE {_ACTIVE_SQL}"
            if not db.execute(sql + " AND id = %s", (now, job_id)).rowcount:
                return False
            sql = (
                "UPDATE ocrgate_pages SET status = 'cancelled', claimed_by = NULL, updated_at = %s"
                f" WHERE {_ACTIVE_SQL} AND job_id = %s"
            )
            db.execute(sql, (now, job_id))
        return True

    # -- ground truth -----------------------------------------------------------------------------------

    def set_truth(self, job_id: str, index: int, text: str, backend: str | None) -> PageTruth:
        """Keep `text` as page `index`'s truth (replacing any); NotFound when the job is gone."""
        now = time.time()
        with self._tx() as db:
            if self._lock_job(db, job_id) is None:
                raise NotFound(f"no job {job_id!r}")
            db.execute(
                "INSERT INTO ocrgate_truths (job_id, idx, text, backend, updated_at)"
                " VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (job_id, idx) DO UPDATE SET text = EXCLUDED.text, backend = EXCLUDED.backend,"
                " updated_at = EXCLUDED.updated_at",
                (job_id, index, text, backend, now),
            )
        return PageTruth(index=index, text=text, backend=backend, updated_at=now)

    def truths(self, job_id: str) -> list[PageTruth]:
        """The job's page truths, by page."""
        with self._conn() as db:
            rows = db.execute("SELECT * FROM ocrgate_truths WHERE job_id = %s ORDER BY idx", (job_id,))
            return [truth_of(row) for row in rows.fetchall()]

    def delete_truth(self, job_id: str, index: int) -> bool:
        """Forget page `index`'s truth; False when it had none."""
        with self._tx() as db:
            self._lock_job(db, job_id)
            sql = "DELETE FROM ocrgate_truths WHERE job_id = %s AND idx = %s"
            return bool(db.execute(sql, (job_id, index)).rowcount)

    # -- housekeeping -----------------------------------------------------------------------------------

    def delete_expired(self, now: float | None = None) -> int:
        """Delete jobs past `expires_at`, whatever their status, with their pages and input (cascade).

        A job another gateway is writing at this moment is skipped (SKIP LOCKED): the next sweep takes it.
        """
        now = time.time() if now is None else now
        sql = (
            "DELETE FROM ocrgate_jobs WHERE id IN"
            " (SELECT id FROM ocrgate_jobs WHERE expires_at <= %s FOR UPDATE SKIP LOCKED)"
        )
        with self._tx() as db:
            return db.execute(sql, (now,)).rowcount

    def close(self) -> None:
        """Close the pool, and give the lease up (this store's running pages become requeueable)."""
        self._pool.close()
        if self._lease_conn is not None:
            with suppress(psycopg.Error):  # unlock first: a closed connection's lock outlives close() a bit
                self._lease_conn.execute("SELECT pg_advisory_unlock_all()")
            self._lease_conn.close()
            self._lease_conn = None
