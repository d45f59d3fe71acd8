"""What the SQLite and PostgreSQL job stores share: every statement both run, written once, and the page
and job rules built on them (`SQLJobStore`; `move_dpi`, the schema 1 -> 2 data move), for a `Dialect`
that says how each database spells them (`sqlite_schema.DIALECT`, `postgres_schema.DIALECT`).

A statement is written with `?` placeholders and the names `{jobs}`, `{pages}`, `{truths}` (tables),
`{seq}` (the column that orders jobs created in the same instant) and `{lock}` (what a write transaction
adds to its read of the job's row); `Dialect.sql` turns it into the database's own text. A template holds
no other `?` and no `%` (a LIKE pattern is a parameter), so psycopg sees only its own `%s` placeholders.

A store subclass provides the connections (`_connection`: one for reads; `_tx`: one transaction, rolled
back on any error, storage errors raised as `StorageError`), the job's input (`create_job`,
`input_bytes`), expiry (`delete_expired`), `close`, and, where several gateways share the database, the
claim rules (`_claim`, `_UNCLAIM`, `_claimers`: which gateway a running page is for).

Every write transaction here reads its job's row first (`_job_status`, with the dialect's `{lock}`) or
updates that row first (`cancel`), and only then touches the job's pages or truths: where the database
locks rows (PostgreSQL), writes to one job are serialised and always take their locks in that order.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from ocrgate.errors import NotFound
from ocrgate.jobs.records import ACTIVE, JobRecord, NewJob, PageKey, PageOutcome, PageTask, PageTruth
from ocrgate.jobs.rows import count_progress, failure_summary, job_of, job_row, split_dpi, truth_of
from ocrgate.schema import JobProgress

Claimers = Literal["gone", "mine", "mine or gone"]

_COLUMNS = ", ".join(JobRecord.model_fields)
_PAGE_KEY = "job_id = ? AND backend = ? AND idx = ?"
_ACTIVE_SQL = f"status IN ({', '.join(repr(state) for state in ACTIVE)})"  # status IN ('queued', 'running')
_OPEN = ("queued", "running")  # the page states a result or a failure may still change


class Dialect(NamedTuple):
    """How one database spells the shared statements."""

    mark: str  # the parameter placeholder: "?" (sqlite3) or "%s" (psycopg)
    jobs: str  # the tables
    pages: str
    truths: str
    seq: str  # the column that orders jobs created in the same instant (insertion order)
    lock: str  # what a write transaction's read of its job's row adds ("" where the database has one lock)

    def sql(self, template: str) -> str:
        """`template` in this dialect: its `{name}`s replaced, its `?` placeholders made `mark`."""
        return _render(self, template)


@lru_cache(maxsize=256)
def _render(dialect: Dialect, template: str) -> str:
    text = template
    for name in ("jobs", "pages", "truths", "seq", "lock"):
        text = text.replace("{" + name + "}", getattr(dialect, name))
    return text.replace("?", dialect.mark)


def move_dpi(db: Any, dialect: Dialect) -> None:
    """Schema 1 -> 2 in either database, once the `dpi` column is there: each job's `dpi` option moves
    into it (`rows.split_dpi`), inside the caller's transaction `db`."""
    sql = dialect.sql("SELECT id, options FROM {jobs} WHERE options LIKE ?")
    for row in db.execute(sql, ('%"dpi"%',)).fetchall():
        options, dpi = split_dpi(row["options"])
        db.execute(
            dialect.sql("UPDATE {jobs} SET options = ?, dpi = ? WHERE id = ?"), (options, dpi, row["id"])
        )


def _owned(owner: str | None) -> tuple[str, tuple[str, ...]]:
    """The owner condition: `owner IS NULL` for keyless jobs, equality (which uses the index) otherwise."""
    return ("owner IS NULL", ()) if owner is None else ("owner = ?", (owner,))


