"""Prometheus metrics of one gateway (its own registry, so several gateways can live in one process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ocrgate_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "ocrgate_request_seconds",
            "Request latency per backend",
            ["backend"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pages = Counter(
            "ocrgate_pages", "Pages processed", ["backend", "outcome"], registry=self.registry
        )
        self.errors = Counter("ocrgate_errors", "Errors answered", ["code"], registry=self.registry)
        self.queue_depth = Gauge(
            "ocrgate_queue_depth", "Pages waiting or running per backend", ["backend"], registry=self.registry
        )
        self.healthy_workers = Gauge(
            "ocrgate_healthy_workers", "Healthy workers per backend", ["backend"], registry=self.registry
        )

        # each (route, status) counter's child, looked up once: `labels()` costs a lock and a validation
        self._answers: dict[tuple[str, int], Callable[[], None]] = {}
        self._children: dict[tuple[Any, ...], Any] = {}

    def count_answer(self, route: str, status: int) -> None:
        """One HTTP answer of `status` to `route` (its path template, `other` for unmatched paths):
        `ocrgate_requests`, and `ocrgate_errors` for a status of 400 or more."""
        inc = self._answers.get((route, status))
        if inc is None:
            requests = self.requests.labels(route, str(status))
            errors = self.errors.labels(str(status)) if status >= 400 else None

            def inc() -> None:
                requests.inc()
                if errors is not None:
                    errors.inc()

            self._answers[(route, status)] = inc
        inc()

    def pages_done(self, backend: str, count: int) -> None:
        """`count` pages read by `backend` (`ocrgate_pages`, outcome `done`)."""
        self._child(self.pages, backend, "done").inc(count)

    def request_seconds(self, backend: str, seconds: float) -> None:
        """One request's seconds through `backend` (`ocrgate_request_seconds`)."""
        self._child(self.latency, backend).observe(seconds)

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once per label set (see `count_answer`)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)
