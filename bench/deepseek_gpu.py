"""DeepSeek-OCR 2 through the transformers engine on one GPU: VRAM and throughput per batch size.

Run from the repository root on a GPU machine (what `scripts/device_deepseek_bench.sh` does):

    python -m bench.deepseek_gpu --out bench/records

The model is the full-size DeepSeek-OCR 2 architecture (transformers' `DeepseekOcr2Config` with the
released checkpoint's sizes: SAM ViT-B, a 24-layer Qwen2-style vision encoder of width 896, the
3B MoE decoder with 64 routed + 2 shared experts, vocabulary 129,280), untrained random weights in
bfloat16, written to a temporary directory with a locally built tokenizer of the released vocabulary
size and loaded back by `TransformersEngine.load()`. Every page then generates exactly `--tokens`
tokens (`ignore_eos`) through `TransformersEngine.generate`, one engine batch per batch size. Text
is meaningless; speed and memory are those of the real architecture.

The measuring runs in a child process pinned to one GPU (CUDA_VISIBLE_DEVICES is set before torch
is imported); it appends each batch size's figures to the JSON as it goes, so a run cut short keeps
what it measured. `--tiny` runs the tiny test model on the CPU (a check of the script itself).
`--engine-option KEY=JSON` adds an engine setting (e.g. `cudnn_attention=true`).

`--profile` measures no sweep: for batch `--profile-batch` (8) it reports the experts / attention
implementations the model resolved, the decode time per step (two runs of `--profile-tokens` (48)
tokens apart, so the prefill cancels) with and without cuDNN attention (a first and a second pass
over the same shapes), at batch 1, with the n-gram rule, with eager experts, and in a bare forward
loop without `generate`, then a torch.profiler table (top 15 by self device time and by self CPU
time) and a cProfile of one generate; the figures go to `<name>.json` (default
`deepseek_ocr2_gpu_profile`), the tables to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO.parent / "shared" / "eval"
SAMPLE_PAGE = REPO / "src" / "ocrgate" / "samples" / "sample_page.png"
PROMPT = "<|grounding|>Convert the document to markdown."
MIB = 1024 * 1024

#: the released checkpoint's sizes (deepseek-ai/DeepSeek-OCR-2 config.json, its deepencoderv2
#: source, and the transformers conversion's config); SAM keeps transformers' ViT-B defaults
RELEASED_TEXT = {
    "vocab_size": 129280,
    "hidden_size": 1280,
    "intermediate_size": 6848,
    "num_hidden_layers": 12,
    "num_attention_heads": 10,
    "num_key_value_heads": 10,
    "moe_intermediate_size": 896,
    "n_routed_experts": 64,
    "n_shared_experts": 2,
    "num_experts_per_tok": 6,
    "n_group": 1,
    "topk_group": 1,
    "topk_method": "greedy",
    "mlp_layer_types": ["dense"] + ["sparse"] * 11,
    "max_position_embeddings": 8192,
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
}
RELEASED_ENCODER = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
}
#: ids of the released tokenizer that matter: bos 0, eos 1, pad 2, the image token 128815 (the
#: grounding tokens' ids are placeholders: only the vocabulary size and these ids shape the run)
RELEASED_IDS = {
    "<｜begin▁of▁sentence｜>": 0,
    "<｜end▁of▁sentence｜>": 1,
    "<｜▁pad▁｜>": 2,
    "<image>": 128815,
    "<|grounding|>": 128816,
    "<|ref|>": 128817,
    "<|/ref|>": 128818,
    "<|det|>": 128819,
    "<|/det|>": 128820,
}


def page_images(limit: int = 8) -> tuple[list[Any], str]:
    from PIL import Image

    manifest = EVAL_DIR / "manifest.jsonl"
    if manifest.is_file():
        entries = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line]
        paths = [EVAL_DIR / e["image"] for e in entries if e.get("image")][:limit]
        return [Image.open(p).convert("RGB") for p in paths], f"{len(paths)} pages of shared/eval"
    return [Image.open(SAMPLE_PAGE).convert("RGB")], "src/ocrgate/samples/sample_page.png"


def build_model_dir(path: Path, tiny: bool, device: str) -> dict[str, Any]:
    """Random-weight model + processor in `path`; returns a summary of what was built."""
    import torch
    from transformers import DeepseekOcr2Config, DeepseekOcr2ForConditionalGeneration

    sys.path.insert(0, str(REPO))
    from tests.backends.deepseek import tiny_model

    if tiny:
        tiny_model.build_tiny_model(path)
        return {"model": "tiny test model", "parameters": None}
    tokenizer = tiny_model.build_id_tokenizer(RELEASED_TEXT["vocab_size"], RELEASED_IDS)
    config = DeepseekOcr2Config(
        vision_config={"sam_config": {}, "encoder_config": RELEASED_ENCODER},
        text_config={**RELEASED_TEXT, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2},
        image_token_id=RELEASED_IDS["<image>"],
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = DeepseekOcr2ForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    parameters = sum(p.numel() for p in model.parameters())
    tiny_model.save_model_dir(path, model, tokenizer, image_size=1024, tile_size=768, patch_size=16)
    del model
    return {"model": "DeepSeek-OCR 2 architecture, released sizes, random weights", "parameters": parameters}


class SmiPoller:
    """Largest `nvidia-smi` memory.used (MiB) of one GPU while running."""

    def __init__(self, uuid: str | None) -> None:
        self.uuid, self.peak, self._stop = uuid, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        command = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
        if self.uuid:
            command += ["-i", self.uuid]
        while not self._stop.is_set():
            try:
                out = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
                self.peak = max([self.peak, *(int(v) for v in out.split() if v.isdigit())])
            except (OSError, subprocess.SubprocessError):
                return
            self._stop.wait(0.25)

    def __enter__(self) -> SmiPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def measure(args: argparse.Namespace) -> int:
    """The child: pinned already; builds, loads and measures, writing JSON after each size."""
    assert "torch" not in sys.modules, "torch must be imported only after CUDA_VISIBLE_DEVICES is set"
    import torch
    import transformers

    sys.path.insert(0, str(REPO / "src"))
    from ocrgate.backends.deepseek.engine import GenerationRequest
    from ocrgate.backends.deepseek.transformers_engine import TransformersEngine

    cuda = torch.cuda.is_available() and not args.tiny
    device = "cuda" if cuda else "cpu"
    record: dict[str, Any] = {
        "host": platform.node(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "device": device,
        "tokens_per_page": args.tokens,
        "prompt": PROMPT,
        "results": [],
    }
    uuid = None
    if cuda:
        props = torch.cuda.get_device_properties(0)
        uuid = str(getattr(props, "uuid", "") or "") or None
        if uuid and not uuid.startswith("GPU-"):
            uuid = f"GPU-{uuid}"
        record |= {"gpu_name": props.name, "gpu_uuid": uuid, "gpu_total_mib": props.total_memory // MIB}
    out_json = args.out / f"{args.name}.json"

    def save() -> None:
        out_json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dsocr2-bench-") as tmp:
        t0 = time.perf_counter()
        record |= build_model_dir(Path(tmp), args.tiny, device)
        record["build_seconds"] = round(time.perf_counter() - t0, 2)
        if cuda:
            torch.cuda.empty_cache()
        settings = {"model": tmp, "device": device, "max_batch": max(args.batch_sizes)}
        settings |= args.engine_options
        record["engine_options"] = args.engine_options
        engine = TransformersEngine({**settings, "ignore_eos": True})
        t0 = time.perf_counter()
        engine.load()
        record["load_seconds"] = round(time.perf_counter() - t0, 2)
        record["resolved"] = _resolved(engine.model)
        record["cudnn_attention"] = engine.config.cudnn_attention
        weights = sum(p.numel() * p.element_size() for p in engine.model.parameters())
        record["weights_mib"] = round(weights / MIB)
    images, record["pages"] = page_images()
    record["image_sizes"] = sorted({f"{im.width}x{im.height}" for im in images})
    processor = engine._processors["dynamic"]
    one = processor(images=[images[0]], text=[f"<image>\n{PROMPT}"], return_tensors="pt")
    record["prompt_tokens_first_page"] = int(one["input_ids"].shape[1])
    engine.generate([GenerationRequest(image=images[0], prompt=PROMPT, max_tokens=8)])  # warm-up
    save()
    last = 0.0
    for size in args.batch_sizes:
        elapsed = time.perf_counter() - started
        if last and elapsed + last * 2.2 > args.budget_s:
            record["results"].append({"batch": size, "skipped": f"time budget of {args.budget_s} s"})
            save()
            continue
        requests = [
            GenerationRequest(image=images[i % len(images)], prompt=PROMPT, max_tokens=args.tokens)
            for i in range(size)
        ]
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        with SmiPoller(uuid if cuda else "none-cpu") as smi:
            t0 = time.perf_counter()
            generations = engine.generate(requests)
            if cuda:
                torch.cuda.synchronize()
            last = time.perf_counter() - t0
        tokens = sum(g.output_tokens or 0 for g in generations)
        row = {
            "batch": size,
            "seconds": round(last, 2),
            "pages_per_s": round(size / last, 2),
            "output_tokens_per_s": round(tokens / last, 2),
            "output_tokens": tokens,
            "all_pages_full_length": all(g.output_tokens == args.tokens for g in generations),
            "peak_allocated_mib": round(torch.cuda.max_memory_allocated() / MIB) if cuda else None,
            "peak_reserved_mib": round(torch.cuda.max_memory_reserved() / MIB) if cuda else None,
            "nvidia_smi_used_mib": smi.peak if cuda else None,
        }
        record["results"].append(row)
        record["engine_batch_sizes"] = engine.batch_sizes()
        print(json.dumps(row), flush=True)
        save()
    engine.close()
    record["total_seconds"] = round(time.perf_counter() - started, 2)
    save()
    return 0


def _resolved(model: Any) -> dict[str, Any]:
    """The experts / attention implementations the loaded model actually runs, and grouped_mm's checks."""
    import torch
    from transformers.integrations import moe

    config = model.config
    out: dict[str, Any] = {
        "experts": model.get_experts_implementation(),
        "attention": {
            "": config._attn_implementation,
            "text": config.text_config._attn_implementation,
            "vision": config.vision_config._attn_implementation,
        },
        "torch_has_F_grouped_mm": hasattr(torch.nn.functional, "grouped_mm"),
        "torch_has__grouped_mm": hasattr(torch, "_grouped_mm"),
        "generation_use_cache": model.generation_config.use_cache,
    }
    try:
        out["grouped_mm_can_dispatch"] = bool(model._grouped_mm_can_dispatch())
    except Exception as exc:
        out["grouped_mm_can_dispatch"] = f"{type(exc).__name__}: {exc}"
    experts = next(m for m in model.modules() if hasattr(m, "gate_up_proj"))
    weight = experts.gate_up_proj
    probe = torch.zeros(4, weight.shape[-1], dtype=weight.dtype, device=weight.device)
    offs = torch.full((weight.shape[0],), 4, dtype=torch.int32, device=weight.device)
    out["can_use_grouped_mm_kernel"] = bool(moe._can_use_grouped_mm(probe, weight.transpose(-2, -1), offs))
    out["experts_module"] = f"{type(experts).__name__} on {weight.device}, {weight.dtype}"
    return out


