"""Fixtures for the gateway tests: job stores of either kind, a real PostgreSQL server (postgres.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ocrgate.jobs import JobStore, SQLiteJobStore
from tests.gateway.postgres import postgres_server, postgres_url

__all__ = ["backend", "opener", "postgres_server", "postgres_url"]


@pytest.fixture
def backend() -> str:
    """Which job store a test gets: "sqlite", unless the test is parametrized over "backend"."""
    return "sqlite"


@pytest.fixture
def opener(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], JobStore]:
    """Opens a store on the test's one database (each call: another gateway, or the same one restarted)."""
    if backend == "sqlite":
        return lambda: SQLiteJobStore(tmp_path / "data")
    url = request.getfixturevalue("postgres_url")  # skips first where there is no PostgreSQL
    from ocrgate.jobs.postgres import PostgresJobStore

    return lambda: PostgresJobStore(url)
