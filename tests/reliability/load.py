"""A bounded load client: a fixed number of connections send requests back to back against a gateway.

Every `job_every`-th request submits a job instead of an interactive OCR request. The client records
each answer's status and latency, the Retry-After of every 429, and the accepted job ids; afterwards
`wait_for_jobs` checks that every accepted job completed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    admitted_latencies_s: list[float] = field(default_factory=list)
    refused_without_retry_after: int = 0
    unexpected: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rss_samples: list[int] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        values = sorted(self.admitted_latencies_s)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


async def _run(
    url: str,
    page: bytes,
    requests: int,
    concurrency: int,
    job_every: int,
    backend: str,
    sample_rss: Callable[[], int] | None,
) -> LoadResult:
    result = LoadResult()
    counter = iter(range(requests))
    files_for = {"file": ("page.png", page, "image/png")}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def one_client(client: httpx.AsyncClient) -> None:
        for number in counter:
            job = job_every > 0 and number % job_every == job_every - 1
            route = "/v1/jobs" if job else "/v1/ocr"
            started = time.perf_counter()
            try:
                response = await client.post(
                    route, files=files_for, data={"backend": backend, "boxes": "none"}
                )
            except httpx.HTTPError as exc:
                result.unexpected.append(f"{route}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - started
            result.sent += 1
            result.statuses[response.status_code] += 1
            if job and response.status_code == 202:
                result.job_ids.append(response.json()["id"])
            elif not job and response.status_code == 200:
                result.admitted_latencies_s.append(elapsed)
            elif not job and response.status_code == 429:
                retry_after = response.headers.get("retry-after", "")
                if not (retry_after.isdigit() and int(retry_after) >= 1):
                    result.refused_without_retry_after += 1
            else:
                result.unexpected.append(f"{route}: HTTP {response.status_code}: {response.text[:200]}")

    async def sampler() -> None:
        while sample_rss is not None:
            result.rss_samples.append(sample_rss())
            await asyncio.sleep(0.5)

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        watch = asyncio.create_task(sampler())
        try:
            await asyncio.gather(*(one_client(client) for _ in range(concurrency)))
        finally:
            watch.cancel()
    result.seconds = time.perf_counter() - started
    if sample_rss is not None:
        result.rss_samples.append(sample_rss())
    return result


def run_load(
    url: str,
    page: bytes,
    requests: int,
    concurrency: int,
    job_every: int = 20,
    backend: str = "noop",
    sample_rss: Callable[[], int] | None = None,
) -> LoadResult:
    """Send `requests` requests over `concurrency` connections; returns what came back."""
    return asyncio.run(_run(url, page, requests, concurrency, job_every, backend, sample_rss))


def wait_for_jobs(url: str, job_ids: list[str], timeout_s: float) -> Counter[str]:
    """Poll every job until it ends (or the time is up); returns how many ended in each status."""
    deadline = time.monotonic() + timeout_s
    final: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < deadline and len(final) < len(job_ids):
            for job_id in job_ids:
                if job_id in final:
                    continue
                job = client.get(f"/v1/jobs/{job_id}").json()
                if job["status"] in ("completed", "failed", "cancelled"):
                    final[job_id] = job["status"]
                    if job["status"] == "completed":
                        assert sum(p["done"] for p in job["progress"].values()) == job["page_count"], job
            time.sleep(0.2)
    statuses = Counter(final.values())
    statuses["unfinished"] = len(job_ids) - len(final)
    return statuses
