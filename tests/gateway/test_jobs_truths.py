"""Page truths and a job's per-backend options and page names, kept by both job stores (schema 3)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ocrgate.errors import NotFound
from ocrgate.jobs import JobStore, SQLiteJobStore
from ocrgate.jobs import sqlite as sqlite_store
from tests.gateway.test_jobs_schema import V1_COLUMNS, V1_SQLITE_JOBS, V1_SQLITE_PAGES, v1_rows
from tests.gateway.test_jobs_store import BOTH, make_job


@BOTH
def test_truths_are_kept_replaced_listed_and_forgotten(opener: Callable[[], JobStore]) -> None:
    store = opener()
    job = make_job(store, backends=["rapidocr", "tesseract"])
    other = make_job(store)
    before = time.time()
    first = store.set_truth(job.id, 2, "Hello,\nworld", "tesseract")
    assert (first.index, first.text, first.backend) == (2, "Hello,\nworld", "tesseract")
    assert first.updated_at >= before
    store.set_truth(job.id, 0, "page one ünïcode — ok", None)
    store.set_truth(job.id, 2, "Hello, world!", "rapidocr")  # replaces page 2's
    store.close()
    store = opener()  # another gateway, or this one restarted: the truths are in the database
    assert [(t.index, t.text, t.backend) for t in store.truths(job.id)] == [
        (0, "page one ünïcode — ok", None),
        (2, "Hello, world!", "rapidocr"),
    ]
    assert store.truths(other.id) == []
    assert store.delete_truth(job.id, 0) is True
    assert store.delete_truth(job.id, 0) is False
    assert [t.index for t in store.truths(job.id)] == [2]
    with pytest.raises(NotFound):
        store.set_truth("no-such-job", 0, "x", None)
    store.close()


@BOTH
def test_a_jobs_truths_go_with_it(opener: Callable[[], JobStore]) -> None:
    store = opener()
    job = make_job(store, ttl_s=0.0)
    keep = make_job(store)
    store.set_truth(job.id, 0, "gone with its job", None)
    store.set_truth(keep.id, 1, "stays", None)
    assert store.delete_expired(time.time() + 1) == 1
    assert store.truths(job.id) == [] and [t.text for t in store.truths(keep.id)] == ["stays"]
    store.close()


@BOTH
def test_backend_options_and_page_names_round_trip(opener: Callable[[], JobStore]) -> None:
    store = opener()
    own = {"tesseract": {"lang": "deu"}, "rapidocr": {"text_score": 0.7}}
    names = ["scan 1.png", "report.pdf#1", "report.pdf#2"]
    job = make_job(store, backends=["rapidocr", "tesseract"], backend_options=own, page_names=names)
    plain = make_job(store)
    store.close()
    store = opener()
    got = store.load_job(job.id)
    assert got is not None and got.backend_options == own and got.page_names == names
    assert got.options == {"lang": "en"}
    assert store.load_job(plain.id).backend_options == {} and store.load_job(plain.id).page_names == []
    assert [j.page_names for j in store.list_jobs(None)] == [[], names]
    store.close()


def test_sqlite_schema_2_is_migrated_to_the_current_one(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    db.execute(V1_SQLITE_JOBS)
    db.execute("ALTER TABLE jobs ADD COLUMN dpi INTEGER")  # schema 2's jobs table
    db.execute(V1_SQLITE_PAGES)
    db.executemany(f"INSERT INTO jobs ({V1_COLUMNS}) VALUES ({', '.join('?' * 11)})", v1_rows())
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    store = SQLiteJobStore(tmp_path)
    job = store.load_job("no-dpi")
    assert job is not None and (job.backend_options, job.page_names, job.text_layer) == ({}, [], "auto")
    store.set_truth("no-dpi", 0, "migrated", None)
    assert [t.text for t in store.truths("no-dpi")] == ["migrated"]
    assert store.load_job(make_job(store, page_names=["a.png"]).id).page_names == ["a.png"]
    store.close()
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == sqlite_store.SCHEMA_VERSION == 4
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
