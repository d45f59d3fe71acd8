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
    from ocrgate.backends.deepseek.hf_engine import TransformersEngine

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
        settings = {"model": tmp, "device": device, "max_batch": max(args.batch_sizes), "batch_wait_ms": 0}
        engine = TransformersEngine({**settings, "ignore_eos": True})
        t0 = time.perf_counter()
        engine.load()
        record["load_seconds"] = round(time.perf_counter() - t0, 2)
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
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",") if b]
    args.name = args.name or ("deepseek_ocr2_tiny_cpu" if args.tiny else "deepseek_ocr2_gpu")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        return measure(args)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "" if args.tiny else args.gpu}
    command = [sys.executable, "-m", "bench.deepseek_gpu", "--child", *sys.argv[1:]]
    code = subprocess.run(command, cwd=REPO, env=env, check=False).returncode
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
