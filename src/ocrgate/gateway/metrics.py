"""Prometheus metrics of one gateway (its own registry, so several gateways can live in one process)."""

from __future__ import annotations

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

    def render(self) -> bytes:
        return generate_latest(self.registry)