def profile(args: argparse.Namespace) -> int:
    """The child in `--profile` mode: where does a decode step's time go (batch `--profile-batch`)."""
    assert "torch" not in sys.modules, "torch must be imported only after CUDA_VISIBLE_DEVICES is set"
    import cProfile
    import io
    import pstats

    import torch
    import transformers
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    sys.path.insert(0, str(REPO / "src"))
    from ocrgate.backends.deepseek.engine import GenerationRequest
    from ocrgate.backends.deepseek.transformers_engine import TransformersEngine

    cuda = torch.cuda.is_available() and not args.tiny
    device = "cuda" if cuda else "cpu"
    batch, steps = args.profile_batch, args.profile_tokens
    record: dict[str, Any] = {"torch": torch.__version__, "transformers": transformers.__version__}
    record["device"] = torch.cuda.get_device_name(0) if cuda else "cpu"
    out_json = args.out / f"{args.name}.json"

    def save() -> None:
        out_json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    with tempfile.TemporaryDirectory(prefix="dsocr2-prof-") as tmp:
        record |= build_model_dir(Path(tmp), args.tiny, device)
        engine = TransformersEngine({"model": tmp, "device": device, "max_batch": batch, "ignore_eos": True})
        engine.load()
    model = engine.model
    record["resolved"] = _resolved(model)
    print("resolved:", json.dumps(record["resolved"]), flush=True)
    images, _ = page_images()

    def run(size: int, tokens: int) -> float:
        requests = [
            GenerationRequest(image=images[i % len(images)], prompt=PROMPT, max_tokens=tokens)
            for i in range(size)
        ]
        sync()
        t0 = time.perf_counter()
        engine._run_batch(requests)
        sync()
        return time.perf_counter() - t0

    def step_ms(label: str, size: int = batch) -> float:
        short, long = run(size, 4), run(size, 4 + steps)
        ms = round((long - short) / steps * 1000, 2)
        record.setdefault("decode_ms_per_step", {})[label] = ms
        print(f"{label}: {ms} ms/step (prefill+4: {short * 1000:.0f} ms)", flush=True)
        save()
        return ms

    run(batch, 4)  # warm-up
    current = str(model.config._experts_implementation)
    cudnn = engine.config.cudnn_attention
    # each key length is new on a first pass and seen before on a second: cuDNN plans per shape
    for label in ("1st pass", "2nd pass (same shapes)"):
        step_ms(f"batch {batch}, experts {current}, cuDNN attention {cudnn}, {label}")
    if cuda:
        engine.config.cudnn_attention = not cudnn
        for label in ("1st pass", "2nd pass (same shapes)"):
            step_ms(f"batch {batch}, experts {current}, cuDNN attention {not cudnn}, {label}")
        engine.config.cudnn_attention = cudnn
    step_ms(f"batch 1, experts {current}, cuDNN attention {cudnn}", 1)
    engine.config.ngram_size, engine.config.window_size = 30, 90
    step_ms(f"batch {batch}, experts {current}, ngram 30/90")
    engine.config.ngram_size = None
    # batched_mm is left out: it gathers every token's expert weights (113 GiB for one prefill)
    for impl in ("eager", "grouped_mm"):
        if impl == current:
            continue
        try:
            model.set_experts_implementation(impl)
            run(batch, 4)
            step_ms(f"batch {batch}, experts {impl}")
        except Exception as exc:
            record.setdefault("decode_ms_per_step", {})[f"experts {impl}"] = f"{type(exc).__name__}: {exc}"
    model.set_experts_implementation(current)
    record["experts_after_restore"] = model.get_experts_implementation()
    print("experts after restore:", record["experts_after_restore"], flush=True)

    # the bare forward: prefill once, then `steps` one-token forwards with the cache, no generate()
    processor = engine._processors["dynamic"]
    inputs = processor(
        images=[images[i % len(images)] for i in range(batch)],
        text=[f"<image>\n{PROMPT}"] * batch,
        return_tensors="pt",
        padding=True,
    ).to(device)
    for key in ("pixel_values", "pixel_values_local"):
        if key in inputs:
            inputs[key] = inputs[key].to(model.dtype)
    with torch.inference_mode(), engine._attention_kernels():
        out = model(**inputs, use_cache=True)
        cache, mask = out.past_key_values, inputs["attention_mask"]
        token = out.logits[:, -1:].argmax(-1)
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            out = model(input_ids=token, attention_mask=mask, past_key_values=cache, use_cache=True)
            token = out.logits[:, -1:].argmax(-1)
        sync()
    bare = round((time.perf_counter() - t0) / steps * 1000, 2)
    record.setdefault("decode_ms_per_step", {})[f"batch {batch}, bare forward loop (no generate)"] = bare
    print(f"bare forward loop: {bare} ms/step", flush=True)
    save()

    # torch.profiler over one generate (prefill + `steps` decode steps), then cProfile of another
    try:
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with torch_profile(activities=activities) as prof:
            run(batch, steps)
        averages = prof.key_averages()
        sort_gpu = "self_device_time_total" if cuda else "self_cpu_time_total"
        tables = {
            "by self device time": averages.table(sort_by=sort_gpu, row_limit=15, max_name_column_width=60),
            "by self CPU time": averages.table(
                sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=60
            ),
        }
        interesting = (
            "cudaStreamSynchronize",
            "cudaMemcpyAsync",
            "aten::item",
            "aten::_local_scalar_dense",
            "aten::nonzero",
            "cudaLaunchKernel",
            "aten::_grouped_mm",
            "aten::mm",
            "aten::bmm",
            "Memcpy DtoH (Device -> Pinned)",
            "Memcpy DtoH (Device -> Pageable)",
        )
        counts = {}
        for event in averages:
            if event.key in interesting:
                counts[event.key] = {
                    "calls": event.count,
                    "self_cpu_ms": round(event.self_cpu_time_total / 1000, 2),
                    "self_device_ms": round(getattr(event, "self_device_time_total", 0) / 1000, 2),
                }
        total_device = sum(getattr(e, "self_device_time_total", 0) for e in averages) / 1000
        record["profiler"] = {
            "steps": steps,
            "batch": batch,
            "counts": counts,
            "total_self_device_ms": round(total_device, 1),
        }
        for title, table in tables.items():
            print(f"\n== torch.profiler, batch {batch}, {steps} tokens, {title} ==\n{table}", flush=True)
        print("counts:", json.dumps(counts), f"total self device ms {total_device:.1f}", flush=True)
    except Exception as exc:
        print(f"torch.profiler failed: {type(exc).__name__}: {exc}", flush=True)
    pr = cProfile.Profile()
    pr.enable()
    run(batch, steps)
    pr.disable()
    text = io.StringIO()
    pstats.Stats(pr, stream=text).sort_stats("tottime").print_stats(20)
    print("\n== cProfile (tottime) ==\n" + "\n".join(text.getvalue().splitlines()[:45]), flush=True)
    save()
    engine.close()
    return 0


