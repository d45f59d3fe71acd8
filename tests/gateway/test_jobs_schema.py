"""The job stores' schema versions: a version 1 database (a job's dpi inside its options JSON) migrated to
the current one (dpi, text_layer, backend options and page names in columns of their own, page truths in
a table) on SQLite and on PostgreSQL, and all kept in both stores."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ocrgate.jobs import JobStore, SQLiteJobStore
from ocrgate.jobs import sqlite as sqlite_store
from tests.gateway.test_jobs_store import BOTH, PDF, make_job

# the jobs table of schema 1, as the stores created it before `dpi` had a column
V1_SQLITE_JOBS = """CREATE TABLE jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, name TEXT NOT NULL, media_type TEXT NOT NULL,
    backends TEXT NOT NULL, options TEXT NOT NULL, boxes TEXT NOT NULL, page_count INTEGER NOT NULL,
    owner TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, expires_at REAL NOT NULL, error TEXT
)"""
V1_SQLITE_PAGES = """CREATE TABLE pages (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, backend TEXT NOT NULL,
    idx INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    result_json TEXT, error TEXT, updated_at REAL NOT NULL, PRIMARY KEY (job_id, backend, idx)
)"""
V1_POSTGRES_JOBS = """CREATE TABLE ocrgate_jobs (
    id TEXT COLLATE "C" PRIMARY KEY, status TEXT NOT NULL, name TEXT NOT NULL, media_type TEXT NOT NULL,
    backends TEXT NOT NULL, options TEXT NOT NULL, boxes TEXT NOT NULL, page_count INTEGER NOT NULL,
    owner TEXT, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL, error TEXT, seq BIGINT GENERATED ALWAYS AS IDENTITY
)"""
V1_POSTGRES_VERSION = (
    "CREATE TABLE ocrgate_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
    "INSERT INTO ocrgate_schema VALUES (1, 1)",
)
V1_COLUMNS = (
    "id, status, name, media_type, backends, options, boxes, page_count, created_at, updated_at, expires_at"
)
# schema 1's gateway put the form's dpi into the options; the odd one never came from it but must not
# reach a backend either (schema 1's runner removed the key)
V1_OPTIONS = {
    "with-dpi": {"lang": "en", "dpi": 300},
    "no-dpi": {},
    "odd-dpi": {"note": 'a "dpi" inside a value', "dpi": "high"},
}
MIGRATED = {
    "with-dpi": ({"lang": "en"}, 300),
    "no-dpi": ({}, None),
    "odd-dpi": ({"note": 'a "dpi" inside a value'}, None),
}


def v1_rows() -> list[tuple[object, ...]]:
    now = time.time()
    return [
        (job_id, "queued", f"{job_id}.pdf", "application/pdf", json.dumps(["rapidocr"]), json.dumps(options),
         "none", 1, now, now, now + 3600)
        for job_id, options in V1_OPTIONS.items()
    ]  # fmt: skip


def page_row(table: str) -> str:
    """The one page of job `with-dpi`, queued."""
    columns = "job_id, backend, idx, status, updated_at"
    return f"INSERT INTO {table} ({columns}) VALUES ('with-dpi', 'rapidocr', 0, 'queued', 0)"


def assert_migrated(store: JobStore) -> None:
    for job_id, (options, dpi) in MIGRATED.items():
        job = store.load_job(job_id)
        assert job is not None and (job.options, job.dpi) == (options, dpi), job_id
        assert job.text_layer == "auto", job_id  # what every older job did
    assert [t.index for t in store.queued_pages("with-dpi")] == [0]  # its pages untouched
    assert store.load_job(make_job(store, dpi=150).id).dpi == 150
    old = store.load_job("with-dpi")
    assert old is not None and (old.backend_options, old.page_names) == ({}, [])  # NULL columns: none
    assert store.set_truth("with-dpi", 0, "the page", None).text == "the page"
    assert [t.text for t in store.truths("with-dpi")] == ["the page"]


def test_sqlite_schema_1_is_migrated(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    db.execute(V1_SQLITE_JOBS)
    db.execute(V1_SQLITE_PAGES)
    db.executemany(f"INSERT INTO jobs ({V1_COLUMNS}) VALUES ({', '.join('?' * 11)})", v1_rows())
    db.execute(page_row("pages"))
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    (tmp_path / "jobs" / "with-dpi").mkdir(parents=True)
    (tmp_path / "jobs" / "with-dpi" / "input").write_bytes(PDF)

    store = SQLiteJobStore(tmp_path)
    assert_migrated(store)
    assert store.input_bytes("with-dpi") == PDF
    store.close()
    reopened = SQLiteJobStore(tmp_path)  # the current version now: opened as it is
    assert reopened.load_job("with-dpi").dpi == 300
    reopened.close()
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == sqlite_store.SCHEMA_VERSION == 4
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_postgres_schema_1_is_migrated(postgres_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    from ocrgate.jobs import postgres, postgres_schema

    fresh = f"{postgres_url}?options=-csearch_path%3Dv1"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA v1")
    try:
        with psycopg.connect(fresh, autocommit=True) as conn:
            conn.execute(V1_POSTGRES_JOBS)
            for statement in postgres_schema._SCHEMA[4:6]:  # pages and inputs: the same in schemas 1 to 3
                conn.execute(statement)
            for statement in V1_POSTGRES_VERSION:
                conn.execute(statement)
            with conn.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO ocrgate_jobs ({V1_COLUMNS}) VALUES ({', '.join(['%s'] * 11)})", v1_rows()
                )
            conn.execute(page_row("ocrgate_pages"))
            conn.execute("INSERT INTO ocrgate_inputs VALUES ('with-dpi', %s)", (PDF,))
        store = postgres.PostgresJobStore(fresh)
        assert_migrated(store)
        assert store.input_bytes("with-dpi") == PDF
        store.close()
        reopened = postgres.PostgresJobStore(fresh)
        assert reopened.load_job("with-dpi").dpi == 300
        reopened.close()
        with psycopg.connect(fresh, autocommit=True) as conn:
            assert conn.execute("SELECT version FROM ocrgate_schema").fetchall() == [
                (postgres.SCHEMA_VERSION,)
            ]
            assert postgres.SCHEMA_VERSION == 4
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA v1 CASCADE")


@BOTH
def test_dpi_round_trips(opener: Callable[[], JobStore]) -> None:
    store = opener()
    chosen, default = make_job(store, dpi=300, owner="alice"), make_job(store, dpi=None, owner="alice")
    assert (chosen.dpi, default.dpi) == (300, None)
    store.close()
    store = opener()  # restarted: read back from the database
    assert store.get_job(chosen.id, "alice") == chosen and store.load_job(default.id) == default
    assert {j.id: j.dpi for j in store.list_jobs("alice")} == {chosen.id: 300, default.id: None}
    assert store.load_job(chosen.id).options == {"lang": "en"}  # the dpi is no backend option
    store.close()


@BOTH
def test_text_layer_round_trips(opener: Callable[[], JobStore]) -> None:
    store = opener()
    jobs = {mode: make_job(store, text_layer=mode).id for mode in ("auto", "never", "only")}
    store.close()
    store = opener()
    assert {mode: store.load_job(job_id).text_layer for mode, job_id in jobs.items()} == {
        "auto": "auto",
        "never": "never",
        "only": "only",
    }
    store.close()
