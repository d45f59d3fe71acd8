"""The durable job store: real SQLite files, restarts, a killed writer, expiry and a full disk."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrgate.errors import NotFound, StorageError
from ocrgate.jobs import JobRecord, JobStore, NewJob, SQLiteJobStore, new_job_id
from ocrgate.jobs import sqlite as sqlite_store
from ocrgate.schema import JobProgress

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8

# tests that hold for any store run on SQLite and on PostgreSQL (`backend` and `opener`: conftest.py)
BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgres"])


@pytest.fixture
def store(opener: Callable[[], JobStore]) -> Iterator[Any]:
    s = opener()
    yield s  # type: ignore[misc]
    s.close()


def make_job(store: JobStore, **overrides: Any) -> JobRecord:
    args: dict[str, Any] = {
        "data": PDF, "name": "report.pdf", "media_type": "application/pdf", "backends": ["rapidocr"],
        "options": {"lang": "en"}, "boxes": "none", "page_count": 3, "owner": None, "ttl_s": 3600.0,
        "dpi": 200,
    }  # fmt: skip
    return store.create_job(NewJob(**args | overrides))


@BOTH
def test_create_then_get_round_trips(store: JobStore) -> None:
    before = time.time()
    job = make_job(store, backends=["rapidocr", "tesseract"])
    got = store.get_job(job.id)
    assert got == job
    assert got.status == "queued" and got.error is None
    assert got.backends == ["rapidocr", "tesseract"] and got.options == {"lang": "en"} and got.dpi == 200
    assert before <= got.created_at == got.updated_at <= time.time()
    assert got.expires_at == pytest.approx(got.created_at + 3600)
    assert store.input_bytes(job.id) == PDF
    if isinstance(store, SQLiteJobStore):
        assert sorted(p.name for p in (store.jobs_dir / job.id).iterdir()) == ["input"]
    order = [(t.index, t.backend) for t in store.queued_pages(job.id)]
    assert order == [(i, b) for i in range(3) for b in ("rapidocr", "tesseract")]
    assert store.get_job("no-such-job") is None
    with pytest.raises(NotFound):
        store.input_bytes("no-such-job")
    with pytest.raises(NotFound):
        store.input_bytes("../jobs.sqlite3")


def test_wal_and_pragmas_are_on(store: SQLiteJobStore, tmp_path: Path) -> None:
    make_job(store)
    with sqlite3.connect(store.db_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == sqlite_store.SCHEMA_VERSION
    conn = store._conn
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == sqlite_store.BUSY_TIMEOUT_MS
    assert (tmp_path / "data" / "jobs.sqlite3-wal").exists()


def test_ids_are_unique_and_long() -> None:
    ids = {new_job_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 24 and "/" not in i and "+" not in i for i in ids)


@BOTH
def test_owner_isolation(store: JobStore) -> None:
    alice = make_job(store, owner="alice")
    bob = make_job(store, owner="bob")
    anon = make_job(store, owner=None)
    assert store.get_job(alice.id, "alice") is not None
    assert store.get_job(alice.id, "bob") is None
    assert store.get_job(alice.id) is None
    assert store.get_job(anon.id) is not None
    assert store.get_job(anon.id, "alice") is None
    assert store.load_job(alice.id) == store.get_job(alice.id, "alice")  # the runner's owner-blind view
    assert store.load_job("no-such-job") is None
    assert [j.id for j in store.list_jobs("bob")] == [bob.id]
    assert [j.id for j in store.list_jobs(None)] == [anon.id]
    newer = make_job(store, owner="alice")
    assert [j.id for j in store.list_jobs("alice")] == [newer.id, alice.id]
    assert [j.id for j in store.list_jobs("alice", limit=1)] == [newer.id]


@BOTH
def test_page_lifecycle_and_progress(store: JobStore) -> None:
    job = make_job(store, backends=["a", "b"], page_count=2)
    assert store.progress(job.id) == {
        "a": JobProgress(total=2, queued=2),
        "b": JobProgress(total=2, queued=2),
    }
    assert store.mark_running(job.id, "a", 0) is True
    assert store.mark_running(job.id, "a", 0) is False  # already claimed
    assert store.get_job(job.id).status == "running"
    store.mark_running(job.id, "b", 1)
    assert store.progress(job.id)["a"] == JobProgress(total=2, running=1, queued=1)
    store.save_page(job.id, "a", 0, json.dumps({"index": 0, "markdown": "# Title"}))
    assert store.progress(job.id) == {
        "a": JobProgress(total=2, done=1, queued=1),
        "b": JobProgress(total=2, running=1, queued=1),
    }
    outcomes = store.page_results(job.id, "a")
    assert [(o.index, o.status, o.attempts) for o in outcomes] == [(0, "done", 0), (1, "queued", 0)]
    assert json.loads(outcomes[0].result_json) == {"index": 0, "markdown": "# Title"}
    assert outcomes[1].result_json is None
    assert store.page_results(job.id, "a", 1) == outcomes[1:] and store.page_results(job.id, "a", 5) == []
    assert [(t.backend, t.index) for t in store.queued_pages(job.id)] == [("b", 0), ("a", 1)]
    with pytest.raises(NotFound):
        store.save_page(job.id, "a", 7, "{}")
    with pytest.raises(NotFound):
        store.mark_running(job.id, "zzz", 0)


@BOTH
def test_retries_then_failure_with_reason(store: JobStore) -> None:
    job = make_job(store, page_count=1)
    for attempt in (1, 2):
        store.mark_running(job.id, "rapidocr", 0)
        assert store.fail_attempt(job.id, "rapidocr", 0, f"timeout #{attempt}", max_attempts=3) == "queued"
        assert store.queued_pages(job.id)[0].attempts == attempt
    store.mark_running(job.id, "rapidocr", 0)
    assert store.fail_attempt(job.id, "rapidocr", 0, "backend crashed", max_attempts=3) == "failed"
    [outcome] = store.page_results(job.id, "rapidocr")
    assert (outcome.status, outcome.error, outcome.attempts) == ("failed", "backend crashed", 3)
    assert store.queued_pages(job.id) == []
    assert store.progress(job.id)["rapidocr"] == JobProgress(total=1, failed=1)


@BOTH
def test_finish_if_complete_completed(store: JobStore) -> None:
    job = make_job(store, page_count=2)
    store.mark_running(job.id, "rapidocr", 0)
    store.save_page(job.id, "rapidocr", 0, "{}")
    assert store.finish_if_complete(job.id) is None  # page 1 still queued
    store.mark_running(job.id, "rapidocr", 1)
    assert store.finish_if_complete(job.id) is None  # page 1 running
    store.save_page(job.id, "rapidocr", 1, "{}")
    assert store.finish_if_complete(job.id) == "completed"
    got = store.get_job(job.id)
    assert (got.status, got.error) == ("completed", None)
    assert store.finish_if_complete(job.id) == "completed"  # idempotent
    assert store.unfinished_jobs() == []


@BOTH
def test_finish_if_complete_failed(store: JobStore) -> None:
    job = make_job(store, backends=["a", "b"], page_count=2)
    for backend, index in [("a", 0), ("a", 1), ("b", 0)]:
        store.save_page(job.id, backend, index, "{}")
    store.fail_attempt(job.id, "b", 1, "engine out of memory", max_attempts=1)
    assert store.finish_if_complete(job.id) == "failed"
    got = store.get_job(job.id)
    assert got.status == "failed"
    assert "1 of 4 pages failed" in got.error and "engine out of memory" in got.error
    with pytest.raises(NotFound):
        store.finish_if_complete("nope")


@BOTH
def test_an_ended_job_is_deleted_at_once_an_active_one_is_not(store: JobStore) -> None:
    job, other = make_job(store, page_count=2), make_job(store, page_count=1)
    assert store.delete_ended(job.id) is False and store.get_job(job.id) is not None  # queued
    store.set_truth(job.id, 0, "a reading", None)
    assert store.cancel(job.id) is True
    assert store.delete_ended(job.id) is True
    assert store.get_job(job.id) is None and store.page_results(job.id, "rapidocr") == []
    assert store.truths(job.id) == []
    with pytest.raises(NotFound):
        store.input_bytes(job.id)
    assert store.delete_ended(job.id) is False
    assert store.get_job(other.id) is not None  # the others stay


@BOTH
def test_cancel(store: JobStore) -> None:
    job = make_job(store, page_count=3)
    store.mark_running(job.id, "rapidocr", 0)
    assert store.cancel(job.id) is True
    assert store.cancel(job.id) is False
    assert store.get_job(job.id).status == "cancelled"
    assert store.queued_pages(job.id) == []
    # the page in flight is abandoned with its job: it no longer counts as running, and its result,
    # should it still come, is dropped (the job stays cancelled, nothing counts as done)
    assert [o.status for o in store.page_results(job.id, "rapidocr")] == ["cancelled"] * 3
    assert store.progress(job.id)["rapidocr"] == JobProgress(total=3)
    assert store.mark_running(job.id, "rapidocr", 1) is False
    assert store.save_page(job.id, "rapidocr", 0, "{}") is False
    assert store.fail_attempt(job.id, "rapidocr", 0, "late", max_attempts=1) == "cancelled"
    assert store.progress(job.id)["rapidocr"] == JobProgress(total=3)
    assert store.finish_if_complete(job.id) == "cancelled"
    assert store.get_job(job.id).status == "cancelled"
    assert store.unfinished_jobs() == []
    done = make_job(store, page_count=1)
    store.save_page(done.id, "rapidocr", 0, "{}")
    store.finish_if_complete(done.id)
    assert store.cancel(done.id) is False
    assert store.cancel("nope") is False


@BOTH
def test_a_settled_page_keeps_its_outcome(store: JobStore) -> None:
    job = make_job(store, page_count=3)
    for index in range(3):
        store.mark_running(job.id, "rapidocr", index)
    assert store.save_page(job.id, "rapidocr", 0, '{"first": true}') is True
    assert store.save_page(job.id, "rapidocr", 0, '{"again": true}') is False  # done stays as it was
    assert store.fail_attempt(job.id, "rapidocr", 0, "late failure", max_attempts=1) == "done"
    assert store.fail_attempt(job.id, "rapidocr", 1, "bad page", max_attempts=1) == "failed"
    assert store.save_page(job.id, "rapidocr", 1, "{}") is False  # a late result does not revive it
    assert store.fail_attempt(job.id, "rapidocr", 1, "again", max_attempts=1) == "failed"
    outcomes = store.page_results(job.id, "rapidocr")
    assert [(o.status, o.error, o.attempts) for o in outcomes[:2]] == [
        ("done", None, 0),
        ("failed", "bad page", 1),
    ]
    assert json.loads(outcomes[0].result_json) == {"first": True}
    assert store.progress(job.id)["rapidocr"] == JobProgress(total=3, done=1, failed=1, running=1)


@BOTH
def test_released_pages_go_back_to_the_queue_without_an_attempt(store: JobStore) -> None:
    job = make_job(store, page_count=3)
    for index in range(3):
        store.mark_running(job.id, "rapidocr", index)
    store.save_page(job.id, "rapidocr", 2, "{}")
    assert store.release_pages(job.id, [("rapidocr", 0), ("rapidocr", 1), ("rapidocr", 2)]) == 2
    assert [(t.index, t.attempts) for t in store.queued_pages(job.id)] == [(0, 0), (1, 0)]
    assert store.release_pages(job.id, [("rapidocr", 0)]) == 0  # queued already
    assert store.release_pages("no-such-job", [("rapidocr", 0)]) == 0


@BOTH
def test_stale_pages_are_running_pages_of_active_jobs_unchanged_since(store: JobStore) -> None:
    old, other, cancelled = make_job(store, page_count=2), make_job(store, page_count=1), make_job(store)
    for job, index in [(old, 0), (old, 1), (other, 0), (cancelled, 0)]:
        store.mark_running(job.id, "rapidocr", index)
    store.save_page(old.id, "rapidocr", 1, "{}")
    store.cancel(cancelled.id)
    cutoff = time.time() + 1
    assert store.stale_pages(cutoff) == [(old.id, "rapidocr", 0), (other.id, "rapidocr", 0)]
    assert store.stale_pages(cutoff - 3600) == []  # none is that old
    assert store.stale_pages(cutoff)[0].job_id == old.id


def _half_done(store: JobStore) -> tuple[str, str]:
    finished = make_job(store, page_count=1)
    store.save_page(finished.id, "rapidocr", 0, "{}")
    store.finish_if_complete(finished.id)
    first, second = make_job(store, page_count=3), make_job(store, page_count=1)
    store.mark_running(first.id, "rapidocr", 0)
    store.save_page(first.id, "rapidocr", 0, '{"page": 0}')
    store.mark_running(first.id, "rapidocr", 1)
    store.fail_attempt(first.id, "rapidocr", 1, "flaky", max_attempts=3)
    store.mark_running(first.id, "rapidocr", 1)  # in flight when the gateway dies
    return first.id, second.id


def _resume(store: JobStore, first: str, second: str) -> None:
    assert store.unfinished_jobs() == [first, second]
    assert store.get_job(first).status == "running"
    assert store.requeue_running_pages(first) == 1
    assert [(t.index, t.attempts) for t in store.queued_pages(first)] == [(1, 1), (2, 0)]
    for task in store.queued_pages(first):
        assert store.mark_running(first, task.backend, task.index)
        store.save_page(first, task.backend, task.index, "{}")
    assert store.finish_if_complete(first) == "completed"
    assert json.loads(store.page_results(first, "rapidocr")[0].result_json) == {"page": 0}
    assert store.input_bytes(first) == PDF
    assert store.unfinished_jobs() == [second]


@BOTH
def test_restart_after_close_resumes(opener: Callable[[], JobStore]) -> None:
    old = opener()
    first, second = _half_done(old)  # type: ignore[arg-type]
    old.close()
    new = opener()
    _resume(new, first, second)
    new.close()


def test_restart_without_close_resumes(tmp_path: Path) -> None:
    old = SQLiteJobStore(tmp_path)  # never closed: its connection still exists, as after a kill
    first, second = _half_done(old)
    new = SQLiteJobStore(tmp_path)
    _resume(new, first, second)
    assert old.get_job(first).status == "completed"  # both connections see one database
    new.close()
    old.close()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ocrgate.jobs import NewJob, SQLiteJobStore

    store = SQLiteJobStore(Path(sys.argv[1]))
    job = sys.argv[2]
    blob = "x" * 20000
    n = 0
    while True:
        index = n % 50
        store.mark_running(job, "rapidocr", index)
        store.save_page(job, "rapidocr", index, '{"n": %d, "blob": "%s"}' % (n, blob))
        if n % 7 == 0:
            store.create_job(NewJob(data=b"x" * 5000, name="n", media_type="image/png", backends=["rapidocr"],
                                    boxes="none", page_count=5, ttl_s=60))
        n += 1
        if n == 1:
            print("ready", flush=True)
    """
)


