"""The `transformers` engine's settings (the backend's `[backends.deepseek-ocr.options]`).

`model`, a local directory with config, weights and processor files (never downloaded); `family`:
`deepseek_ocr2` (default: transformers' own `DeepseekOcr2ForConditionalGeneration` +
`DeepseekOcr2Processor`, checkpoints in that format as `deepseek-community/DeepSeek-OCR-2`) or
`deepseek_ocr` (DeepSeek-OCR 1 through the directory's own Python code, only with
`trust_remote_code = true`, see `remote_code`; its `infer()`: one page at a time, CUDA only, its own
8192-token budget); `dtype` (bfloat16 on CUDA, float32 on CPU); `device` (`auto`: cuda if any);
`attn_implementation`; `experts_implementation` (unset: transformers' choice, `grouped_mm` where
torch has it; `eager` loops over the experts, 1.5x slower a decode step on an H100);
`cudnn_attention` (false: on CUDA, `model.generate` runs
with PyTorch's SDPA limited to its flash / memory-efficient / math kernels, because torch 2.11
otherwise sends the padded-mask attention to cuDNN first, and cuDNN builds a new execution plan,
about 50 ms, for every key length it has not seen, i.e. at every decode step: 75 ms a step on an
H100 whatever the batch, against 19-25 ms without, see bench/records/deepseek_ocr2_h100_tuned.md);
`max_batch` (8): the most pages one `generate` call runs as one `model.generate` (the worker gathers
concurrent pages into batches of that size, see `ocrgate.batching`; a longer list runs as several
batches, one after the other: one batch at a time holds the model); `ngram_size`, `window_size` (100),
`whitelist_token_ids`: vLLM's DeepSeek-OCR anti-repetition rule (`NGramRepeatBan`), off unless
`ngram_size` is set; `ignore_eos` (benchmarks): every page generates exactly `max_tokens`.

`decode`: `generate` (one `model.generate` per batch, as above), `static` (`static_decode`: a static
KV cache of `slots` rows (default `max_batch`) of `max_len` tokens each (4096: prompt + output; a
longer answer ends with finish reason `length`), decode steps captured as CUDA graphs
(`cuda_graphs`, true) and continuous batching: pages from every `generate` call share the rows, a
finished page's row is taken by the next waiting page at once, prompts prefilled `prefill_batch`
(default `max_batch`) at a time), or `auto` (the default: `static` for `deepseek_ocr2` on CUDA,
`generate` elsewhere). Both give the same greedy tokens (tests/backends/deepseek/test_static_decode.py).
With `static`, `max_batch` is the pages of one call and `slots` the pages decoded at once: give the
worker `concurrency` = `slots` (the worker warns when it is lower).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ocrgate.backends.deepseek.static_batch import DecodeSettings


class TransformersSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model: str = Field(description="local directory of the checkpoint and its processor")
    family: Literal["deepseek_ocr2", "deepseek_ocr"] = "deepseek_ocr2"
    trust_remote_code: bool = False
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    device: str = "auto"
    attn_implementation: str | None = None
    experts_implementation: str | None = None
    cudnn_attention: bool = False
    max_batch: int = Field(default=8, ge=1, description="pages one model.generate takes at most")
    ngram_size: int | None = Field(default=None, ge=1)
    window_size: int = Field(default=100, ge=1)
    whitelist_token_ids: list[int] = Field(default_factory=list)
    ignore_eos: bool = False
    decode: Literal["auto", "generate", "static"] = "auto"
    slots: int | None = Field(default=None, ge=1, description="pages decoded at once (static decode)")
    max_len: int = Field(default=4096, ge=64, description="prompt + output tokens per row (static decode)")
    prefill_batch: int | None = Field(default=None, ge=1, description="pages per prefill (static decode)")
    cuda_graphs: bool = True
    sync_every: int = Field(default=8, ge=1, le=256, description="decode steps between harvests")

    def decode_settings(self) -> DecodeSettings:
        """The static decoder's settings: those of the same names, `slots` and `prefill_batch`
        defaulting to `max_batch` (`bucket` is the decoder's own)."""
        shared = self.model_dump(include={f.name for f in fields(DecodeSettings)})
        shared |= {
            "slots": self.slots or self.max_batch,
            "prefill_batch": self.prefill_batch or self.max_batch,
        }
        return DecodeSettings(**shared)
