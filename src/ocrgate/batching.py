"""Merge concurrent single items into batches: callers `submit`, runner threads call `fn(items)` once a batch.

The worker receives pages one request at a time; an engine is faster when it sees those pages as one
batch. `MicroBatcher.submit_future(item)` queues `item` and returns a `concurrent.futures.Future` of its
result (`submit` blocks for it). A runner takes the oldest waiting item, then every waiting item with
the same `key` (items of other keys stay queued, in order), and waits at most `wait_ms` after that for
more of that key, up to `max_batch`; then it calls `fn(items) -> results` once and hands each caller
its result, or every caller the batch's exception. `runners` batches may run at once (one thread each);
while a runner gathers a key, the other runners leave that key's items to it.

Cancelling a future before its batch starts withdraws the item (the `concurrent.futures` protocol:
`set_running_or_notify_cancel`). The same scheme as LitServe's `max_batch_size` / `batch_timeout`
and Triton's dynamic batcher (`max_queue_delay_microseconds`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

#: how long the first item of a batch waits for more by default (milliseconds): a few, against an engine
#: call of tens of milliseconds (CPU) to seconds (a GPU model)
DEFAULT_BATCH_WAIT_MS = 10.0

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(RuntimeError):
    """The batcher was closed before (or while) the item was waiting."""


@dataclass(eq=False)
class _Pending(Generic[T, R]):
    item: T
    key: Hashable
    future: Future[R] = field(default_factory=Future)


def _same(_item: object) -> Hashable:
    return None


class MicroBatcher(Generic[T, R]):
    """Thread-safe micro-batching in front of `fn`; `stats()` counts the batches run by size.

    `max_batch` (>= 1): items per `fn` call; `wait_ms` (>= 0): how long a runner waits for more items
    after the first; `runners` (>= 1): batches that may run at once; `key(item)`: only items with
    equal keys share a batch (default: all items may).
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        max_batch: int = 8,
        wait_ms: float = 20.0,
        name: str = "micro-batcher",
        runners: int = 1,
        key: Callable[[T], Hashable] = _same,
    ) -> None:
        if max_batch < 1 or runners < 1:
            raise ValueError("max_batch and runners must be at least 1")
        if wait_ms < 0:
            raise ValueError("wait_ms must not be negative")
        self.fn = fn
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000.0
        self.key = key
        self.sizes: Counter[int] = Counter()
        self._queue: deque[_Pending[T, R]] = deque()
        self._gathering: set[Hashable] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._runners = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(runners)
        ]
        for runner in self._runners:
            runner.start()

    # -- callers -------------------------------------------------------------------------------
    def submit_future(self, item: T) -> Future[R]:
        """Queue `item`; the future holds its result or its batch's exception. BatcherClosed if closed."""
        return self._enqueue([item])[0].future

    def submit(self, item: T, timeout: float | None = None) -> R:
        """Run `item` in the next batch and return its result; re-raises the batch's exception.
        TimeoutError (and the item withdrawn) when no batch took it within `timeout` seconds."""
        future = self.submit_future(item)
        try:
            return future.result(timeout)
        except TimeoutError:
            if future.cancel():
                raise TimeoutError(f"no batch took the item within {timeout} s") from None
            return future.result()  # already running: its batch will finish

    def submit_many(self, items: Sequence[T]) -> list[R]:
        """Queue all `items` at once (they share batches where `max_batch` allows); results in order.
        The first failure is raised once every item has finished."""
        futures = [pending.future for pending in self._enqueue(list(items))]
        for future in futures:
            future.exception()  # waits
        for future in futures:
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        return [future.result() for future in futures]

    def _enqueue(self, items: list[T]) -> list[_Pending[T, R]]:
        pendings: list[_Pending[T, R]] = [_Pending(item, self.key(item)) for item in items]
        with self._cond:
            if self._closed:
                raise BatcherClosed("the batcher is closed")
            self._queue.extend(pendings)
            self._cond.notify_all()
        return pendings

    def stats(self) -> dict[str, int]:
        """Batches run so far by size, e.g. {"1": 3, "4": 2}."""
        with self._cond:
            return {str(size): count for size, count in sorted(self.sizes.items())}

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop taking items; items still queued fail with BatcherClosed; running batches finish."""
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for pending in left:
            if pending.future.set_running_or_notify_cancel():
                pending.future.set_exception(BatcherClosed("the batcher closed before the item ran"))
        for runner in self._runners:
            if threading.current_thread() is not runner:
                runner.join(timeout)

    # -- runners -------------------------------------------------------------------------------
    def _pop(self, key: Hashable, room: int) -> list[_Pending[T, R]]:
        """Up to `room` queued items of `key`, oldest first, taken out of the queue (lock held)."""
        taken: list[_Pending[T, R]] = []
        kept: deque[_Pending[T, R]] = deque()
        for pending in self._queue:
            if len(taken) < room and pending.key == key:
                taken.append(pending)
            else:
                kept.append(pending)
        self._queue = kept
        return taken

    def _take_batch(self) -> list[_Pending[T, R]] | None:
        with self._cond:
            while True:
                if self._closed:
                    return None
                head = next((p for p in self._queue if p.key not in self._gathering), None)
                if head is not None:
                    break
                self._cond.wait()
            key = head.key
            batch = self._pop(key, self.max_batch)
            self._gathering.add(key)
            deadline = time.monotonic() + self.wait_s
            while len(batch) < self.max_batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
                batch += self._pop(key, self.max_batch - len(batch))
            self._gathering.discard(key)
            self._cond.notify_all()  # another runner may take what is left of this key
        return batch

    def _run(self) -> None:
        while True:
            taken = self._take_batch()
            if taken is None:
                return
            batch = [p for p in taken if p.future.set_running_or_notify_cancel()]  # drop the withdrawn
            if not batch:
                continue
            try:
                results = list(self.fn([p.item for p in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"batch function returned {len(results)} results for {len(batch)} items"
                    )
            except BaseException as exc:  # every caller of the batch gets the failure
                for pending in batch:
                    pending.future.set_exception(exc)
            else:
                for pending, result in zip(batch, results, strict=True):
                    pending.future.set_result(result)
            with self._cond:
                self.sizes[len(batch)] += 1