def test_killed_writer_leaves_a_sound_database(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path)
    job = make_job(store, page_count=50)
    store.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), job.id], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.4)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    reopened = SQLiteJobStore(tmp_path)
    progress = reopened.progress(job.id)["rapidocr"]
    assert (
        progress.total == 50
        and progress.done >= 1
        and progress.done + progress.running + progress.queued == 50
    )
    for outcome in reopened.page_results(job.id, "rapidocr"):
        if outcome.status == "done":
            assert len(json.loads(outcome.result_json)["blob"]) == 20000
    for job_id in reopened.unfinished_jobs():
        reopened.requeue_running_pages(job_id)
    assert reopened.progress(job.id)["rapidocr"].running == 0
    assert reopened.get_job(make_job(reopened).id) is not None
    reopened.close()


def test_expiry_deletes_rows_and_files(store: SQLiteJobStore) -> None:
    short = make_job(store, ttl_s=10)
    long = make_job(store, ttl_s=1000)
    store.save_page(short.id, "rapidocr", 0, "{}")
    assert store.delete_expired(now=short.created_at + 5) == 0
    assert store.delete_expired(now=short.created_at + 11) == 1
    assert store.get_job(short.id) is None
    assert not (store.jobs_dir / short.id).exists()
    assert store._conn.execute("SELECT COUNT(*) FROM pages WHERE job_id = ?", (short.id,)).fetchone()[0] == 0
    assert store.get_job(long.id) is not None and store.input_bytes(long.id) == PDF
    assert store.delete_expired() == 0
    assert store.delete_expired(now=time.time() + 2000) == 1
    assert list(store.jobs_dir.iterdir()) == []


