"""The PostgreSQL job store's tables, created on first use and migrated from older versions.

The schema's version is kept in `ocrgate_schema`: 4. Version 2 gave a job's `dpi` its own column (schema 1
kept it in the options JSON), version 3 its `text_layer`; version 4 adds each job's `backend_options` and
`page_names` and the `ocrgate_truths` table. Two gateways starting at once serialise on an advisory lock.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ocrgate.errors import StorageError
from ocrgate.jobs.sql import Dialect, move_dpi

SCHEMA_VERSION = 4
# how the shared statements (`ocrgate.jobs.sql`) read here: a write transaction's read of its job's row
# locks that row (every write takes it first: see `ocrgate.jobs.postgres`)
DIALECT = Dialect(
    mark="%s", jobs="ocrgate_jobs", pages="ocrgate_pages", truths="ocrgate_truths", seq="seq",
    lock=" FOR NO KEY UPDATE",
)  # fmt: skip
SCHEMA_LOCK = 0x6F6372676174  # advisory lock key that serialises schema creation between gateways
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ocrgate_jobs (
        id TEXT COLLATE "C" PRIMARY KEY, status TEXT NOT NULL, name TEXT NOT NULL, media_type TEXT NOT NULL,
        backends TEXT NOT NULL, options TEXT NOT NULL, boxes TEXT NOT NULL, page_count INTEGER NOT NULL,
        owner TEXT, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL, error TEXT, seq BIGINT GENERATED ALWAYS AS IDENTITY,
        dpi INTEGER, text_layer TEXT NOT NULL DEFAULT 'auto', backend_options TEXT, page_names TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ocrgate_jobs_status ON ocrgate_jobs (status, created_at)",
    "CREATE INDEX IF NOT EXISTS ocrgate_jobs_owner ON ocrgate_jobs (owner, created_at)",
    "CREATE INDEX IF NOT EXISTS ocrgate_jobs_expires ON ocrgate_jobs (expires_at)",
    """CREATE TABLE IF NOT EXISTS ocrgate_pages (
        job_id TEXT COLLATE "C" NOT NULL REFERENCES ocrgate_jobs (id) ON DELETE CASCADE,
        backend TEXT COLLATE "C" NOT NULL, idx INTEGER NOT NULL, status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, result_json TEXT, error TEXT, claimed_by BIGINT,
        updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (job_id, backend, idx)
    )""",
    """CREATE TABLE IF NOT EXISTS ocrgate_inputs (
        job_id TEXT COLLATE "C" PRIMARY KEY REFERENCES ocrgate_jobs (id) ON DELETE CASCADE,
        data BYTEA NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ocrgate_truths (
        job_id TEXT COLLATE "C" NOT NULL REFERENCES ocrgate_jobs (id) ON DELETE CASCADE, idx INTEGER NOT NULL,
        text TEXT NOT NULL, backend TEXT, updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (job_id, idx)
    )""",
)


def create_schema(db: psycopg.Connection[Any], where: str) -> None:
    """Create (or migrate to) schema `SCHEMA_VERSION` inside the caller's transaction `db`.

    Raises StorageError for a database written by a newer ocrgate (`where` names it in the message).
    """
    db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))  # two gateways starting at once
    db.execute(
        "CREATE TABLE IF NOT EXISTS ocrgate_schema"
        " (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
    )
    row = db.execute("SELECT version FROM ocrgate_schema WHERE id = 1").fetchone()
    if row and row["version"] > SCHEMA_VERSION:
        raise StorageError(f"the job store at {where} has schema {row['version']}, newer than this code")
    if row and row["version"] == 1:
        _migrate_1_to_2(db)
    if row and row["version"] in (1, 2):  # schema 3: older jobs read their PDF text layers as `auto` did
        db.execute(
            "ALTER TABLE ocrgate_jobs ADD COLUMN IF NOT EXISTS text_layer TEXT NOT NULL DEFAULT 'auto'"
        )
    if row and row["version"] in (1, 2, 3):  # schema 4: two job columns (the truths table comes below)
        db.execute("ALTER TABLE ocrgate_jobs ADD COLUMN IF NOT EXISTS backend_options TEXT")
        db.execute("ALTER TABLE ocrgate_jobs ADD COLUMN IF NOT EXISTS page_names TEXT")
    for statement in _SCHEMA:
        db.execute(statement)
    db.execute(
        "INSERT INTO ocrgate_schema (id, version) VALUES (1, %s)"
        " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
        (SCHEMA_VERSION,),
    )


def _migrate_1_to_2(db: psycopg.Connection[Any]) -> None:
    """Schema 1 -> 2: the `dpi` column, filled from the `dpi` key of each job's options (then removed)."""
    db.execute("ALTER TABLE ocrgate_jobs ADD COLUMN IF NOT EXISTS dpi INTEGER")
    move_dpi(db, DIALECT)
