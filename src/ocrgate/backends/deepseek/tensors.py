"""Tensor helpers of the static decoder: one-page processor outputs collated into a prefill batch,
and the rotary position embedding of the fixed-shape decode step.

torch is imported inside each function, so importing this module needs no torch.
"""

from __future__ import annotations

from typing import Any


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


def rotary_tables(rotary_emb: Any, length: int, device: Any, dtype: Any) -> tuple[Any, Any]:
    """cos and sin of every position 0..`length` - 1, each (length, head dim) in `dtype`, from a
    transformers rotary embedding (its `inv_freq` and `attention_scaling`), as its forward computes
    them for one position at a time."""
    import torch

    inv_freq = rotary_emb.inv_freq.float().to(device)
    freqs = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    scale = float(rotary_emb.attention_scaling)
    return (emb.cos() * scale).to(dtype), (emb.sin() * scale).to(dtype)


def rotate_half(x: Any) -> Any:
    """The second half of the last dimension, negated, before the first (rotary embedding)."""
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
