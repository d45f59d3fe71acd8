"""Servers for the MinerU tests, each a real process on a free loopback port, one per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.mineru.helpers import fake_argv, mineru_env, real_argv, server


@pytest.fixture(scope="session")
def mineru_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MINERU_HOME for real-mineru processes (config, models dir, logs): never the user's ~/.mineru."""
    return tmp_path_factory.mktemp("mineru-home")


@pytest.fixture(scope="session")
def fake_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fake mineru-api (standard tier: every request tier), answering from tests/fixtures/mineru."""
    with server(fake_argv("standard"), tmp_path_factory.mktemp("fake") / "fake.log") as url:
        yield url


@pytest.fixture(scope="session")
def slow_fake_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fake taking 1.5 s a page: for timeouts, cancelling and file_parse's 202."""
    with server(fake_argv("standard", 1.5), tmp_path_factory.mktemp("slow") / "slow.log") as url:
        yield url


@pytest.fixture(scope="session")
def fake_flash_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fake started like the real one below (`--tier flash`), to compare their answers."""
    with server(fake_argv("flash"), tmp_path_factory.mktemp("fake-flash") / "fake.log") as url:
        yield url


@pytest.fixture(scope="session")
def real_api(tmp_path_factory: pytest.TempPathFactory, mineru_home: Path) -> Iterator[str]:
    """The REAL mineru-api 4.0.12 (from .venvs/mineru-test) at tier flash: parses born-digital PDFs
    from their text layer with MinerU's own code; no model weights, so no OCR tiers."""
    argv = real_argv("flash")
    log = tmp_path_factory.mktemp("real") / "mineru-api.log"
    with server(argv, log, env=mineru_env(mineru_home), timeout_s=120) as url:
        yield url
