"""Overload on a real cluster: many times more concurrent requests than the backend takes.

One noop worker with a known capacity (concurrency 2 + queue 2 pages, each page 100 ms) gets 32
connections sending back to back. Admitted requests must keep a bounded p99, the rest must get 429
with Retry-After at once, the gateway's memory must stay flat, and every job accepted on the way
(one request in 20 is a job) must complete: zero lost. Figures go to bench/reports/overload_N.json.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import CORPUS_DIR, gateway_pid, noop_cluster
from tests.reliability.load import run_load, wait_for_jobs
from tests.reliability.reports import rss_bytes, write_report

CONCURRENCY = 32
CAPACITY = {"concurrency": 2, "queue_size": 2, "delay_s": 0.1}
P99_BOUND_S = 10.0  # measured well under 1 s; the bound is wide because the machine is shared
RSS_GROWTH_BOUND = 100 * 1024 * 1024


@pytest.fixture
def overloaded(tmp_path: Path) -> Iterator[Cluster]:
    cluster = noop_cluster(tmp_path, **CAPACITY)
    yield cluster
    assert cluster.stop() == []


def _overload(cluster: Cluster, requests: int) -> None:
    page = (CORPUS_DIR / "png_named.pdf").read_bytes()  # a small valid PNG
    pid = gateway_pid(cluster)
    run_load(cluster.url, page, requests=50, concurrency=4)  # warm up: imports, pools, caches
    rss_start = rss_bytes(pid)
    result = run_load(cluster.url, page, requests, CONCURRENCY, sample_rss=lambda: rss_bytes(pid))
    jobs = wait_for_jobs(cluster.url, result.job_ids, timeout_s=120 + requests / 50)
    rss_end = rss_bytes(pid)
    admitted = len(result.admitted_latencies_s)
    figures = {
        "requests_sent": result.sent,
        "concurrency": CONCURRENCY,
        "backend_capacity_pages": CAPACITY["concurrency"] + CAPACITY["queue_size"],
        "page_delay_s": CAPACITY["delay_s"],
        "seconds": round(result.seconds, 1),
        "requests_per_s": round(result.sent / result.seconds, 1),
        "admitted": admitted,
        "refused_429": result.statuses[429],
        "refused_without_retry_after": result.refused_without_retry_after,
        "admitted_p50_ms": round(result.percentile(50) * 1000),
        "admitted_p99_ms": round(result.percentile(99) * 1000),
        "admitted_max_ms": round(max(result.admitted_latencies_s, default=0) * 1000),
        "jobs_accepted": len(result.job_ids),
        "jobs_completed": jobs["completed"],
        "jobs_lost": len(result.job_ids) - jobs["completed"],
        "unexpected": result.unexpected[:5],
        "gateway_rss_start_mb": round(rss_start / 2**20, 1),
        "gateway_rss_peak_mb": round(max(result.rss_samples, default=rss_start) / 2**20, 1),
        "gateway_rss_end_mb": round(rss_end / 2**20, 1),
    }
    write_report(f"overload_{requests}", figures)
    assert result.unexpected == []
    assert result.sent == requests
    assert set(result.statuses) <= {200, 202, 429}, result.statuses
    assert admitted > 0 and result.statuses[429] > 0  # it really was overloaded, and still served
    assert result.refused_without_retry_after == 0
    assert result.percentile(99) < P99_BOUND_S
    assert figures["jobs_lost"] == 0, jobs
    assert rss_end - rss_start < RSS_GROWTH_BOUND
    assert gateway_pid(cluster) == pid


def test_overload_short(overloaded: Cluster) -> None:
    _overload(overloaded, 500)


@pytest.mark.slow
def test_overload_10000_requests(overloaded: Cluster) -> None:
    _overload(overloaded, 10_000)
