"""Durable jobs in SQLite: one file (WAL) holds job and page state, one directory per job holds its input.

Each (backend, page) is a row moving `queued -> running -> done | failed`; a failed attempt goes back to
`queued` until it runs out of attempts. After a restart or a kill, `unfinished_jobs` plus
`requeue_running_pages` let the new gateway pick up where the old one stopped. One gateway owns the
file, so every `running` page is this gateway's (or a dead predecessor's).

The tables and their migrations (the schema's version is the file's `user_version`) are in
`sqlite_schema`.
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
from typing import Any

from ocrgate.errors import NotFound, StorageError
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
from ocrgate.jobs.sqlite_schema import SCHEMA_VERSION as SCHEMA_VERSION
from ocrgate.jobs.sqlite_schema import create_schema
from ocrgate.schema import JobProgress

BUSY_TIMEOUT_MS = 5000
ORPHAN_GRACE_S = 3600.0  # an input directory with no job row (kill inside create_job) lives this long

_PAGE_KEY = "job_id = ? AND backend = ? AND idx = ?"
_OPEN = ("queued", "running")  # the page states a result or a failure may still change


class SQLiteJobStore:
    """Jobs in `data_dir/jobs.sqlite3`, inputs in `data_dir/jobs/<id>/input`; safe to share across threads."""

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
        with self._locked() as db:  # per-connection pragmas; journal_mode=WAL also sticks to the file
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
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:  # disk full, read-only file system, corrupt file, ...
                raise StorageError(f"job store error: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error."""
        with self._locked() as db:
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

    @staticmethod
    def _record(row: sqlite3.Row) -> JobRecord:
        return JobRecord(**job_fields(row))

    @staticmethod
    def _page_row(db: sqlite3.Connection, job_id: str, backend: str, index: int) -> sqlite3.Row:
        sql = (
            "SELECT p.status, p.attempts, j.status AS job_status FROM pages p JOIN jobs j ON j.id = p.job_id"
            " WHERE p.job_id = ? AND p.backend = ? AND p.idx = ?"
        )
        row = db.execute(sql, (job_id, backend, index)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id!r} has no page {index} for backend {backend!r}")
        return row

    @staticmethod
    def _set_page(db: sqlite3.Connection, key: tuple[str, str, int], **cols: Any) -> None:
        now = time.time()
        assignments = ", ".join(f"{name} = ?" for name in cols)
        db.execute(
            f"UPDATE pages SET {assignments}, updated_at = ? WHERE {_PAGE_KEY}", (*cols.values(), now, *key)
        )
        db.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (now, key[0]))

    # -- jobs -------------------------------------------------------------------------------------------

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
        row = job_row(record)
        pages = [(job_id, b, index, now) for b in record.backends for index in range(record.page_count)]
        try:
            with self._tx() as db:
                columns = ", ".join(row)
                db.execute(
                    f"INSERT INTO jobs ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
                )
                db.executemany(
                    "INSERT INTO pages (job_id, backend, idx, status, attempts, updated_at)"
                    " VALUES (?, ?, ?, 'queued', 0, ?)",
                    pages,
                )
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        return record

    def get_job(self, job_id: str, owner: str | None = None) -> JobRecord | None:
        """The job, if it exists and belongs to `owner` (`None` sees only jobs created without an owner)."""
        with self._locked() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ? AND owner IS ?", (job_id, owner)).fetchone()
        return self._record(row) if row else None

    def load_job(self, job_id: str) -> JobRecord | None:
        """The job whoever owns it: for the gateway's own use (the runner), never for answering a client."""
        with self._locked() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._record(row) if row else None

    def list_jobs(self, owner: str | None, limit: int = 50) -> list[JobRecord]:
        sql = "SELECT * FROM jobs WHERE owner IS ? ORDER BY created_at DESC, rowid DESC LIMIT ?"
        with self._locked() as db:
            rows = db.execute(sql, (owner, limit)).fetchall()
        return [self._record(row) for row in rows]

    def input_bytes(self, job_id: str) -> bytes:
        try:
            return (self._job_dir(job_id) / "input").read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no input stored for job {job_id!r}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read the input of job {job_id!r}: {exc}") from exc

    def unfinished_jobs(self) -> list[str]:
        """Ids of queued or running jobs, oldest first: what a restarted gateway must resume."""
        with self._locked() as db:
            rows = db.execute("SELECT id FROM jobs WHERE status IN (?, ?) ORDER BY created_at, rowid", ACTIVE)
            return [row["id"] for row in rows]

    def requeue_running_pages(self, job_id: str) -> int:
        """Pages left `running` by a dead gateway go back to `queued` (attempts kept); returns how many."""
        now = time.time()
        with self._tx() as db:
            sql = "UPDATE pages SET status = 'queued', updated_at = ? WHERE job_id = ? AND status = 'running'"
            return db.execute(sql, (now, job_id)).rowcount

    def release_pages(self, job_id: str, pages: list[tuple[str, int]]) -> int:
        """These `running` pages back to `queued`, attempts kept (abandoned work); returns how many."""
        now = time.time()
        sql = f"UPDATE pages SET status = 'queued', updated_at = ? WHERE {_PAGE_KEY} AND status = 'running'"
        with self._tx() as db:
            return sum(db.execute(sql, (now, job_id, backend, index)).rowcount for backend, index in pages)

    def stale_pages(self, before: float) -> list[PageKey]:
        """`running` pages of active jobs unchanged since `before` (every running page is this gateway's)."""
        sql = (
            "SELECT p.job_id, p.backend, p.idx FROM pages p JOIN jobs j ON j.id = p.job_id"
            " WHERE p.status = 'running' AND p.updated_at < ? AND j.status IN (?, ?)"
        )
        with self._locked() as db:
            rows = db.execute(sql + " ORDER BY j.created_at, p.idx", (before, *ACTIVE)).fetchall()
        return [PageKey(r["job_id"], r["backend"], r["idx"]) for r in rows]

    # -- pages ------------------------------------------------------------------------------------------

    def queued_pages(self, job_id: str) -> list[PageTask]:
        sql = "SELECT backend, idx, attempts FROM pages WHERE job_id = ? AND status = 'queued'"
        with self._locked() as db:
            rows = db.execute(sql + " ORDER BY idx, backend", (job_id,)).fetchall()
        return [PageTask(backend=r["backend"], index=r["idx"], attempts=r["attempts"]) for r in rows]

    def mark_running(self, job_id: str, backend: str, index: int) -> bool:
        """Claim a queued page (and start its job); False when the page was not queued (taken, cancelled)."""
        with self._tx() as db:
            if self._page_row(db, job_id, backend, index)["status"] != "queued":
                return False
            self._set_page(db, (job_id, backend, index), status="running")
            db.execute("UPDATE jobs SET status = 'running' WHERE id = ? AND status = 'queued'", (job_id,))
        return True

    def save_page(self, job_id: str, backend: str, index: int, result_json: str) -> bool:
        """Store the page's result, unless it came too late (page settled, job cancelled): then False."""
        with self._tx() as db:
            row = self._page_row(db, job_id, backend, index)
            if row["status"] not in _OPEN or row["job_status"] not in ACTIVE:
                return False
            self._set_page(db, (job_id, backend, index), status="done", result_json=result_json, error=None)
        return True

    def fail_attempt(self, job_id: str, backend: str, index: int, reason: str, max_attempts: int) -> str:
        """Count a failed attempt: the page is requeued, or `failed` once it used up `max_attempts`.

        A page already settled (done, failed, cancelled) is left as it is; returns the page's status.
        """
        with self._tx() as db:
            row = self._page_row(db, job_id, backend, index)
            if row["status"] not in _OPEN:
                return str(row["status"])
            attempts = row["attempts"] + 1
            if attempts >= max_attempts:
                status = "failed"
            else:  # a cancelled job's page is not worth another try
                status = "cancelled" if row["job_status"] == "cancelled" else "queued"
            self._set_page(db, (job_id, backend, index), status=status, attempts=attempts, error=reason)
        return status

    def page_results(self, job_id: str, backend: str) -> list[PageOutcome]:
        sql = "SELECT idx, status, result_json, error, attempts FROM pages WHERE job_id = ? AND backend = ?"
        with self._locked() as db:
            rows = db.execute(sql + " ORDER BY idx", (job_id, backend)).fetchall()
        return [PageOutcome(**dict(r) | {"index": r["idx"]}) for r in rows]

    def progress(self, job_id: str) -> dict[str, JobProgress]:
        """Page counts per backend (cancelled pages count only in `total`)."""
        with self._locked() as db:
            job = db.execute("SELECT backends FROM jobs WHERE id = ?", (job_id,)).fetchone()
            sql = "SELECT backend, status, COUNT(*) AS n FROM pages WHERE job_id = ? GROUP BY backend, status"
            rows = db.execute(sql, (job_id,)).fetchall()
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return count_progress(job["backends"], rows)

    def finish_if_complete(self, job_id: str) -> str | None:
        """Settle a job none of whose pages is queued or running as `completed` or `failed`.

        Returns the job's status once it is terminal (a cancelled job is left as it is), else None.
        """
        with self._tx() as db:
            job = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if job is None:
                raise NotFound(f"no job {job_id!r}")
            if job["status"] not in ACTIVE:
                return str(job["status"])
            sql = "SELECT status, COUNT(*) FROM pages WHERE job_id = ? GROUP BY status"
            counts: dict[str, int] = dict(db.execute(sql, (job_id,)).fetchall())
            if counts.get("queued") or counts.get("running"):
                return None
            status, error = "completed", None
            if counts.get("failed", 0):
                sql = "SELECT backend, idx, error FROM pages WHERE job_id = ? AND status = 'failed'"
                first = db.execute(sql + " ORDER BY idx, backend", (job_id,)).fetchone()
                status, error = "failed", failure_summary(counts, first)
            sql = "UPDATE jobs SET status = ?, error = ?, updated_at = ? WHERE id = ?"
            db.execute(sql, (status, error, time.time(), job_id))
        return status

    def cancel(self, job_id: str) -> bool:
        """A queued or running job becomes `cancelled`, and so do its queued and running pages (work in
        flight is abandoned: its result is dropped when it comes); False if the job was not active."""
        now = time.time()
        with self._tx() as db:
            sql = "UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE id = ? AND status IN (?, ?)"
            if not db.execute(sql, (now, job_id, *ACTIVE)).rowcount:
                return False
            sql = (
                "UPDATE pages SET status = 'cancelled', updated_at = ?"
                " WHERE job_id = ? AND status IN ('queued', 'running')"
            )
            db.execute(sql, (now, job_id))
        return True

    # -- ground truth -----------------------------------------------------------------------------------

    def set_truth(self, job_id: str, index: int, text: str, backend: str | None) -> PageTruth:
        """Keep `text` as page `index`'s truth (replacing any); NotFound when the job is gone."""
        now = time.time()
        with self._tx() as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise NotFound(f"no job {job_id!r}")
            db.execute(
                "INSERT INTO truths (job_id, idx, text, backend, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (job_id, idx) DO UPDATE SET text = excluded.text, backend = excluded.backend,"
                " updated_at = excluded.updated_at",
                (job_id, index, text, backend, now),
            )
        return PageTruth(index=index, text=text, backend=backend, updated_at=now)

    def truths(self, job_id: str) -> list[PageTruth]:
        """The job's page truths, by page."""
        with self._locked() as db:
            rows = db.execute("SELECT * FROM truths WHERE job_id = ? ORDER BY idx", (job_id,)).fetchall()
        return [truth_of(row) for row in rows]

    def delete_truth(self, job_id: str, index: int) -> bool:
        """Forget page `index`'s truth; False when it had none."""
        with self._tx() as db:
            return bool(
                db.execute("DELETE FROM truths WHERE job_id = ? AND idx = ?", (job_id, index)).rowcount
            )

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