def test_expiry_sweeps_old_orphan_directories(store: SQLiteJobStore) -> None:
    orphan = store.jobs_dir / "orphan"
    orphan.mkdir()
    (orphan / "input").write_bytes(b"x")
    fresh = store.jobs_dir / "fresh"
    fresh.mkdir()
    old = time.time() - sqlite_store.ORPHAN_GRACE_S - 10
    os.utime(orphan, (old, old))
    store.delete_expired()
    assert not orphan.exists() and fresh.exists()


def _no_space(*_args: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _leftovers(store: SQLiteJobStore) -> tuple[int, list[Path]]:
    rows = store._conn.execute(
        "SELECT (SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM pages)"
    ).fetchone()[0]
    return rows, list(store.jobs_dir.rglob("*"))


def test_full_disk_while_writing_the_input(store: SQLiteJobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store.os, "fsync", _no_space)
    with pytest.raises(StorageError, match="No space left on device") as info:
        make_job(store)
    assert info.value.code == "storage_error" and info.value.status == 507
    assert _leftovers(store) == (0, [])
    monkeypatch.undo()
    assert store.get_job(make_job(store).id) is not None  # the store still works once space is back


def test_database_failure_after_the_input_was_written(
    store: SQLiteJobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_tx = store._tx

    def broken_tx() -> Any:
        raise StorageError("job store error: database or disk is full")

    monkeypatch.setattr(store, "_tx", broken_tx)
    with pytest.raises(StorageError, match="disk is full"):
        make_job(store)
    monkeypatch.setattr(store, "_tx", real_tx)
    assert _leftovers(store) == (0, [])


@BOTH
def test_threads_share_one_store(store: JobStore) -> None:
    job = make_job(store, backends=["a", "b", "c", "d"], page_count=25)
    claimed: list[tuple[str, int]] = []

    def worker() -> None:
        for task in store.queued_pages(job.id):
            if store.mark_running(job.id, task.backend, task.index):
                claimed.append((task.backend, task.index))
                store.save_page(job.id, task.backend, task.index, "{}")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == len(set(claimed)) == 100  # every page claimed exactly once
    assert store.finish_if_complete(job.id) == "completed"


def test_failed_write_rolls_back_and_the_store_keeps_working(store: SQLiteJobStore) -> None:
    job = make_job(store, page_count=2)
    with pytest.raises(StorageError), store._tx() as db:
        db.execute("UPDATE pages SET status = 'done' WHERE job_id = ?", (job.id,))
        db.execute(
            "INSERT INTO pages (job_id, backend, idx, status, updated_at) VALUES ('nope', 'a', 0, 'x', 0)"
        )
    assert store.progress(job.id)["rapidocr"] == JobProgress(total=2, queued=2)  # foreign key refused, undone
    store.save_page(job.id, "rapidocr", 0, "{}")
    assert store.progress(job.id)["rapidocr"].done == 1
