"""The micro-batcher: batches by size and key, results in order, failures to every caller, withdrawal."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ocrgate.batching import BatcherClosed, MicroBatcher


def test_batcher_delivers_exceptions_to_every_caller() -> None:
    def fail(items: list[int]) -> list[int]:
        raise ValueError(f"batch of {len(items)} failed")

    batcher: MicroBatcher[int, int] = MicroBatcher(fail, max_batch=3, wait_ms=2000)
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(batcher.submit, i) for i in range(3)]
            errors = [f.exception(timeout=10) for f in futures]
        assert all(isinstance(e, ValueError) and "batch of 3" in str(e) for e in errors)
        assert batcher.stats() == {"3": 1}
    finally:
        batcher.close()


def test_batcher_results_order_split_and_close() -> None:
    seen: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        seen.append(items)
        return [2 * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(double, max_batch=4, wait_ms=50)
    assert batcher.submit_many(list(range(10))) == [2 * i for i in range(10)]
    assert [len(b) for b in seen] == [4, 4, 2]
    assert batcher.submit(21) == 42
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(1)


def test_only_items_with_equal_keys_share_a_batch() -> None:
    seen: list[list[str]] = []

    def upper(items: list[str]) -> list[str]:
        seen.append(items)
        return [item.upper() for item in items]

    batcher: MicroBatcher[str, str] = MicroBatcher(upper, max_batch=8, wait_ms=50, key=lambda s: s[0])
    try:
        items = ["a1", "b1", "a2", "c1", "b2", "a3"]
        assert batcher.submit_many(items) == [item.upper() for item in items]
        assert sorted(seen) == [["a1", "a2", "a3"], ["b1", "b2"], ["c1"]]
        assert seen[0] == ["a1", "a2", "a3"]  # the oldest item's key goes first, in arrival order
    finally:
        batcher.close()


def test_several_runners_run_batches_at_once() -> None:
    """Two runners, batches of 2: four items run as two batches at the same time (both wait for the
    other at a barrier, which one runner alone could never pass)."""
    both = threading.Barrier(2, timeout=10)

    def meet(items: list[int]) -> list[int]:
        both.wait()
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(meet, max_batch=2, wait_ms=500, runners=2)
    try:
        assert batcher.submit_many([1, 2, 3, 4]) == [1, 2, 3, 4]
        assert batcher.stats() == {"2": 2}
    finally:
        batcher.close()


def test_a_cancelled_item_is_withdrawn_before_its_batch() -> None:
    seen: list[list[int]] = []
    gate = threading.Event()

    def hold(items: list[int]) -> list[int]:
        seen.append(items)
        gate.wait(10)
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(hold, max_batch=1, wait_ms=0)
    try:
        first = batcher.submit_future(1)  # runs, held at the gate
        second = batcher.submit_future(2)
        assert second.cancel()  # still queued: withdrawn
        third = batcher.submit_future(3)
        gate.set()
        assert (first.result(10), third.result(10)) == (1, 3)
        assert seen == [[1], [3]]
    finally:
        batcher.close()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(list, max_batch=0)
    with pytest.raises(ValueError):
        MicroBatcher(list, runners=0)
    with pytest.raises(ValueError):
        MicroBatcher(list, wait_ms=-1)
