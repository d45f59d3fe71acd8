"""Document URLs: the allow-list, and fetches from a real HTTP server on loopback (file_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrgate.config import GatewayConfig, Limits
from ocrgate.errors import FetchFailed, FileTooLarge, URLNotAllowed
from ocrgate.gateway.fetch import fetch_document, url_allowed
from tests.gateway.file_server import file_server

PREFIXES = ["https://files.example.com/scans/", "http://127.0.0.1:8000/docs"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.example.com/scans/a.pdf", True),
        ("https://FILES.example.com:443/scans/sub/a.pdf", True),
        ("http://127.0.0.1:8000/docs", True),
        ("http://127.0.0.1:8000/docs/a.png", True),
        ("http://127.0.0.1:8000/docs-private/a.png", False),
        ("http://127.0.0.1:8001/docs/a.png", False),
        ("http://files.example.com/scans/a.pdf", False),  # another scheme
        ("https://files.example.com.evil.net/scans/a.pdf", False),
        ("https://files.example.com@evil.net/scans/a.pdf", False),
        ("https://user@files.example.com/scans/a.pdf", False),
        ("https://files.example.com/scans/../admin", False),
        ("https://files.example.com/scans/%2e%2e/admin", False),
        ("https://files.example.com/other/a.pdf", False),
        ("file:///etc/passwd", False),
        ("ftp://files.example.com/scans/a.pdf", False),
    ],
)
def test_the_allow_list_matches_url_parts(url: str, allowed: bool) -> None:
    assert url_allowed(url, PREFIXES) is allowed


@pytest.fixture(scope="module")
def files(phototest: Path) -> Iterator[str]:
    with file_server({"page.png": phototest.read_bytes()}) as base:
        yield base


def _config(base: str, timeout_s: float = 10) -> GatewayConfig:
    return GatewayConfig(fetch_url_prefixes=[f"{base}/docs/"], fetch_timeout_s=timeout_s)


async def test_an_allowed_url_is_fetched_through_an_allowed_redirect(files: str, phototest: Path) -> None:
    limits = Limits()
    assert await fetch_document(f"{files}/docs/page.png", _config(files), limits) == phototest.read_bytes()
    assert await fetch_document(f"{files}/docs/hop", _config(files), limits) == phototest.read_bytes()


async def test_refused_urls(files: str) -> None:
    limits = Limits()
    with pytest.raises(URLNotAllowed, match="fetches no remote URLs"):
        await fetch_document(f"{files}/docs/page.png", GatewayConfig(), limits)
    with pytest.raises(URLNotAllowed, match="not under"):
        await fetch_document(f"{files}/private/page.png", _config(files), limits)
    with pytest.raises(URLNotAllowed, match=r"/private/page\.png"):  # a redirect out of the list
        await fetch_document(f"{files}/docs/out", _config(files), limits)


async def test_fetches_that_fail(files: str) -> None:
    small = Limits(max_upload_bytes=1024)
    with pytest.raises(FileTooLarge, match="2,048 bytes"):
        await fetch_document(f"{files}/docs/big-declared", _config(files), small)
    with pytest.raises(FileTooLarge, match="over the limit"):
        await fetch_document(f"{files}/docs/big-streamed", _config(files), small)
    with pytest.raises(FetchFailed, match="HTTP 404"):
        await fetch_document(f"{files}/docs/missing", _config(files), Limits())
    with pytest.raises(FetchFailed, match="redirects"):
        await fetch_document(f"{files}/docs/loop", _config(files), Limits())
    with pytest.raises(FetchFailed, match="longer than 1 s"):
        await fetch_document(f"{files}/docs/slow", _config(files, timeout_s=1), Limits())