def markdown(record: dict[str, Any]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    gpu = record.get("gpu_name") or record.get("device", "?")
    params = record.get("parameters")
    lines = [
        f"# DeepSeek-OCR 2 (transformers engine) on {gpu}",
        "",
        f"- model: {record.get('model')}" + (f", {params:,} parameters" if params else ""),
        f"- GPU: {gpu} {record.get('gpu_uuid') or ''} (CUDA_VISIBLE_DEVICES="
        f"`{record.get('cuda_visible_devices')}`), torch {record.get('torch')}, transformers "
        f"{record.get('transformers')}, Python {record.get('python')}",
        f"- pages: {record.get('pages')} ({', '.join(record.get('image_sizes', []))}), prompt "
        f"`{record.get('prompt')}`, {cell(record.get('prompt_tokens_first_page'))} prompt tokens per page",
        f"- exactly {cell(record.get('tokens_per_page'))} output tokens per page (eos suppressed), greedy, "
        "one engine batch per row; build "
        f"{cell(record.get('build_seconds'))} s, load {cell(record.get('load_seconds'))} s, weights "
        f"{cell(record.get('weights_mib'))} MiB",
        "",
        "| batch | seconds | pages/s | output tokens/s | peak allocated MiB | peak reserved MiB "
        "| nvidia-smi used MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in record.get("results", []):
        if "skipped" in row:
            lines.append(f"| {row['batch']} | skipped: {row['skipped']} | | | | | |")
            continue
        keys = ("seconds", "pages_per_s", "output_tokens_per_s", "peak_allocated_mib", "peak_reserved_mib")
        values = " | ".join(cell(row.get(k)) for k in (*keys, "nvidia_smi_used_mib"))
        lines.append(f"| {row['batch']} | {values} |")
    if record.get("note"):
        lines += ["", record["note"]]
    if "error" in record:
        lines += ["", f"The run stopped early: {record['error']}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "records")
    parser.add_argument("--name", default=None, help="file stem (default deepseek_ocr2_gpu / _tiny_cpu)")
    parser.add_argument("--gpu", default="0", help="CUDA_VISIBLE_DEVICES of the measuring process")
    parser.add_argument("--tokens", type=int, default=1000, help="output tokens per page")
    parser.add_argument("--batch-sizes", default="1,2,4,8,16,32")
    parser.add_argument("--budget-s", type=float, default=420.0, help="skip sizes that would not fit")
    parser.add_argument("--tiny", action="store_true", help="tiny test model on the CPU")
    parser.add_argument("--profile", action="store_true", help="where a decode step's time goes")
    parser.add_argument("--profile-batch", type=int, default=8)
    parser.add_argument("--profile-tokens", type=int, default=48, help="decode steps profiled")
    parser.add_argument(
        "--engine-option",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="an extra engine setting, e.g. cudnn_attention=true (repeatable)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",") if b]
    args.engine_options = {
        key: json.loads(value) for key, _, value in (o.partition("=") for o in args.engine_option)
    }
    default = "deepseek_ocr2_tiny_cpu" if args.tiny else "deepseek_ocr2_gpu"
    args.name = args.name or (f"{default}_profile" if args.profile else default)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        return profile(args) if args.profile else measure(args)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "" if args.tiny else args.gpu}
    command = [sys.executable, "-m", "bench.deepseek_gpu", "--child", *sys.argv[1:]]
    code = subprocess.run(command, cwd=REPO, env=env, check=False).returncode
    if args.profile:
        return code
    out_json = args.out / f"{args.name}.json"
    if not out_json.is_file():
        print(f"the measuring process wrote nothing (exit {code})", file=sys.stderr)
        return code or 1
    record = json.loads(out_json.read_text(encoding="utf-8"))
    if code:
        record["error"] = f"measuring process exited with {code}"
        out_json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    text = markdown(record)
    (args.out / f"{args.name}.md").write_text(text, encoding="utf-8")
    print(text)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
