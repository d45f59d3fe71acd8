"""DeepSeek-OCR 2 static decoding (static KV cache, CUDA graphs, continuous batching) on one GPU.

Run from the repository root on a GPU machine (what `scripts/device_deepseek_static.sh` does):

    python -m bench.deepseek_static --out bench/records --slots 64,128,192 --pages-dir DIR

The model is the full-size DeepSeek-OCR 2 architecture with random bfloat16 weights, built as
`bench.deepseek_gpu` builds it and loaded by `TransformersEngine`. For each `--slots` S a static
decoder of S rows is started (its graphs captured at start) and measured on:
- a wave of S pages of exactly `--tokens` output tokens each (eos suppressed): pages/s, the mean
  decode step, the prefill time, VRAM (peak allocated / reserved, nvidia-smi);
- `--mixed` x S pages whose budgets are drawn from [tokens/5, tokens]: continuous batching refills
  rows as pages end, so pages/s counts every page and tokens/s every token.
Beside them: the same step without CUDA graphs, `model.generate`'s step at the same batch (both
over `--probe-tokens` tokens), and the tokens of static decoding against `generate` on the GPU.
The physical floor of a step is the bytes it must read once (the language model's weights and
lm_head, plus each row's keys and values up to the cache length the step attends over) at the
device-to-device copy bandwidth measured in the same run. Pages are the images in `--pages-dir`
(cycled) or the bundled sample page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def pages(directory: Path | None) -> list[Any]:
    from PIL import Image

    from bench.deepseek_gpu import SAMPLE_PAGE

    paths = sorted(p for p in directory.iterdir() if p.suffix in {".png", ".jpg"}) if directory else []
    return [Image.open(p).convert("RGB") for p in paths or [SAMPLE_PAGE]]


def copy_bandwidth(torch: Any) -> float:
    """Bytes read + written per second by a 4 GiB device-to-device copy (median of 10)."""
    src = torch.empty(1 << 31, dtype=torch.int16, device="cuda").random_()
    dst = torch.empty_like(src)
    times = []
    for _ in range(13):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    del src, dst
    torch.cuda.empty_cache()
    return 2 * (1 << 32) / sorted(times[3:])[len(times[3:]) // 2]


def measure(args: argparse.Namespace) -> int:
    assert "torch" not in sys.modules, "torch must be imported only after CUDA_VISIBLE_DEVICES is set"
    import torch
    import transformers

    sys.path.insert(0, str(REPO / "src"))
    from bench.deepseek_gpu import PROMPT, SmiPoller, build_model_dir
    from ocrgate.backends.deepseek.engine import GenerationRequest
    from ocrgate.backends.deepseek.transformers_engine import TransformersEngine

    cuda = torch.cuda.is_available() and not args.tiny
    device = "cuda" if cuda else "cpu"
    images = pages(args.pages_dir)
    record: dict[str, Any] = {
        "host": platform.node(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "tokens_per_page": args.tokens,
        "pages": len(images),
        "image_sizes": [f"{im.width}x{im.height}" for im in images],
        "rows": [],
    }
    uuid = None
    if cuda:
        props = torch.cuda.get_device_properties(0)
        uuid = f"GPU-{props.uuid}" if not str(props.uuid).startswith("GPU-") else str(props.uuid)
        record |= {"gpu_name": props.name, "gpu_uuid": uuid, "gpu_total_mib": props.total_memory // MIB}
        record["copy_bandwidth_tb_s"] = round(copy_bandwidth(torch) / 1e12, 3)
    out = args.out / f"{args.name}.json"

    def save() -> None:
        out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def requests(count: int, budgets: list[int] | None = None) -> list[GenerationRequest]:
        return [
            GenerationRequest(
                image=images[i % len(images)],
                prompt=PROMPT,
                max_tokens=budgets[i] if budgets else args.tokens,
            )
            for i in range(count)
        ]

    with tempfile.TemporaryDirectory(prefix="dsocr2-static-") as tmp:
        t0 = time.perf_counter()
        record |= build_model_dir(Path(tmp), args.tiny, device)
        record["build_seconds"] = round(time.perf_counter() - t0, 2)
        engine = TransformersEngine(
            {
                "model": tmp,
                "device": device,
                "decode": "generate",
                "max_batch": args.prefill,
                "ignore_eos": True,
            }
        )
        t0 = time.perf_counter()
        engine.load()
        record["load_seconds"] = round(time.perf_counter() - t0, 2)
    model = engine.model
    text = model.model.language_model
    text_bytes = sum(p.numel() * p.element_size() for p in text.parameters())
    text_bytes += sum(p.numel() * p.element_size() for p in model.lm_head.parameters())
    config = model.config.text_config
    per_token = (
        2
        * config.num_hidden_layers
        * config.num_key_value_heads
        * (config.hidden_size // config.num_attention_heads)
        * next(model.parameters()).element_size()
    )
    record |= {
        "experts": model.get_experts_implementation(),
        "weights_mib": round(sum(p.numel() * p.element_size() for p in model.parameters()) / MIB),
        "language_model_and_head_mib": round(text_bytes / MIB),
        "kv_bytes_per_token": per_token,
    }
    prompt_lens = [int(engine._prepare("dynamic", r)["input_ids"].shape[1]) for r in requests(len(images))]
    record["prompt_tokens"] = prompt_lens
    save()

    def start(slots: int, graphs: bool = True) -> None:
        if engine.decoder is not None:
            engine.decoder.close()
            engine.decoder = None
            sync()
            if cuda:
                torch.cuda.empty_cache()
        engine.config.slots, engine.config.cuda_graphs = slots, graphs
        engine.config.max_len = args.max_len
        engine._start_decoder()

    def wave(label: str, reqs: list[GenerationRequest], slots: int) -> dict[str, Any]:
        before = engine.decoder.snapshot()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        with SmiPoller(uuid if cuda else "none-cpu") as smi:
            sync()
            t0 = time.perf_counter()
            generations = engine.generate(reqs)
            sync()
            seconds = time.perf_counter() - t0
        after = engine.decoder.snapshot()
        steps = after["steps"] - before["steps"]
        decode_s = after["decode_s"] - before["decode_s"]
        tokens = sum(g.output_tokens or 0 for g in generations)
        # the floor: each row's own keys and values (its prompt and half its output, on average)
        mean_context = sum(prompt_lens) / len(prompt_lens) + sum(r.max_tokens for r in reqs) / len(reqs) / 2
        floor_bytes = text_bytes + slots * mean_context * per_token
        row = {
            "run": label,
            "slots": slots,
            "pages": len(reqs),
            "seconds": round(seconds, 2),
            "pages_per_s": round(len(reqs) / seconds, 3),
            "output_tokens_per_s": round(tokens / seconds, 1),
            "steps": steps,
            "step_ms": round(decode_s / max(1, steps) * 1000, 2),
            "mean_rows_per_step": round((after["row_steps"] - before["row_steps"]) / max(1, steps), 1),
            "prefill_s": round(after["prefill_s"] - before["prefill_s"], 2),
            "all_full_length": all(
                g.output_tokens == r.max_tokens for g, r in zip(generations, reqs, strict=True)
            ),
            "peak_allocated_mib": round(torch.cuda.max_memory_allocated() / MIB) if cuda else None,
            "peak_reserved_mib": round(torch.cuda.max_memory_reserved() / MIB) if cuda else None,
            "nvidia_smi_used_mib": smi.peak if cuda else None,
            "capture_s": after.get("capture_s"),
            "mean_context_tokens": round(mean_context),
        }
        if cuda:
            row["floor_ms"] = round(floor_bytes / (record["copy_bandwidth_tb_s"] * 1e12) * 1000, 2)
            row["floor_weights_ms"] = round(text_bytes / (record["copy_bandwidth_tb_s"] * 1e12) * 1000, 2)
        record["rows"].append(row)
        print(json.dumps(row), flush=True)
        save()
        return row

    started = time.perf_counter()
    for slots in args.slots:
        if time.perf_counter() - started > args.budget_s:
            record["rows"].append(
                {"run": "wave", "slots": slots, "skipped": f"time budget {args.budget_s} s"}
            )
            continue
        try:
            start(slots)
            wave("wave", requests(slots), slots)
            if args.mixed:
                rng = random.Random(slots)
                budgets = [rng.randint(args.tokens // 5, args.tokens) for _ in range(args.mixed * slots)]
                wave("mixed", requests(len(budgets), budgets), slots)
        except Exception as exc:  # e.g. out of memory at the largest size: keep what was measured
            record["rows"].append(
                {"run": "wave", "slots": slots, "error": f"{type(exc).__name__}: {exc}"[:500]}
            )
            print(f"slots {slots}: {type(exc).__name__}: {exc}", flush=True)
            save()
    probe = args.probe_slots
    try:  # the same step without graphs, over a short run
        start(probe, graphs=False)
        reqs = [r.model_copy(update={"max_tokens": args.probe_tokens}) for r in requests(probe)]
        record["eager_probe"] = wave("eager (no CUDA graphs)", reqs, probe)
    except Exception as exc:
        record["eager_probe"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    # model.generate at the same batch: step time from two lengths, so the prefill cancels
    if engine.decoder is not None:
        engine.decoder.close()
        engine.decoder = None
    try:
        engine.config.max_batch = probe

        def timed(tokens: int) -> float:
            reqs = [r.model_copy(update={"max_tokens": tokens}) for r in requests(probe)]
            sync()
            t0 = time.perf_counter()
            engine.generate(reqs)
            sync()
            return time.perf_counter() - t0

        short, long = timed(4), timed(4 + args.probe_tokens)
        record["generate_probe"] = {
            "batch": probe,
            "step_ms": round((long - short) / args.probe_tokens * 1000, 2),
        }
    except Exception as exc:
        record["generate_probe"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    save()
    # tokens: static decoding against generate, in bfloat16 on the GPU (8 pages, greedy, eos allowed)
    try:
        engine.config.ignore_eos = False
        reqs = [r.model_copy(update={"max_tokens": args.probe_tokens}) for r in requests(8)]
        engine.config.max_batch = 8
        plain = engine.generate(reqs)
        start(8)
        fast = engine.generate(reqs)
        same = [a.text == b.text for a, b in zip(plain, fast, strict=True)]
        record["tokens_vs_generate"] = {"pages": len(same), "identical": sum(same)}
    except Exception as exc:
        record["tokens_vs_generate"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    engine.close()
    record["total_seconds"] = round(time.perf_counter() - started, 1)
    save()
    return 0


def markdown(record: dict[str, Any]) -> str:
    lines = [
        f"# DeepSeek-OCR 2 static decoding on {record.get('gpu_name', 'cpu')} {record.get('gpu_uuid') or ''}",
        "",
        f"- {record.get('model')}, {record.get('parameters') or '?'} parameters, weights "
        f"{record.get('weights_mib')} MiB (language model + lm_head "
        f"{record.get('language_model_and_head_mib')} MiB), experts `{record.get('experts')}`; "
        f"torch {record.get('torch')}, transformers {record.get('transformers')}",
        f"- {record.get('pages')} page images cycled ({', '.join(record.get('image_sizes', []))}), prompt "
        f"tokens {record.get('prompt_tokens')}; {record.get('tokens_per_page')} output tokens a page (eos "
        f"suppressed) in `wave` rows, budgets drawn from [1/5, 1] of that in `mixed` rows",
        f"- device-to-device copy: {record.get('copy_bandwidth_tb_s')} TB/s (read + write); KV cache "
        f"{record.get('kv_bytes_per_token')} bytes a token",
        "",
        "| run | slots | pages | s | pages/s | tokens/s | step ms | floor ms (weights) | rows/step "
        "| prefill s | peak alloc MiB | peak reserved MiB | nvidia-smi MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in record.get("rows", []):
        if "pages_per_s" not in row:
            lines.append(f"| {row['run']} | {row['slots']} | {row.get('error') or row.get('skipped')} |")
            continue
        floor = f"{row.get('floor_ms')} ({row.get('floor_weights_ms')})"
        keys = ("pages", "seconds", "pages_per_s", "output_tokens_per_s", "step_ms")
        more = (
            "mean_rows_per_step",
            "prefill_s",
            "peak_allocated_mib",
            "peak_reserved_mib",
            "nvidia_smi_used_mib",
        )
        cells = [row["run"], row["slots"], *(row[k] for k in keys), floor, *(row[k] for k in more)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    for key in ("generate_probe", "tokens_vs_generate", "total_seconds"):
        lines.append(f"\n{key}: {json.dumps(record.get(key))}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "records")
    parser.add_argument("--name", default="deepseek_ocr2_static")
    parser.add_argument("--gpu", default="0")
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--slots", default="64,128,192")
    parser.add_argument("--mixed", type=int, default=2, help="pages of mixed length, in multiples of slots")
    parser.add_argument("--prefill", type=int, default=16, help="pages per prefill")
    parser.add_argument("--max-len", type=int, default=2048)
    parser.add_argument("--probe-slots", type=int, default=64)
    parser.add_argument("--probe-tokens", type=int, default=48)
    parser.add_argument("--budget-s", type=float, default=330.0)
    parser.add_argument("--pages-dir", type=Path, default=None)
    parser.add_argument("--tiny", action="store_true", help="the tiny test model on the CPU")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.slots = [int(s) for s in str(args.slots).split(",") if s]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        return measure(args)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "" if args.tiny else args.gpu}
    code = subprocess.run(
        [sys.executable, "-m", "bench.deepseek_static", "--child", *sys.argv[1:]],
        cwd=REPO,
        env=env,
        check=False,
    ).returncode
    path = args.out / f"{args.name}.json"
    if path.is_file():
        text = markdown(json.loads(path.read_text(encoding="utf-8")))
        (args.out / f"{args.name}.md").write_text(text, encoding="utf-8")
        print(text)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
