"""Comparing engines: each one's `timings.total` is its own, from the start until its last page was
delivered, not the whole comparison's (a fast engine beside a slow one used to show the slow one's)."""

from __future__ import annotations

from pathlib import Path

import anyio
from bench.noop_backend import NoopBackend

from ocrgate import flow
from ocrgate.documents import open_document
from ocrgate.inprocess import LocalRecognizer
from ocrgate.schema import CompareResponse


class SlowNoop(NoopBackend):
    name = "slow-noop"


def test_each_engine_in_a_comparison_has_its_own_total(phototest: Path) -> None:
    fast, slow = NoopBackend({"delay_s": 0.05}), SlowNoop({"delay_s": 0.6})
    document = open_document(phototest.read_bytes(), "phototest.png")
    try:
        response = anyio.run(
            lambda: flow.recognize(document, [LocalRecognizer(fast), LocalRecognizer(slow)], {}, "none")
        )
    finally:
        document.close()
    assert isinstance(response, CompareResponse)
    fast_total = response.results["noop"].timings.total
    slow_total = response.results["slow-noop"].timings.total
    assert fast_total >= 0.05 and slow_total >= 0.6
    assert slow_total - fast_total >= 0.4, (fast_total, slow_total)
    assert response.processing_time == slow_total  # the comparison took as long as its slowest engine
