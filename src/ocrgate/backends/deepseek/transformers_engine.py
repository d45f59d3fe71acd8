"""The `transformers` engine: DeepSeek-OCR in the worker process, a batch of pages per `model.generate`.

Settings: `transformers_settings.TransformersSettings` (its module doc says what each does). Family
`deepseek_ocr2` runs here, through `model.generate` or the static decoder (`static_decode`); family
`deepseek_ocr` (DeepSeek-OCR 1) through its checkpoint's own code (`remote_code`).

Resolution modes (`GenerationRequest.resolution`) for `deepseek_ocr2`: its vision tower has learned
queries for two view sizes only, the processor's global size (1024 px -> 256 tokens) and its tile
size (768 px -> 144 tokens), so the five DeepSeek-OCR 1 modes map onto those:
`None`/`gundam` -> the processor as saved (global view + 2..6 tiles when the page is larger than a
tile: the released model's dynamic mode); `base`/`large` -> one global view, no tiles;
`tiny`/`small` -> one tile-sized view, no tiles. `deepseek_ocr` takes each mode's own
base_size/image_size/crop_mode.

Each page's `seconds` is the wall time of the batch that carried it. torch and transformers are
imported only when the engine loads.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ocrgate.backends.deepseek.engine import DeepSeekEngine, Generation, GenerationRequest
from ocrgate.backends.deepseek.generation import NGramRepeatBan, RowBudgets
from ocrgate.backends.deepseek.prompts import RESOLUTIONS, raw_prompt
from ocrgate.backends.deepseek.remote_code import generate_remote, load_remote
from ocrgate.backends.deepseek.transformers_settings import TransformersSettings
from ocrgate.backends.engines import parse_settings
from ocrgate.environment import EnvironmentCheck, directory
from ocrgate.errors import BackendUnavailable, InvalidOption

log = logging.getLogger("ocrgate.deepseek.transformers")

MIN_TRANSFORMERS = (5, 17)
#: resolution mode -> which view the deepseek_ocr2 processor makes (see the module doc)
OCR2_VIEWS: dict[str | None, str] = dict.fromkeys([None, "gundam"], "dynamic")
OCR2_VIEWS |= dict.fromkeys(["base", "large"], "global") | dict.fromkeys(["tiny", "small"], "tile")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


class TransformersEngine(DeepSeekEngine):
    """DeepSeek-OCR through transformers, in this process; settings: `TransformersSettings`."""

    name: ClassVar[str] = "transformers"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(settings)
        self.config = parse_settings(TransformersSettings, self.settings, "transformers engine")
        self.model: Any = None
        self.processor: Any = None
        self.tokenizer: Any = None
        self.device = "cpu"
        self.dtype_name = "float32"
        self._processors: dict[str, Any] = {}
        self._generating = threading.Lock()  # one batch at a time holds the model
        self._sizes: Counter[int] = Counter()  # model batches run, by size (for /health)
        self._sizes_lock = threading.Lock()  # never held across a batch: /health reads it
        self.decoder: Any = None  # static_decode.StaticDecoder once loaded with decode = static

    @property
    def max_batch(self) -> int:
        return self.config.max_batch

    @property
    def capacity(self) -> int:
        """Pages this engine works on at once: `slots` with static decoding, else `max_batch`."""
        if self.config.decode == "generate" or self.config.family != "deepseek_ocr2":
            return self.config.max_batch
        return self.config.slots or self.config.max_batch

    @classmethod
    def availability(cls) -> str | None:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return "torch is not installed (pip install 'ocrgate[deepseek-hf]')"
        version = _version("transformers")
        if version is None:
            return "transformers is not installed (pip install 'ocrgate[deepseek-hf]')"
        if tuple(int(part) for part in re.findall(r"\d+", version)[:2]) < MIN_TRANSFORMERS:
            wanted = ".".join(map(str, MIN_TRANSFORMERS))
            return f"transformers {version} is too old for deepseek_ocr2; {wanted} or newer is needed"
        return None

    def files(self) -> list[EnvironmentCheck]:
        return [directory("model directory", self.config.model, "config.json")]

    # -- loading -------------------------------------------------------------------------------
    def load(self) -> None:
        cfg = self.config
        if cfg.family == "deepseek_ocr" and not cfg.trust_remote_code:
            raise BackendUnavailable(
                "family `deepseek_ocr` (DeepSeek-OCR 1) runs Python code shipped in the model directory; "
                "set `trust_remote_code = true` in the backend settings ([backends.deepseek-ocr.options]) "
                "only if you trust that directory "
                "(or use family `deepseek_ocr2`, which runs transformers' own classes)"
            )
        reason = self.availability()
        if reason and cfg.family == "deepseek_ocr2":
            raise BackendUnavailable(reason)
        path = Path(cfg.model).expanduser()
        if not (path / "config.json").is_file():
            raise BackendUnavailable(f"model directory {str(path)!r} has no config.json")
        import torch

        self.device = cfg.device if cfg.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
        name = (
            cfg.dtype if cfg.dtype != "auto" else "bfloat16" if self.device.startswith("cuda") else "float32"
        )
        self.dtype_name = name
        dtype = getattr(torch, name)
        started = time.perf_counter()
        if cfg.family == "deepseek_ocr2":
            self._load_ocr2(path, dtype)
            if cfg.decode == "static" or (cfg.decode == "auto" and self.device.startswith("cuda")):
                self._start_decoder()
        else:
            self.model, self.tokenizer = load_remote(path, dtype, self.device)
        log.info("%s loaded on %s (%s) in %.1f s", path, self.device, name, time.perf_counter() - started)

    def _load_ocr2(self, path: Path, dtype: Any) -> None:
        from transformers import AutoConfig, DeepseekOcr2ForConditionalGeneration, DeepseekOcr2Processor

        model_type = AutoConfig.from_pretrained(path, local_files_only=True).model_type
        if model_type != "deepseek_ocr2":
            raise BackendUnavailable(
                f"{path} holds a {model_type!r} checkpoint, not transformers' `deepseek_ocr2` format; "
                "use a converted checkpoint (as deepseek-community/DeepSeek-OCR-2), or family "
                "`deepseek_ocr` with trust_remote_code for DeepSeek-OCR 1"
            )
        extra = {
            key: value
            for key, value in (
                ("attn_implementation", self.config.attn_implementation),
                ("experts_implementation", self.config.experts_implementation),
            )
            if value
        }
        # loaded on the CPU, then moved: `device_map` would need accelerate
        model = DeepseekOcr2ForConditionalGeneration.from_pretrained(
            path, dtype=dtype, local_files_only=True, **extra
        )
        self.model = model.to(self.device).eval()
        log.info(
            "attention %s, experts %s, cuDNN attention %s",
            model.config._attn_implementation,
            model.config.text_config._experts_implementation,
            "allowed" if self.config.cudnn_attention or not self.device.startswith("cuda") else "off",
        )
        self.processor = DeepseekOcr2Processor.from_pretrained(path, local_files_only=True)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._processors = {"dynamic": self.processor}
        image_processor = self.processor.image_processor
        global_size, tile_size = int(image_processor.size["height"]), int(image_processor.tile_size)
        for view, side in (("global", global_size), ("tile", tile_size)):
            sized = copy.deepcopy(image_processor)
            sized.size = {"height": side, "width": side}
            sized.tile_size = side
            self._processors[view] = DeepseekOcr2Processor(
                image_processor=sized,
                tokenizer=self.tokenizer,
                patch_size=self.processor.patch_size,
                downsample_ratio=self.processor.downsample_ratio,
            )

    def _start_decoder(self) -> None:
        from ocrgate.backends.deepseek.static_decode import StaticDecoder

        tokenizer = self.tokenizer
        self.decoder = StaticDecoder(
            self.model,
            self._prepare,
            tokenizer.eos_token_id,
            tokenizer.pad_token_id,
            self.config.decode_settings(),
            context=self._attention_kernels,
        )

    def _prepare(self, view: str, request: GenerationRequest) -> dict[str, Any]:
        """One page through the view's processor (CPU tensors, a batch of one)."""
        processor = self._processors[view]
        return dict(
            processor(
                images=[request.image.convert("RGB")],
                text=[raw_prompt(request.prompt)],
                return_tensors="pt",
                crop_to_patches=view == "dynamic",
            )
        )

    # -- generation ----------------------------------------------------------------------------
    def _attention_kernels(self) -> contextlib.AbstractContextManager[Any]:
        """On CUDA, SDPA without cuDNN (see `cudnn_attention` in the module doc); nothing on the CPU."""
        if not self.device.startswith("cuda") or self.config.cudnn_attention:
            return contextlib.nullcontext()
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        for request in requests:
            if request.resolution not in OCR2_VIEWS:
                raise InvalidOption(
                    f"unknown resolution {request.resolution!r}; one of: {', '.join(RESOLUTIONS)}"
                )
        if self.model is None:
            raise BackendUnavailable("the transformers engine is not loaded")
        step = self.config.max_batch
        if self.decoder is not None:
            with self._sizes_lock:
                for start in range(0, len(requests), step):
                    self._sizes[len(requests[start : start + step])] += 1
            return self._generate_static(requests)
        generations: list[Generation] = []
        for start in range(0, len(requests), step):
            batch = list(requests[start : start + step])
            with self._generating:
                generations += self._run_batch(batch)
            with self._sizes_lock:
                self._sizes[len(batch)] += 1
        return generations

    def _generate_static(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Every page into the static decoder's rows at once; waits for all of them."""
        views = [OCR2_VIEWS[r.resolution] for r in requests]
        futures = self.decoder.submit(list(requests), views)
        tokenizer = self.tokenizer
        drop = {
            t
            for t in (tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.bos_token_id)
            if t is not None
        }
        generations = []
        for future in futures:
            result = future.result()
            text = tokenizer.decode([t for t in result.tokens if t not in drop], skip_special_tokens=False)
            generations.append(
                Generation(
                    text=text,
                    finish_reason=result.finish_reason,
                    output_tokens=len(result.tokens),
                    seconds=result.seconds,
                )
            )
        return generations

    def _run_batch(self, requests: list[GenerationRequest]) -> list[Generation]:
        """One model.generate per view kind present in the batch (the caller holds `_generating`)."""
        results: dict[int, Generation] = {}
        if self.config.family == "deepseek_ocr":
            for index, request in enumerate(requests):
                results[index] = generate_remote(
                    self.model, self.tokenizer, request, self._attention_kernels()
                )
        else:
            groups: dict[str, list[int]] = {}
            for index, request in enumerate(requests):
                groups.setdefault(OCR2_VIEWS[request.resolution], []).append(index)
            for view, indices in groups.items():
                generations = self._generate_ocr2(view, [requests[i] for i in indices])
                results.update(zip(indices, generations, strict=True))
        return [results[i] for i in range(len(requests))]

    def _generate_ocr2(self, view: str, requests: list[GenerationRequest]) -> list[Generation]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        started = time.perf_counter()
        processor = self._processors[view]
        inputs = processor(
            images=[r.image.convert("RGB") for r in requests],
            text=[raw_prompt(r.prompt) for r in requests],
            return_tensors="pt",
            padding=True,
            crop_to_patches=view == "dynamic",
        ).to(self.device)
        for key in ("pixel_values", "pixel_values_local"):
            if key in inputs:
                inputs[key] = inputs[key].to(self.model.dtype)
        prompt_len = int(inputs["input_ids"].shape[1])
        budgets = [r.max_tokens for r in requests]
        tokenizer = self.tokenizer
        eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
        gen = copy.deepcopy(self.model.generation_config)
        gen.update(
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            num_beams=1,
            max_new_tokens=max(budgets),
            eos_token_id=eos,
            pad_token_id=pad,
            suppress_tokens=[eos] if self.config.ignore_eos else None,
        )
        cfg = self.config
        processors = (
            [NGramRepeatBan(cfg.ngram_size, cfg.window_size, cfg.whitelist_token_ids, prompt_len)]
            if cfg.ngram_size
            else []
        )
        stopping = StoppingCriteriaList([RowBudgets(budgets, prompt_len, self.device)])
        with torch.inference_mode(), self._attention_kernels():
            output = self.model.generate(
                **inputs,
                generation_config=gen,
                logits_processor=LogitsProcessorList(processors),
                stopping_criteria=stopping,
            )
        seconds = time.perf_counter() - started
        drop = {t for t in (eos, pad, tokenizer.bos_token_id) if t is not None}
        generations = []
        for row, budget in zip(output[:, prompt_len:].tolist(), budgets, strict=True):
            row = row[:budget]
            stopped = eos is not None and eos in row and not self.config.ignore_eos
            if stopped:
                row = row[: row.index(eos) + 1]
            text = tokenizer.decode([t for t in row if t not in drop], skip_special_tokens=False)
            generations.append(
                Generation(
                    text=text,
                    finish_reason="stop" if stopped or len(row) < budget else "length",
                    output_tokens=len(row),
                    seconds=seconds,
                )
            )
        return generations

    # -- state ---------------------------------------------------------------------------------
    def batch_sizes(self) -> dict[str, int]:
        """Batches `generate` ran so far, by size, e.g. {"1": 3, "4": 2}."""
        with self._sizes_lock:
            return {str(size): count for size, count in sorted(self._sizes.items())}

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "engine": self.name,
            "model": self.config.model,
            "family": self.config.family,
            "dtype": self.dtype_name,
            "device": self.device,
            "loaded": self.model is not None,
            "max_batch": self.config.max_batch,
            "batch_sizes": self.batch_sizes(),
            "decode": "static" if self.decoder is not None else "generate",
            "torch": _version("torch"),
            "transformers": _version("transformers"),
        }
        if self.model is not None and self.device.startswith("cuda"):
            import torch

            info["gpu"] = torch.cuda.get_device_name(torch.device(self.device))
        if self.decoder is not None:
            info["static_decode"] = self.decoder.snapshot()
        return info

    def close(self) -> None:
        if self.decoder is not None:
            self.decoder.close()
            self.decoder = None
        had_model = self.model is not None
        self.model = self.processor = self.tokenizer = None
        self._processors = {}
        if had_model:
            import gc

            import torch

            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
