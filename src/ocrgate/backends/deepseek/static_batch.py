"""The static decoder's rows on the device and the fixed-shape step that advances every row one token.

`StaticBatch` holds `slots` decoding rows of one loaded `DeepseekOcr2ForConditionalGeneration`: per
decoder layer the static KV cache, keys and values of shape (slots, kv heads, `max_len`, head dim),
and per row the token it feeds next, its position (= its index in the cache), the tokens generated
so far, its budget, its generated history and whether it is live. The scheduler
(`static_decode.StaticDecoder`) fills rows after prefill (`start`) and reads them back when they end.

One step (`run(length)`) is fixed-shape: every row, keys and values up to cache length `length` (a
multiple of `bucket`). On CUDA each length is captured once as a `torch.cuda.CUDAGraph` (about 700
kernels: one replay instead of 700 launches from Python) and replayed; on the CPU the same step runs
eagerly. The step computes, per row: the token embedding, every decoder layer (RMSNorm, q/k/v
projections, rotary embedding from a precomputed table, the new key and value written at the row's
own position, SDPA over the row's cache with a key mask, output projection, the layer's MLP or
mixture of experts as transformers implements it, with `grouped_mm` experts on CUDA), the final
norm, the logits in float32, eos suppressed when asked, vLLM's n-gram repetition ban
(`generation.ngram_ban` over a fixed-size window), the argmax, and the row's bookkeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ocrgate.backends.deepseek.generation import ngram_ban
from ocrgate.backends.deepseek.tensors import rotary_tables, rotate_half

log = logging.getLogger("ocrgate.deepseek.static")


@dataclass
class DecodeSettings:
    """The static decoder's settings (the transformers engine's settings of the same names).

    `slots`: rows decoded at once; `max_len`: tokens per row, prompt + output; `prefill_batch`:
    pages per prefill; `cuda_graphs`: capture the step on CUDA; `sync_every`: decode steps between
    harvests of ended rows; `bucket`: cache lengths are multiples of it (one graph each);
    `ngram_size`, `window_size`, `whitelist_token_ids`: vLLM's n-gram rule, off when `ngram_size` is
    None; `ignore_eos`: eos is never chosen and never ends a row (benchmarks).
    """

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


class StaticBatch:
    """The rows, their cache and the decode step (see the module doc)."""

    def __init__(self, model: Any, eos: int | None, settings: DecodeSettings) -> None:
        import torch

        self.eos, self.cfg = eos, settings
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
        self.cos, self.sin = rotary_tables(text.rotary_emb, length, dev, self.dtype)
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
        self.graphs: dict[int, Any] = {}  # cache length -> its captured step
        self._pool: Any = None

    def capture_all(self) -> None:
        """Every cache length's step as a CUDA graph now (no row is live: the steps change nothing).
        The caller gives the context the steps will later run in (inference mode, SDPA kernels)."""
        import torch

        for length in range(self.cfg.bucket, self.cfg.max_len + self.cfg.bucket, self.cfg.bucket):
            self.run(min(length, self.cfg.max_len))
        torch.cuda.synchronize(self.device)

    def start(self, slots: list[int], first: Any, prompt_lens: list[int], budgets: list[int]) -> Any:
        """Rows `slots` begin: `first` (len(slots),) their first tokens (from prefill), positions at
        the end of their prompts (whose keys and values the caller wrote into `keys`/`values`), their
        budgets. Returns which of them ended already (budget 1, or eos)."""
        import torch

        index = torch.tensor(slots, device=self.device)
        self.tokens[index] = first
        self.history[index, 0] = first
        self.positions[index] = torch.tensor(prompt_lens, device=self.device)
        self.gen_len[index] = 1
        self.budget[index] = torch.tensor(budgets, device=self.device)
        ended = self.budget[index] <= 1
        if self.eos is not None and not self.cfg.ignore_eos:
            ended |= first == self.eos
        self.live[index] = ~ended
        return ended

    def run(self, length: int) -> None:
        """One step over cache length `length`: eager, or its CUDA graph (captured at its first run)."""
        import torch

        if not self.graphs_on:
            self._step(length)
            return
        graph = self.graphs.get(length)
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
        self.graphs[length] = graph
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
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
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
