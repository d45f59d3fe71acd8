"""Greedy decoding of DeepSeek-OCR 2 with a static KV cache, CUDA graphs and continuous batching.

`StaticDecoder` owns `slots` decoding rows of one loaded `DeepseekOcr2ForConditionalGeneration`. Pages
are submitted at any time (`submit`, thread-safe); one scheduler thread admits waiting pages into free
rows, runs their prefill (the model's own multimodal forward, `prefill_batch` pages at a time, left
padded, positions from the attention mask exactly as `GenerationMixin.generate` makes them), copies
each page's prompt keys and values into its row of the static cache, and decodes every occupied row
one token per step. A row that ends (end of sequence, its token budget, or `max_len`) frees its slot
at the next harvest (every `sync_every` steps), and a waiting page takes it: pages of different
lengths never wait for the longest one (continuous batching, as vLLM and TGI schedule).

One decode step is fixed-shape: `slots` rows, keys and values of shape (slots, kv heads, L, head dim)
per layer, where L is the smallest multiple of `bucket` that holds the longest occupied row. On CUDA
each L is captured once as a `torch.cuda.CUDAGraph` (about 700 kernels: one replay instead of 700
launches from Python) and replayed; on the CPU the same step runs eagerly. The step computes, per
row: the token embedding, every decoder layer (RMSNorm, q/k/v projections, rotary embedding from a
precomputed table, the new key and value written at the row's own position, SDPA over the row's
cache with a key mask, output projection, the layer's MLP or mixture of experts as transformers
implements it, with `grouped_mm` experts on CUDA), the final norm, the logits in float32, eos
suppressed when asked, vLLM's n-gram repetition ban (`ngram_ban`, the rule of
`generation.NGramRepeatBan` over a fixed-size window), the argmax, and the row's bookkeeping.

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
from ocrgate.errors import BackendError

log = logging.getLogger("ocrgate.deepseek.static")

#: (view kind, request) -> the processor's tensors for that one page (batch of 1, on the CPU)
Prepare = Callable[[str, GenerationRequest], dict[str, Any]]


@dataclass
class DecodeSettings:
    slots: int = 8
    max_len: int = 4096
    prefill_batch: int = 8
    cuda_graphs: bool = True
    sync_every: int = 8
    bucket: int = 256
    ngram_size: int | None = None
    window_size: int = 100
    whitelist_token_ids: Sequence[int] = ()
    ignore_eos: bool = False


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


def ngram_ban(scores: Any, history: Any, gen_len: Any, n: int, window: int, allowed: Any) -> None:
    """vLLM's DeepSeek-OCR n-gram rule on fixed shapes, in place on `scores` (rows, vocab).

    `history` (rows, H) holds each row's generated tokens, `gen_len` (rows,) how many. Over the last
    `window` generated tokens, a token that would complete an n-gram already there is banned, unless
    `allowed` (vocab,) bool marks it whitelisted. Same bans as `generation.NGramRepeatBan`.
    """
    import torch

    if window < n:
        return  # the window never holds n tokens: nothing is ever banned
    rows, vocab = scores.shape
    offsets = torch.arange(window, device=history.device)
    index = gen_len[:, None] - window + offsets[None, :]  # (rows, window) positions in history
    valid = index >= 0
    tokens = history.gather(1, index.clamp(min=0))
    grams = tokens.unfold(1, n, 1)  # (rows, window - n + 1, n)
    prefix = tokens[:, window - n + 1 :]  # the last n - 1 generated tokens
    repeats = (grams[:, :, : n - 1] == prefix[:, None, :]).all(dim=-1)
    repeats &= valid[:, : window - n + 1] & (gen_len >= n)[:, None]
    targets = torch.where(repeats, grams[:, :, n - 1], vocab)
    banned = torch.zeros(rows, vocab + 1, dtype=torch.bool, device=scores.device)
    banned.scatter_(1, targets, True)
    banned = banned[:, :vocab] & ~allowed[None, :]
    scores.masked_fill_(banned, float("-inf"))


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
        import torch

        self.model, self.prepare, self.eos, self.pad, self.cfg = model, prepare, eos, pad, settings
        self.context = context
        text = model.model.language_model
        self.text, self.lm_head = text, model.lm_head
        config = model.config.text_config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.vocab = config.vocab_size
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.graphs_on = settings.cuda_graphs and self.device.type == "cuda"
        s, length, dev = settings.slots, settings.max_len, self.device
        shape = (s, self.kv_heads, length, self.head_dim)
        layers = len(text.layers)
        self.keys = [torch.zeros(shape, dtype=self.dtype, device=dev) for _ in range(layers)]
        self.values = [torch.zeros(shape, dtype=self.dtype, device=dev) for _ in range(layers)]
        inv_freq = text.rotary_emb.inv_freq.float().to(dev)
        freqs = torch.arange(length, device=dev, dtype=torch.float32)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        scale = float(text.rotary_emb.attention_scaling)
        self.cos = (emb.cos() * scale).to(self.dtype)
        self.sin = (emb.sin() * scale).to(self.dtype)
        long = {"dtype": torch.long, "device": dev}
        self.tokens = torch.zeros(s, **long)  # the token each row feeds next
        self.positions = torch.zeros(s, **long)  # its position (= its index in the cache)
        self.gen_len = torch.zeros(s, **long)  # tokens generated so far (the fed one included)
        self.budget = torch.ones(s, **long)
        self.history = torch.zeros(s, length, **long)
        self.live = torch.zeros(s, dtype=torch.bool, device=dev)
        self.rows = torch.arange(s, device=dev)
        self.key_index = torch.arange(length, device=dev)
        self.allowed = torch.zeros(self.vocab, dtype=torch.bool, device=dev)
        listed = [t for t in settings.whitelist_token_ids if 0 <= t < self.vocab]
        if listed:
            self.allowed[torch.tensor(listed, device=dev)] = True
        self._graphs: dict[int, Any] = {}
        self._pool: Any = None
        self._jobs: list[_Job | None] = [None] * s
        self._max_pos = [0] * s  # host-side upper bound of each row's position
        self._waiting: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.stats = {"steps": 0, "row_steps": 0, "decode_s": 0.0, "prefill_s": 0.0, "prefills": 0}
        if self.graphs_on:
            self._capture_all()
        self._thread = threading.Thread(target=self._loop, name="deepseek-static-decode", daemon=True)
        self._thread.start()

    def _capture_all(self) -> None:
        """Every cache length's step as a CUDA graph now, before any page (no row is live: the
        steps change nothing), so no page ever waits for a capture."""
        import torch

        started = time.perf_counter()
        with torch.inference_mode(), self.context():
            for length in range(self.cfg.bucket, self.cfg.max_len + self.cfg.bucket, self.cfg.bucket):
                self._run_step(min(length, self.cfg.max_len))
        torch.cuda.synchronize(self.device)
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
        stats["graphs"] = sorted(self._graphs)
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
        self.live.zero_()

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
                self.keys[layer][slot, :, :length] = cached.keys[row, :, width - length :]
                self.values[layer][slot, :, :length] = cached.values[row, :, width - length :]
            job.slot, job.prompt_len = slot, length
            job.budget = min(job.request.max_tokens, self.cfg.max_len - length)
            self._jobs[slot] = job
            self._max_pos[slot] = length
        index = torch.tensor(slots, device=self.device)
        self.tokens[index] = first
        self.history[index, 0] = first
        self.positions[index] = torch.tensor([j.prompt_len for j in group], device=self.device)
        self.gen_len[index] = 1
        self.budget[index] = torch.tensor([j.budget for j in group], device=self.device)
        ended = self.budget[index] <= 1
        if self.eos is not None and not self.cfg.ignore_eos:
            ended |= first == self.eos
        self.live[index] = ~ended
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
            self._run_step(length)
        for i in occupied:
            self._max_pos[i] = min(self._max_pos[i] + steps, self.cfg.max_len - 1)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        with self._cond:
            self.stats["steps"] += steps
            self.stats["row_steps"] += steps * len(occupied)
            self.stats["decode_s"] += time.perf_counter() - started
        self._harvest()

    def _run_step(self, length: int) -> None:
        import torch

        if not self.graphs_on:
            self._step(length)
            return
        graph = self._graphs.get(length)
        if graph is not None:
            graph.replay()
            return
        # the first step at this length runs eagerly (a real step: kernels chosen, workspaces made),
        # on a side stream as capture wants; the capture itself runs nothing
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            self._step(length)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
            self._step(length)
        self._graphs[length] = graph
        log.info("decode step captured for %d rows x %d cached tokens", self.cfg.slots, length)

    def _step(self, length: int) -> None:
        """One token for every row; reads and writes only the static buffers (graph-capturable)."""
        import torch
        import torch.nn.functional as F

        s, h, kvh, d = self.cfg.slots, self.heads, self.kv_heads, self.head_dim
        x = self.text.embed_tokens(self.tokens)[:, None, :]  # (slots, 1, hidden)
        cos = self.cos[self.positions][:, None, None, :]  # (slots, 1, 1, head dim)
        sin = self.sin[self.positions][:, None, None, :]
        visible = (self.key_index[None, :length] <= self.positions[:, None])[:, None, None, :]
        bias = torch.zeros(visible.shape, dtype=self.dtype, device=self.device).masked_fill_(
            ~visible, float("-inf")
        )
        for index, layer in enumerate(self.text.layers):
            attn = layer.self_attn
            y = layer.input_layernorm(x)
            q = attn.q_proj(y).view(s, 1, h, d).transpose(1, 2)
            k = attn.k_proj(y).view(s, 1, kvh, d).transpose(1, 2)
            v = attn.v_proj(y).view(s, 1, kvh, d).transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            keys, values = self.keys[index], self.values[index]
            keys[self.rows, :, self.positions] = k[:, :, 0]
            values[self.rows, :, self.positions] = v[:, :, 0]
            ks, vs = keys[:, :, :length], values[:, :, :length]
            if kvh != h:
                ks = ks.repeat_interleave(h // kvh, dim=1)
                vs = vs.repeat_interleave(h // kvh, dim=1)
            o = F.scaled_dot_product_attention(q, ks, vs, attn_mask=bias, scale=attn.scaling)
            x = x + attn.o_proj(o.transpose(1, 2).reshape(s, 1, h * d))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        scores = self.lm_head(self.text.norm(x))[:, 0, :].float()
        if self.cfg.ignore_eos and self.eos is not None:
            scores[:, self.eos] = float("-inf")
        if self.cfg.ngram_size:
            ngram_ban(
                scores, self.history, self.gen_len, self.cfg.ngram_size, self.cfg.window_size, self.allowed
            )
        chosen = scores.argmax(-1)
        live = self.live
        write = self.gen_len.clamp(max=self.cfg.max_len - 1)
        self.history[self.rows, write] = torch.where(live, chosen, self.history[self.rows, write])
        ended = (self.gen_len + 1) >= self.budget
        if self.eos is not None and not self.cfg.ignore_eos:
            ended |= chosen == self.eos
        step = live.long()
        self.gen_len.add_(step)
        self.positions.add_(step).clamp_(max=self.cfg.max_len - 1)
        self.tokens.copy_(torch.where(live, chosen, self.tokens))
        self.live.logical_and_(~ended)

    def _harvest(self) -> None:
        """Hand back every occupied row that ended; its slot is free again."""
        occupied = [i for i, job in enumerate(self._jobs) if job is not None]
        if not occupied:
            return
        live = self.live.tolist()
        done = [i for i in occupied if not live[i]]
        if not done:
            return
        lengths = self.gen_len.tolist()
        histories = self.history[done].tolist()
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


def collate(pages: list[dict[str, Any]], pad: int, device: Any, dtype: Any) -> dict[str, Any]:
    """One-page processor outputs as one left-padded batch, as the processor pads a batch itself:
    `input_ids` padded with `pad`, `attention_mask` with 0, images concatenated (pixels in `dtype`)."""
    import torch

    width = max(int(p["input_ids"].shape[1]) for p in pages)

    def left(key: str, fill: int) -> Any:
        rows = [torch.nn.functional.pad(p[key], (width - p[key].shape[1], 0), value=fill) for p in pages]
        return torch.cat(rows).to(device)

    batch = {"input_ids": left("input_ids", pad), "attention_mask": left("attention_mask", 0)}
    batch["pixel_values"] = torch.cat([p["pixel_values"] for p in pages]).to(device, dtype)
    if any("num_local_patches" in p for p in pages):
        counts = [p.get("num_local_patches", torch.zeros(1, dtype=torch.long)) for p in pages]
        batch["num_local_patches"] = torch.cat(counts).to(device)
    local = [p["pixel_values_local"] for p in pages if p.get("pixel_values_local") is not None]
    if local:
        batch["pixel_values_local"] = torch.cat(local).to(device, dtype)
    return batch


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