class SQLJobStore(ABC):
    """The `JobStore` methods both stores share; a subclass sets `dialect` and provides the rest."""

    dialect: Dialect
    _UNCLAIM = ""  # what putting a running page back (or cancelling it) sets besides its status

    # -- what a store provides --------------------------------------------------------------------------

    @abstractmethod
    def _connection(self) -> AbstractContextManager[Any]:
        """A connection for reads (DB-API style: `execute` -> cursor; rows map column names to values)."""

    @abstractmethod
    def _tx(self) -> AbstractContextManager[Any]:
        """A connection inside one write transaction: committed at the end, rolled back on any error."""

    @abstractmethod
    def create_job(self, job: NewJob) -> JobRecord: ...

    @abstractmethod
    def input_bytes(self, job_id: str) -> bytes: ...

    @abstractmethod
    def delete_expired(self, now: float | None = None) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def _claim(self) -> tuple[str, tuple[Any, ...]]:
        """What `mark_running` sets besides status and time (`, column = ?`) and its parameters; a
        store of one gateway claims nothing (every running page is its own or a dead predecessor's)."""
        return "", ()

    def _claimers(self, rule: Claimers, alias: str = "") -> tuple[str, tuple[Any, ...]]:
        """The condition (` AND (...)`) on a running page's claimer, and its parameters: `gone` for
        `requeue_running_pages`, `mine` for `release_pages`, `mine or gone` for `stale_pages`; `alias`
        prefixes the page table's columns. A store of one gateway has none: every page passes."""
        return "", ()

    # -- shared plumbing --------------------------------------------------------------------------------

    def _run(self, db: Any, template: str, params: Sequence[Any] = ()) -> Any:
        """Execute `template` (see the module) on `db` in this store's dialect; the cursor."""
        sql = self.dialect.sql(template)
        return db.execute(sql, tuple(params)) if params else db.execute(sql)

    def _job_status(self, db: Any, job_id: str) -> str | None:
        """The job's status, read first by every write (PostgreSQL locks the job's row here); None: no job."""
        row = self._run(db, "SELECT status FROM {jobs} WHERE id = ?{lock}", (job_id,)).fetchone()
        return None if row is None else str(row["status"])

    def _page(self, db: Any, job_id: str, backend: str, index: int) -> Any:
        """The page's status and attempts; NotFound when the job has no such page."""
        sql = f"SELECT status, attempts FROM {{pages}} WHERE {_PAGE_KEY}"
        row = self._run(db, sql, (job_id, backend, index)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id!r} has no page {index} for backend {backend!r}")
        return row

    def _set_page(self, db: Any, key: tuple[str, str, int], **cols: Any) -> None:
        """Set the page's columns `cols` (and its time, and its job's)."""
        now = time.time()
        assignments = ", ".join(f"{name} = ?" for name in cols)
        sql = f"UPDATE {{pages}} SET {assignments}, updated_at = ? WHERE {_PAGE_KEY}"
        if not self._run(db, sql, (*cols.values(), now, *key)).rowcount:
            raise NotFound(f"job {key[0]!r} has no page {key[2]} for backend {key[1]!r}")
        self._run(db, "UPDATE {jobs} SET updated_at = ? WHERE id = ?", (now, key[0]))

    def _insert_job(self, db: Any, record: JobRecord) -> None:
        """The job's row (its pages and input are the store's own to write)."""
        row = job_row(record)
        sql = f"INSERT INTO {{jobs}} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        self._run(db, sql, tuple(row.values()))

    # -- jobs -------------------------------------------------------------------------------------------

    def get_job(self, job_id: str, owner: str | None = None) -> JobRecord | None:
        """The job, if it exists and belongs to `owner` (`None` sees only jobs created without an owner)."""
        clause, params = _owned(owner)
        with self._connection() as db:
            sql = f"SELECT {_COLUMNS} FROM {{jobs}} WHERE id = ? AND {clause}"
            row = self._run(db, sql, (job_id, *params)).fetchone()
        return job_of(row) if row else None

    def load_job(self, job_id: str) -> JobRecord | None:
        """The job whoever owns it: for the gateway's own use (the runner), never for answering a client."""
        with self._connection() as db:
            row = self._run(db, f"SELECT {_COLUMNS} FROM {{jobs}} WHERE id = ?", (job_id,)).fetchone()
        return job_of(row) if row else None

    def list_jobs(self, owner: str | None, limit: int = 50) -> list[JobRecord]:
        """`owner`'s jobs, newest first."""
        clause, params = _owned(owner)
        sql = f"SELECT {_COLUMNS} FROM {{jobs}} WHERE {clause} ORDER BY created_at DESC, {{seq}} DESC LIMIT ?"
        with self._connection() as db:
            rows = self._run(db, sql, (*params, limit)).fetchall()
        return [job_of(row) for row in rows]

    def unfinished_jobs(self) -> list[str]:
        """Ids of queued or running jobs, oldest first: what a restarted gateway must resume."""
        with self._connection() as db:
            sql = f"SELECT id FROM {{jobs}} WHERE {_ACTIVE_SQL} ORDER BY created_at, {{seq}}"
            return [row["id"] for row in self._run(db, sql)]

    def requeue_running_pages(self, job_id: str) -> int:
        """Pages left `running` by a dead gateway go back to `queued` (attempts kept); returns how many.

        Where gateways share the store, a page whose claimer is alive (this gateway included) stays running.
        """
        with self._tx() as db:
            return self._put_back(db, job_id, "job_id = ?", [(job_id,)], "gone")

    def release_pages(self, job_id: str, pages: list[tuple[str, int]]) -> int:
        """This store's `running` pages back to `queued`, attempts kept (abandoned work); how many moved."""
        with self._tx() as db:
            return self._put_back(db, job_id, _PAGE_KEY, [(job_id, b, i) for b, i in pages], "mine")

    def _put_back(self, db: Any, job_id: str, where: str, keys: list[tuple[Any, ...]], rule: Claimers) -> int:
        """The job's `running` pages that match `where` (once per key) and whose claimer passes `rule` back
        to `queued`, attempts kept; how many moved (none when the job is gone)."""
        if self._job_status(db, job_id) is None:
            return 0
        condition, params = self._claimers(rule)
        sql = (
            f"UPDATE {{pages}} SET status = 'queued'{self._UNCLAIM}, updated_at = ?"
            f" WHERE {where} AND status = 'running'{condition}"
        )
        now = time.time()
        return sum(self._run(db, sql, (now, *key, *params)).rowcount for key in keys)

    def stale_pages(self, before: float) -> list[PageKey]:
        """`running` pages of active jobs unchanged since `before`, claimed by this store or a gone one."""
        condition, params = self._claimers("mine or gone", "p.")
        sql = (
            "SELECT p.job_id, p.backend, p.idx FROM {pages} p JOIN {jobs} j ON j.id = p.job_id"
            f" WHERE p.status = 'running' AND p.updated_at < ? AND j.{_ACTIVE_SQL}{condition}"
            " ORDER BY j.created_at, p.idx"
        )
        with self._connection() as db:
            rows = self._run(db, sql, (before, *params)).fetchall()
        return [PageKey(r["job_id"], r["backend"], r["idx"]) for r in rows]

    # -- pages ------------------------------------------------------------------------------------------

    def queued_pages(self, job_id: str) -> list[PageTask]:
        """The job's queued pages, by page and then backend."""
        sql = "SELECT backend, idx, attempts FROM {pages} WHERE job_id = ? AND status = 'queued'"
        with self._connection() as db:
            rows = self._run(db, sql + " ORDER BY idx, backend", (job_id,)).fetchall()
        return [PageTask(backend=r["backend"], index=r["idx"], attempts=r["attempts"]) for r in rows]

    def mark_running(self, job_id: str, backend: str, index: int) -> bool:
        """Claim a queued page (and start its job); False when the page was not queued (taken, cancelled).

        Atomic across processes: the conditional UPDATE lets exactly one of several claimers through.
        """
        claim, params = self._claim()
        sql = f"UPDATE {{pages}} SET status = 'running'{claim}, updated_at = ? WHERE {_PAGE_KEY}"
        now = time.time()
        with self._tx() as db:
            self._job_status(db, job_id)
            claimed = self._run(db, sql + " AND status = 'queued'", (*params, now, job_id, backend, index))
            if not claimed.rowcount:
                self._page(db, job_id, backend, index)  # NotFound for a page that does not exist
                return False
            self._run(
                db,
                "UPDATE {jobs} SET updated_at = ?,"
                " status = CASE WHEN status = 'queued' THEN 'running' ELSE status END WHERE id = ?",
                (now, job_id),
            )
        return True

    def save_page(self, job_id: str, backend: str, index: int, result_json: str) -> bool:
        """Store the page's result, unless it came too late (page settled, job cancelled): then False."""
        with self._tx() as db:
            job_status = self._job_status(db, job_id)
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
            job_status = self._job_status(db, job_id)
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

    def page_results(self, job_id: str, backend: str, index: int | None = None) -> list[PageOutcome]:
        """Where each page of `backend` stands, by page; only page `index` when given."""
        sql = "SELECT idx, status, result_json, error, attempts FROM {pages} WHERE job_id = ? AND backend = ?"
        params: tuple[str | int, ...] = (job_id, backend)
        if index is not None:
            sql, params = sql + " AND idx = ?", (*params, index)
        with self._connection() as db:
            rows = self._run(db, sql + " ORDER BY idx", params).fetchall()
        return [PageOutcome(**dict(r), index=r["idx"]) for r in rows]

    def progress(self, job_id: str) -> dict[str, JobProgress]:
        """Page counts per backend (cancelled pages count only in `total`)."""
        sql = (  # one statement: one snapshot of the job and its pages
            "SELECT j.backends, p.backend, p.status, COUNT(p.idx) AS n FROM {jobs} j"
            " LEFT JOIN {pages} p ON p.job_id = j.id WHERE j.id = ?"
            " GROUP BY j.backends, p.backend, p.status"
        )
        with self._connection() as db:
            rows = self._run(db, sql, (job_id,)).fetchall()
        if not rows:
            raise NotFound(f"no job {job_id!r}")
        return count_progress(rows[0]["backends"], [r for r in rows if r["backend"] is not None])

    def finish_if_complete(self, job_id: str) -> str | None:
        """Settle a job none of whose pages is queued or running as `completed` or `failed`.

        Returns the job's status once it is terminal (a cancelled job is left as it is), else None.
        Race-free: the job's row (or the database's) lock keeps every other page write out while it counts.
        """
        with self._tx() as db:
            status = self._job_status(db, job_id)
            if status is None:
                raise NotFound(f"no job {job_id!r}")
            if status not in ACTIVE:
                return status
            sql = "SELECT status, COUNT(*) AS n FROM {pages} WHERE job_id = ? GROUP BY status"
            counts = {r["status"]: r["n"] for r in self._run(db, sql, (job_id,))}
            if counts.get("queued") or counts.get("running"):
                return None
            status, error = "completed", None
            if counts.get("failed"):
                sql = "SELECT backend, idx, error FROM {pages} WHERE job_id = ? AND status = 'failed'"
                first = self._run(db, sql + " ORDER BY idx, backend LIMIT 1", (job_id,)).fetchone()
                status, error = "failed", failure_summary(counts, first)
            sql = "UPDATE {jobs} SET status = ?, error = ?, updated_at = ? WHERE id = ?"
            self._run(db, sql, (status, error, time.time(), job_id))
        return status

    def cancel(self, job_id: str) -> bool:
        """A queued or running job becomes `cancelled`, and so do its queued and running pages (work in
        flight is abandoned: its result is dropped when it comes); False if the job was not active."""
        now = time.time()
        with self._tx() as db:  # the UPDATE takes the job's row lock first, as every write does
            sql = f"UPDATE {{jobs}} SET status = 'cancelled', updated_at = ? WHERE {_ACTIVE_SQL} AND id = ?"
            if not self._run(db, sql, (now, job_id)).rowcount:
                return False
            sql = f"UPDATE {{pages}} SET status = 'cancelled'{self._UNCLAIM}, updated_at = ?"
            self._run(db, sql + f" WHERE {_ACTIVE_SQL} AND job_id = ?", (now, job_id))
        return True

    def delete_ended(self, job_id: str) -> bool:
        """Delete an ended job (completed, failed or cancelled) now, with its input, pages and truths:
        it is made due (`expires_at` 0) and `delete_expired` removes it as expiry would. False when the
        job is queued or running (cancel it first) or gone."""
        with self._tx() as db:
            sql = f"UPDATE {{jobs}} SET expires_at = 0 WHERE NOT ({_ACTIVE_SQL}) AND id = ?"
            if not self._run(db, sql, (job_id,)).rowcount:
                return False
        self.delete_expired()
        return True

    # -- ground truth -----------------------------------------------------------------------------------

    def set_truth(self, job_id: str, index: int, text: str, backend: str | None) -> PageTruth:
        """Keep `text` as page `index`'s truth (replacing any); NotFound when the job is gone."""
        now = time.time()
        with self._tx() as db:
            if self._job_status(db, job_id) is None:
                raise NotFound(f"no job {job_id!r}")
            self._run(
                db,
                "INSERT INTO {truths} (job_id, idx, text, backend, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (job_id, idx) DO UPDATE SET text = EXCLUDED.text, backend = EXCLUDED.backend,"
                " updated_at = EXCLUDED.updated_at",
                (job_id, index, text, backend, now),
            )
        return PageTruth(index=index, text=text, backend=backend, updated_at=now)

    def truths(self, job_id: str) -> list[PageTruth]:
        """The job's page truths, by page."""
        with self._connection() as db:
            rows = self._run(db, "SELECT * FROM {truths} WHERE job_id = ? ORDER BY idx", (job_id,)).fetchall()
        return [truth_of(row) for row in rows]

    def delete_truth(self, job_id: str, index: int) -> bool:
        """Forget page `index`'s truth; False when it had none."""
        with self._tx() as db:
            self._job_status(db, job_id)
            sql = "DELETE FROM {truths} WHERE job_id = ? AND idx = ?"
            return bool(self._run(db, sql, (job_id, index)).rowcount)
