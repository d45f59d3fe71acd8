"""Merge concurrent single-item calls into batches: many threads `submit`, one runner thread runs `fn`.

The worker calls the backend's `ocr_page` from several threads at once; a model is faster when it
sees those pages as one batch. `MicroBatcher.submit(item)` blocks its caller until the result (or
the exception) of the batch that carried `item` is back. The runner takes the first waiting item,
then waits at most `wait_ms` for more, up to `max_batch`, and calls `fn(items) -> results` once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(RuntimeError):
    """The batcher was closed before (or while) the item was waiting."""


@dataclass(eq=False)
class _Pending(Generic[T, R]):
    item: T
    done: threading.Event = field(default_factory=threading.Event)
    result: R | None = None
    error: BaseException | None = None


class MicroBatcher(Generic[T, R]):
    """Thread-safe micro-batching in front of `fn`; `sizes` counts batches by size (for /health)."""

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        max_batch: int = 8,
        wait_ms: float = 20.0,
        name: str = "micro-batcher",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if wait_ms < 0:
            raise ValueError("wait_ms must not be negative")
        self.fn = fn
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000.0
        self.sizes: Counter[int] = Counter()
        self._queue: deque[_Pending[T, R]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._runner = threading.Thread(target=self._run, name=name, daemon=True)
        self._runner.start()

    # -- callers -------------------------------------------------------------------------------
    def submit(self, item: T, timeout: float | None = None) -> R:
        """Run `item` in the next batch and return its result; re-raises the batch's exception."""
        pending: _Pending[T, R] = _Pending(item)
        with self._cond:
            if self._closed:
                raise BatcherClosed("the batcher is closed")
            self._queue.append(pending)
            self._cond.notify_all()
        if not pending.done.wait(timeout):
            with self._cond:
                if pending in self._queue:  # not started yet: withdraw it
                    self._queue.remove(pending)
                    raise TimeoutError(f"no batch took the item within {timeout} s")
            pending.done.wait()  # already running: its batch will finish
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def submit_many(self, items: Sequence[T]) -> list[R]:
        """Queue all `items` at once (they share batches where `max_batch` allows); results in order.
        The first failure is raised once every item has finished."""
        pendings: list[_Pending[T, R]] = [_Pending(item) for item in items]
        with self._cond:
            if self._closed:
                raise BatcherClosed("the batcher is closed")
            self._queue.extend(pendings)
            self._cond.notify_all()
        for pending in pendings:
            pending.done.wait()
        for pending in pendings:
            if pending.error is not None:
                raise pending.error
        return [p.result for p in pendings]  # type: ignore[misc]

    def stats(self) -> dict[str, int]:
        """Batches run so far by size, e.g. {"1": 3, "4": 2}."""
        with self._cond:
            return {str(size): count for size, count in sorted(self.sizes.items())}

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop taking items; items still queued fail with BatcherClosed; a running batch finishes."""
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for pending in left:
            pending.error = BatcherClosed("the batcher closed before the item ran")
            pending.done.set()
        if threading.current_thread() is not self._runner:
            self._runner.join(timeout)

    # -- runner --------------------------------------------------------------------------------
    def _take_batch(self) -> list[_Pending[T, R]] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            deadline = time.monotonic() + self.wait_s
            while len(self._queue) < self.max_batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if self._closed and not self._queue:
                return None
            count = min(self.max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            try:
                results = list(self.fn([p.item for p in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"batch function returned {len(results)} results for {len(batch)} items"
                    )
            except BaseException as exc:  # every caller of the batch gets the failure
                for pending in batch:
                    pending.error = exc
            else:
                for pending, result in zip(batch, results, strict=True):
                    pending.result = result
            with self._cond:
                self.sizes[len(batch)] += 1
            for pending in batch:
                pending.done.set()
