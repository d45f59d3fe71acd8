"""Durable jobs in PostgreSQL: the SQLite store's semantics, shareable by several gateway processes.

Four tables: `ocrgate_jobs`, `ocrgate_pages` (one row per backend and page, `queued -> running -> done |
failed`), `ocrgate_inputs` (the upload as bytea: gateways need not share a disk) and `ocrgate_truths` (a
person's reading of a page, kept with its job), created and migrated by `postgres_schema`. The statements
the SQLite store runs too are `ocrgate.jobs.sql`'s, written once; this module adds the connections, the
input as bytea, expiry and the claims.

Concurrency. Every write transaction takes its job's row lock first (`SELECT ... FOR NO KEY UPDATE`: the
dialect's `lock`, read by `SQLJobStore._job_status`; or the UPDATE of that row), then touches pages:
writes to one job are serialised across all gateways, always in the same order, so they cannot
deadlock, and `finish_if_complete` counts pages nobody else is changing. A page is claimed by
`UPDATE ... WHERE status = 'queued'`: of several gateways racing, exactly one wins.

Liveness. Each store holds a session advisory lock (its lease) on a connection of its own and stamps the
pages it claims with the lease's key (`claimed_by`: `_claim`). `requeue_running_pages` puts back only
pages whose claimer's lease is gone (its gateway died or closed the store), never pages a live gateway
is working on; the same rule keeps another gateway's pages out of `stale_pages`, and `release_pages`
moves only this store's own (`_claimers`).
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
from ocrgate.jobs.postgres_schema import DIALECT, create_schema
from ocrgate.jobs.postgres_schema import SCHEMA_VERSION as SCHEMA_VERSION
from ocrgate.jobs.records import JobRecord, NewJob, new_job_id
from ocrgate.jobs.sql import Claimers, SQLJobStore

TIMEOUT_S = 10.0  # to connect, and to wait for a free pooled connection
KEEPALIVE = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}

# the keys of the leases held right now: what a bigint advisory lock shows in pg_locks
_LIVE_LEASES = (
    "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
# whose running pages each rule lets through: `?` is this store's lease, `{p}` the page table's alias,
# `{live}` the live leases; `gone` is requeue_running_pages's, `mine` release_pages's, the last stale_pages's
_CLAIMERS: dict[Claimers, str] = {
    "gone": "{p}claimed_by IS NULL OR {p}claimed_by NOT IN ({live})",
    "mine": "{p}claimed_by = ? OR {p}claimed_by IS NULL",
    "mine or gone": "{p}claimed_by IS NULL OR {p}claimed_by = ? OR {p}claimed_by NOT IN ({live})",
}


def _where(url: str) -> str:
    """host:port/dbname of a libpq URL, without its password, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "(an invalid database_url)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


class PostgresJobStore(SQLJobStore):
    """Jobs in the PostgreSQL database at `url` (libpq URL); safe across threads and across processes."""

    dialect = DIALECT
    _UNCLAIM = ", claimed_by = NULL"

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
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit: each statement alone, unless inside `_tx`)."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:  # server gone, connection killed, pool exhausted, disk full, ...
            raise StorageError(f"job store error ({self.where}): {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction, committed at the end, rolled back on any error (nothing half-written)."""
        with self._connection() as conn, conn.transaction():
            yield conn

    def _create_schema(self) -> None:
        with self._tx() as db:
            create_schema(db, self.where)

    # -- claims: which gateway a running page is for -----------------------------------------------------

    def _claim(self) -> tuple[str, tuple[Any, ...]]:
        return ", claimed_by = ?", (self.lease,)

    def _claimers(self, rule: Claimers, alias: str = "") -> tuple[str, tuple[Any, ...]]:
        condition = _CLAIMERS[rule].replace("{p}", alias).replace("{live}", _LIVE_LEASES)
        return f" AND ({condition})", ((self.lease,) if "?" in condition else ())

    # -- jobs and their input ---------------------------------------------------------------------------

    def create_job(self, job: NewJob) -> JobRecord:
        """Write the job, its pages and its input in one transaction: all of it or none."""
        job_id, now = new_job_id(), time.time()
        record = job.record(job_id, now)
        with self._tx() as db:
            self._insert_job(db, record)
            db.execute(
                "INSERT INTO ocrgate_pages (job_id, backend, idx, status, attempts, updated_at)"
                " SELECT %s, b.backend, i, 'queued', 0, %s"
                " FROM unnest(%s::text[]) WITH ORDINALITY AS b (backend, n), generate_series(0, %s - 1) AS i"
                " ORDER BY b.n, i",
                (job_id, now, record.backends, record.page_count),
            )
            db.execute("INSERT INTO ocrgate_inputs (job_id, data) VALUES (%s, %b)", (job_id, job.data))
        return record

    def input_bytes(self, job_id: str) -> bytes:
        with self._connection() as db:
            sql = "SELECT data FROM ocrgate_inputs WHERE job_id = %s"
            row = db.execute(sql, (job_id,), binary=True).fetchone()
        if row is None:
            raise NotFound(f"no input stored for job {job_id!r}")
        return bytes(row["data"])

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
