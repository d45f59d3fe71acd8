"""The SQLite job store's tables, created on first use and migrated from older versions.

The schema's version is the file's `user_version`: 4. Version 2 gave a job's `dpi` its own column (schema
1 kept it in the options JSON), version 3 its `text_layer`; version 4 adds each job's `backend_options`
and `page_names`, and the `truths` table (a person's reading of a page, kept with its job). Older files
are migrated when they are opened; a newer one is refused. One gateway owns the file, and the caller's
write transaction (BEGIN IMMEDIATE) keeps any other process out while it is migrated.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ocrgate.errors import StorageError
from ocrgate.jobs.sql import Dialect, move_dpi

SCHEMA_VERSION = 4
# how the shared statements (`ocrgate.jobs.sql`) read here; every write already holds the whole file
# (BEGIN IMMEDIATE), so a job's row needs no lock of its own
DIALECT = Dialect(mark="?", jobs="jobs", pages="pages", truths="truths", seq="rowid", lock="")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, name TEXT NOT NULL, media_type TEXT NOT NULL,
    backends TEXT NOT NULL, options TEXT NOT NULL, boxes TEXT NOT NULL, page_count INTEGER NOT NULL,
    owner TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, expires_at REAL NOT NULL, error TEXT,
    dpi INTEGER, text_layer TEXT NOT NULL DEFAULT 'auto', backend_options TEXT, page_names TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, created_at);
CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires_at);
CREATE TABLE IF NOT EXISTS pages (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, backend TEXT NOT NULL,
    idx INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    result_json TEXT, error TEXT, updated_at REAL NOT NULL, PRIMARY KEY (job_id, backend, idx)
);
CREATE TABLE IF NOT EXISTS truths (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, idx INTEGER NOT NULL, text TEXT NOT NULL,
    backend TEXT, updated_at REAL NOT NULL, PRIMARY KEY (job_id, idx)
);
"""


def create_schema(db: sqlite3.Connection, path: Path) -> None:
    """Create (or migrate to) schema `SCHEMA_VERSION` inside the caller's write transaction `db`.

    Raises StorageError for a file written by a newer ocrgate (`path` names it in the message).
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StorageError(f"the job store {path} has schema {version}, newer than this code")
    if version == 1:
        _migrate_1_to_2(db)
    if version in (1, 2):
        _migrate_2_to_3(db)
    if version in (1, 2, 3):
        _migrate_3_to_4(db)
    for statement in filter(str.strip, _SCHEMA.split(";")):
        db.execute(statement)
    if version < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Schema 1 -> 2: the `dpi` column, filled from the `dpi` key of each job's options (then removed)."""
    db.execute("ALTER TABLE jobs ADD COLUMN dpi INTEGER")
    move_dpi(db, DIALECT)


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """Schema 2 -> 3: the `text_layer` column; older jobs read their PDF text layers as `auto` did."""
    db.execute("ALTER TABLE jobs ADD COLUMN text_layer TEXT NOT NULL DEFAULT 'auto'")


def _migrate_3_to_4(db: sqlite3.Connection) -> None:
    """Schema 3 -> 4: a job's `backend_options` and `page_names` (NULL for older jobs: none); the
    `truths` table comes with the schema's CREATE statements."""
    db.execute("ALTER TABLE jobs ADD COLUMN backend_options TEXT")
    db.execute("ALTER TABLE jobs ADD COLUMN page_names TEXT")
