"""Greedy decoding of DeepSeek-OCR 2 with a static KV cache, CUDA graphs and continuous batching.

`StaticDecoder` owns `slots` decoding rows of one loaded `DeepseekOcr2ForConditionalGeneration`. Pages
are submitted at any time (`submit`, thread-safe); one scheduler thread admits waiting pages into free
rows, runs their prefill (the model's own multimodal forward, `prefill_batch` pages at a time, left
padded, positions from the attention mask exactly as `GenerationMixin.generate` makes them), copies
each page's prompt keys and values into its row of the static cache, and decodes every occupied row
one token per step. A row that ends (end of sequence, its token budget, or `max_len`) frees its slot
at the next harvest (every `sync_every` steps), and a waiting page takes it: pages of different
lengths never wait for the longest one (continuous batching, as vLLM and TGI schedule).

The rows, their static cache and the fixed-shape decode step (captured as CUDA graphs on CUDA) are
`static_batch.StaticBatch`; this module is the scheduler around it. Each step runs over the cache
length L, the smallest multiple of `bucket` that holds the longest occupied row.

Same tokens as `model.generate`: greedy, the same logits processors, positions and masks; on the CPU
in float32 the tokens are equal (tests/backends/deepseek/test_static_decode.py). Output budgets are
capped by `max_len` - prompt length (the static cache's length; `finish_reason` `length`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from ocrgate.backends.deepseek.engine import GenerationRequest
from ocrgate.backends.deepseek.static_batch import DecodeSettings, StaticBatch
from ocrgate.backends.deepseek.tensors import collate
from ocrgate.errors import BackendError

log = logging.getLogger("ocrgate.deepseek.static")

#: (view kind, request) -> the processor's tensors for that one page (batch of 1, on the CPU)
Prepare = Callable[[str, GenerationRequest], dict[str, Any]]


@dataclass(eq=False)
class DecodeResult:
    """One page's generated token ids (eos included when it stopped there) and how it ended."""

    tokens: list[int]
    finish_reason: str
    prompt_tokens: int
    seconds: float


@dataclass(eq=False)
class _Job:
    request: GenerationRequest
    view: str
    inputs: dict[str, Any]
    future: Future[DecodeResult] = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)
    slot: int = -1
    prompt_len: int = 0
    budget: int = 0


