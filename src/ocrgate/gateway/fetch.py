"""Documents named by an http(s) URL, fetched only from the places the gateway's config allows.

A gateway that fetches whatever URL a request names can be made to reach inside its own network
(server-side request forgery, OWASP API7:2023). So remote URLs are refused unless
`[gateway] fetch_url_prefixes` lists a prefix of them; a prefix matches on URL parts, not characters
(`https://files.example.com/scans/` allows `https://files.example.com/scans/a.pdf`, never
`https://files.example.com.evil.net/scans/` nor `https://files.example.com/scans-other/`).
Redirects are followed only to URLs the list allows too (at most `MAX_REDIRECTS`); the body is
streamed and cut at `max_upload_bytes`; the whole fetch, redirects included, has `fetch_timeout_s`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

import anyio
import httpx

from ocrgate.config import GatewayConfig, Limits
from ocrgate.errors import FetchFailed, FileTooLarge, URLNotAllowed

MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}


def _parts(url: str) -> tuple[str, str, int | None, str]:
    """(scheme, host, port, path) with the defaults filled in, or ValueError."""
    split = urlsplit(url)
    scheme = split.scheme.lower()
    if scheme not in DEFAULT_PORTS or not split.hostname:
        raise ValueError(url)
    return scheme, split.hostname.lower(), split.port or DEFAULT_PORTS[scheme], unquote(split.path) or "/"


def url_allowed(url: str, prefixes: Sequence[str]) -> bool:
    """Whether `url` is an http(s) URL under one of `prefixes`: same scheme, host and port, no
    user info, and a path that is the prefix's path or goes on below it."""
    try:
        scheme, host, port, path = _parts(url)
    except ValueError:
        return False
    if urlsplit(url).username is not None or ".." in path.split("/"):
        return False
    for prefix in prefixes:
        p_scheme, p_host, p_port, p_path = _parts(prefix)
        if (scheme, host, port) != (p_scheme, p_host, p_port):
            continue
        if path == p_path or path.startswith(p_path if p_path.endswith("/") else p_path + "/"):
            return True
    return False


def refuse(url: str, prefixes: Sequence[str]) -> URLNotAllowed:
    shown = url if len(url) <= 200 else url[:200] + "…"
    if not prefixes:
        return URLNotAllowed(
            f"this gateway fetches no remote URLs ({shown}); send the document as a data: URL "
            "(data:application/pdf;base64,...), or list its URL prefix in [gateway] fetch_url_prefixes"
        )
    return URLNotAllowed(f"{shown} is not under any of this gateway's fetch_url_prefixes")


async def fetch_document(
    url: str, gateway: GatewayConfig, limits: Limits, client: httpx.AsyncClient | None = None
) -> bytes:
    """The body of `url`, fetched within the allow-list and the limits.

    Raises URLNotAllowed (403) for a URL or a redirect outside `gateway.fetch_url_prefixes`,
    FileTooLarge (413) past `limits.max_upload_bytes` (declared or streamed), FetchFailed (422) for
    an unreachable host, an answer that is not 2xx, too many redirects, or `fetch_timeout_s` passed.
    """
    prefixes = gateway.fetch_url_prefixes
    if not url_allowed(url, prefixes):
        raise refuse(url, prefixes)
    own = client is None
    http = client or httpx.AsyncClient(timeout=gateway.fetch_timeout_s, trust_env=False)
    try:
        with anyio.fail_after(gateway.fetch_timeout_s):
            return await _follow(http, url, prefixes, limits.max_upload_bytes)
    except TimeoutError as exc:
        raise FetchFailed(f"fetching {url} took longer than {gateway.fetch_timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"fetching {url} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if own:
            await http.aclose()


async def _follow(http: httpx.AsyncClient, url: str, prefixes: Sequence[str], max_bytes: int) -> bytes:
    for _hop in range(MAX_REDIRECTS + 1):
        async with http.stream("GET", url, follow_redirects=False) as response:
            if response.is_redirect:
                location = str(response.url.join(response.headers["location"]))
                if not url_allowed(location, prefixes):
                    raise refuse(location, prefixes)
                url = location
                continue
            if not response.is_success:
                raise FetchFailed(f"fetching {url} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FileTooLarge(f"{url} has {int(declared):,} bytes; the limit is {max_bytes:,} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(f"{url} is over the limit of {max_bytes:,} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    raise FetchFailed(f"fetching {url}: more than {MAX_REDIRECTS} redirects")
