"""Durable jobs in SQLite: one file (WAL) holds job and page state, one directory per job holds its input.

Each (backend, page) is a row moving `queued -> running -> done | failed`; a failed attempt goes back to
`queued` until it runs out of attempts. After a restart or a kill, `unfinished_jobs` plus
`requeue_running_pages` let the new gateway pick up where the old one stopped. One gateway owns the
file, so every `running` page is this gateway's (or a dead predecessor's): pages carry no claims.

Concurrency. The store has one connection, used under one lock by every thread, and every write is one
`BEGIN IMMEDIATE` transaction: writes never interleave, and a read sees no half-written transaction. The
statements themselves are `ocrgate.jobs.sql`'s, shared with the PostgreSQL store; the tables and their
migrations (the schema's version is the file's `user_version`) are in `sqlite_schema`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ocrgate.errors import NotFound, StorageError
from ocrgate.jobs.records import JobRecord, NewJob, new_job_id
from ocrgate.jobs.sql import SQLJobStore
from ocrgate.jobs.sqlite_schema import DIALECT, create_schema
from ocrgate.jobs.sqlite_schema import SCHEMA_VERSION as SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5000
ORPHAN_GRACE_S = 3600.0  # an input directory with no job row (kill inside create_job) lives this long


class SQLiteJobStore(SQLJobStore):
    """Jobs in `data_dir/jobs.sqlite3`, inputs in `data_dir/jobs/<id>/input`; safe to share across threads."""

    dialect = DIALECT

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.jobs_dir = self.data_dir / "jobs"
        self.db_path = self.data_dir / "jobs.sqlite3"
        self._lock = threading.Lock()
        try:
            self.jobs_dir.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the job store in {self.data_dir}: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        with self._connection() as db:  # per-connection pragmas; journal_mode=WAL also sticks to the file
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"the job store {self.db_path} cannot use WAL journaling (got {mode!r})")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
        with self._tx() as db:
            create_schema(db, self.db_path)

    # -- plumbing ---------------------------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The one connection, under the store's lock."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:  # disk full, read-only file system, corrupt file, ...
                raise StorageError(f"job store error: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # a failed COMMIT (disk full) can leave it open
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise

    def _job_dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or "\\" in job_id or job_id.startswith("."):
            raise NotFound(f"no job {job_id!r}")
        return self.jobs_dir / job_id

    @staticmethod
    def _write_input(job_dir: Path, data: bytes) -> None:
        """tmp file, fsync, rename, fsync the directory: the input is either whole or absent."""
        job_dir.mkdir(parents=True)
        tmp = job_dir / "input.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, job_dir / "input")
        dir_fd = os.open(job_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- jobs and their input ---------------------------------------------------------------------------

    def create_job(self, job: NewJob) -> JobRecord:
        """Write the input (fsynced), then the job and its pages in one transaction; on any failure
        neither remains. Raises `StorageError` (e.g. the disk is full)."""
        job_id = new_job_id()
        job_dir = self._job_dir(job_id)
        try:
            self._write_input(job_dir, job.data)
        except OSError as exc:
            shutil.rmtree(job_dir, ignore_errors=True)
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise StorageError(f"cannot store the upload of a new job ({reason}); try again later") from exc
        now = time.time()
        record = job.record(job_id, now)
        pages = [(job_id, b, index, now) for b in record.backends for index in range(record.page_count)]
        try:
            with self._tx() as db:
                self._insert_job(db, record)
                db.executemany(
                    "INSERT INTO pages (job_id, backend, idx, status, attempts, updated_at)"
                    " VALUES (?, ?, ?, 'queued', 0, ?)",
                    pages,
                )
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        return record

    def input_bytes(self, job_id: str) -> bytes:
        try:
            return (self._job_dir(job_id) / "input").read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no input stored for job {job_id!r}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read the input of job {job_id!r}: {exc}") from exc

    # -- housekeeping -----------------------------------------------------------------------------------

    def delete_expired(self, now: float | None = None) -> int:
        """Delete jobs past `expires_at`, whatever their status: rows first, then their directories."""
        now = time.time() if now is None else now
        with self._tx() as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM jobs WHERE expires_at <= ?", (now,))]
            db.executemany("DELETE FROM jobs WHERE id = ?", [(job_id,) for job_id in ids])
            known = {r["id"] for r in db.execute("SELECT id FROM jobs")}
        for job_id in ids:
            shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        self._sweep_orphans(known)
        return len(ids)

    def _sweep_orphans(self, known: set[str]) -> None:
        """Remove old input directories whose job row never got written (a kill inside `create_job`)."""
        cutoff = time.time() - ORPHAN_GRACE_S
        try:
            entries = [e for e in os.scandir(self.jobs_dir) if e.name not in known]
            for entry in entries:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass

    def close(self) -> None:
        with self._lock:
            self._conn.close()