class StaticDecoder:
    """Continuous-batching greedy decoder over a static cache (see the module doc)."""

    def __init__(
        self,
        model: Any,
        prepare: Prepare,
        eos: int | None,
        pad: int,
        settings: DecodeSettings,
        context: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
    ) -> None:
        """`prepare` processes one page's image and prompt; `context()` wraps all the decoding
        thread's work (the engine's SDPA kernel choice)."""
        self.model, self.prepare, self.eos, self.pad, self.cfg = model, prepare, eos, pad, settings
        self.context = context
        self.batch = StaticBatch(model, eos, settings)
        self.device, self.dtype = self.batch.device, self.batch.dtype
        self._jobs: list[_Job | None] = [None] * settings.slots
        self._max_pos = [0] * settings.slots  # host-side upper bound of each row's position
        self._waiting: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.stats = {"steps": 0, "row_steps": 0, "decode_s": 0.0, "prefill_s": 0.0, "prefills": 0}
        if self.batch.graphs_on:
            self._capture_all()
        self._thread = threading.Thread(target=self._loop, name="deepseek-static-decode", daemon=True)
        self._thread.start()

    def _capture_all(self) -> None:
        """Every cache length's step as a CUDA graph now, before any page, so no page ever waits for
        a capture."""
        import torch

        started = time.perf_counter()
        with torch.inference_mode(), self.context():
            self.batch.capture_all()
        self.stats["capture_s"] = round(time.perf_counter() - started, 2)

    # -- callers ---------------------------------------------------------------------------------
    def submit(
        self, requests: Sequence[GenerationRequest], views: Sequence[str]
    ) -> list[Future[DecodeResult]]:
        """Queue pages (any thread); each future holds its `DecodeResult` or the error that ended it.
        The pages' images are processed here, in the caller's thread, not in the decoding one."""
        jobs = [
            _Job(request, view, self.prepare(view, request))
            for request, view in zip(requests, views, strict=True)
        ]
        with self._cond:
            if self._closed:
                raise BackendError("the decoder is closed")
            self._waiting.extend(jobs)
            self._cond.notify_all()
        return [job.future for job in jobs]

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=60)

    def snapshot(self) -> dict[str, Any]:
        """Counters for /health and the benchmarks: steps, occupied row-steps, seconds, graphs."""
        with self._cond:
            stats = dict(self.stats)
        steps = stats["steps"] or 1
        stats["mean_step_ms"] = round(stats["decode_s"] / steps * 1000, 3)
        stats["mean_rows"] = round(stats["row_steps"] / steps, 2)
        stats["graphs"] = sorted(self.batch.graphs)
        stats["slots"], stats["max_len"] = self.cfg.slots, self.cfg.max_len
        stats["waiting"] = len(self._waiting)
        if self.device.type == "cuda":
            import torch

            stats["max_reserved_mib"] = torch.cuda.max_memory_reserved(self.device) // (1 << 20)
            stats["max_allocated_mib"] = torch.cuda.max_memory_allocated(self.device) // (1 << 20)
        return stats

    # -- the scheduler thread -------------------------------------------------------------------
    def _loop(self) -> None:
        import torch

        with torch.inference_mode(), self.context():
            while True:
                with self._cond:
                    while not self._closed and not self._waiting and not any(self._jobs):
                        self._cond.wait()
                    if self._closed:
                        break
                try:
                    self._admit()
                    if any(self._jobs):
                        self._decode(self.cfg.sync_every)
                except Exception as exc:  # every page in flight fails with it; the decoder goes on
                    log.exception("static decode failed")
                    self._fail_all(exc)
        self._fail_all(BackendError("the decoder closed"))

    def _fail_all(self, exc: BaseException) -> None:
        with self._cond:
            waiting, self._waiting = list(self._waiting), deque()
        for job in [*waiting, *(j for j in self._jobs if j is not None)]:
            if not job.future.done():
                job.future.set_exception(exc)
        self._jobs = [None] * self.cfg.slots
        self.batch.live.zero_()

    def _admit(self) -> None:
        free = [i for i, job in enumerate(self._jobs) if job is None]
        while free:
            with self._cond:
                if not self._waiting:
                    return
                view = self._waiting[0].view
                group: list[_Job] = []
                for job in list(self._waiting):
                    if job.view == view and len(group) < min(len(free), self.cfg.prefill_batch):
                        group.append(job)
                for job in group:
                    self._waiting.remove(job)
            group = [job for job in group if job.future.set_running_or_notify_cancel()]
            if not group:
                continue
            try:
                self._prefill(group, free[: len(group)])
            except Exception as exc:
                log.exception("prefill of %d pages failed", len(group))
                for job in group:
                    if not job.future.done():
                        job.future.set_exception(exc)
                    if job.slot >= 0:
                        self._jobs[job.slot] = None
            free = [i for i, job in enumerate(self._jobs) if job is None]

    def _prefill(self, group: list[_Job], slots: list[int]) -> None:
        """The model's own forward over the prompts; their keys/values into the rows; first tokens."""
        import torch
        from transformers import DynamicCache

        started = time.perf_counter()
        inputs = collate([job.inputs for job in group], self.pad, self.device, self.dtype)
        mask = inputs["attention_mask"]
        positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
        cache = DynamicCache(config=self.model.config.text_config)
        out = self.model(
            **inputs, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1
        )
        scores = out.logits[:, -1, :].float()
        if self.cfg.ignore_eos and self.eos is not None:
            scores[:, self.eos] = float("-inf")
        first = scores.argmax(-1)  # nothing generated yet: the n-gram rule bans nothing
        width = int(mask.shape[1])
        lengths = mask.sum(-1).tolist()
        for row, (job, slot, length) in enumerate(zip(group, slots, lengths, strict=True)):
            length = int(length)
            if length >= self.cfg.max_len:
                raise BackendError(f"a prompt of {length} tokens does not fit max_len {self.cfg.max_len}")
            for layer, cached in enumerate(cache.layers):
                self.batch.keys[layer][slot, :, :length] = cached.keys[row, :, width - length :]
                self.batch.values[layer][slot, :, :length] = cached.values[row, :, width - length :]
            job.slot, job.prompt_len = slot, length
            job.budget = min(job.request.max_tokens, self.cfg.max_len - length)
            self._jobs[slot] = job
            self._max_pos[slot] = length
        ended = self.batch.start(slots, first, [j.prompt_len for j in group], [j.budget for j in group])
        del out, cache, inputs, scores
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            # the vision tower's activations (rel-pos biases of n^2 per head) are the largest memory
            # of all; hand them back so the process stays near weights + cache between prefills
            torch.cuda.empty_cache()
        with self._cond:
            self.stats["prefill_s"] += time.perf_counter() - started
            self.stats["prefills"] += 1
        if bool(ended.any()):
            self._harvest()

    def _decode(self, steps: int) -> None:
        import torch

        started = time.perf_counter()
        occupied = [i for i, job in enumerate(self._jobs) if job is not None]
        longest = max(self._max_pos[i] for i in occupied) + steps + 1
        length = min(self.cfg.max_len, -(-longest // self.cfg.bucket) * self.cfg.bucket)
        for _ in range(steps):
            self.batch.run(length)
        for i in occupied:
            self._max_pos[i] = min(self._max_pos[i] + steps, self.cfg.max_len - 1)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        with self._cond:
            self.stats["steps"] += steps
            self.stats["row_steps"] += steps * len(occupied)
            self.stats["decode_s"] += time.perf_counter() - started
        self._harvest()

    def _harvest(self) -> None:
        """Hand back every occupied row that ended; its slot is free again."""
        occupied = [i for i, job in enumerate(self._jobs) if job is not None]
        if not occupied:
            return
        live = self.batch.live.tolist()
        done = [i for i in occupied if not live[i]]
        if not done:
            return
        lengths = self.batch.gen_len.tolist()
        histories = self.batch.history[done].tolist()
        now = time.perf_counter()
        for slot, row in zip(done, histories, strict=True):
            job = self._jobs[slot]
            assert job is not None
            tokens = row[: lengths[slot]]
            stopped = self.eos is not None and not self.cfg.ignore_eos and tokens[-1:] == [self.eos]
            self._jobs[slot] = None
            job.future.set_result(
                DecodeResult(
                    tokens=tokens,
                    finish_reason="stop" if stopped else "length",
                    prompt_tokens=job.prompt_len,
                    seconds=now - job.submitted,
                )
            )
