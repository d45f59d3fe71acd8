"""DeepSeek-OCR 1 (`family = "deepseek_ocr"`) through the Python code shipped in its model directory.

transformers has no classes of its own for DeepSeek-OCR 1: its checkpoint carries them, loaded with
`trust_remote_code` (the engine refuses that family unless the settings allow it). Its `infer()`
reads one page from an image file, with the resolution mode's base_size/image_size/crop_mode, on
CUDA only, with its own 8192-token budget. torch and transformers are imported only when called.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from ocrgate.backends.deepseek.engine import Generation, GenerationRequest
from ocrgate.backends.deepseek.prompts import RESOLUTIONS, raw_prompt
from ocrgate.errors import BackendError


def load_remote(path: Path, dtype: Any, device: str) -> tuple[Any, Any]:
    """(model on `device` in eval mode, tokenizer) from the local directory `path` (no download)."""
    from transformers import AutoModel, AutoTokenizer

    source = {"trust_remote_code": True, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(path, **source)
    model = AutoModel.from_pretrained(path, dtype=dtype, use_safetensors=True, **source)
    return model.to(device).eval(), tokenizer


def generate_remote(
    model: Any, tokenizer: Any, request: GenerationRequest, kernels: contextlib.AbstractContextManager[Any]
) -> Generation:
    """One page through the model's own `infer()` (the page written to a temporary PNG), within
    `kernels` (the engine's attention-kernel choice). Raises BackendError when it returns no text."""
    mode = RESOLUTIONS[request.resolution or "gundam"]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ocrgate-dsocr-") as tmp, kernels:
        image_file = Path(tmp) / "page.png"
        request.image.convert("RGB").save(image_file)
        text = model.infer(
            tokenizer,
            prompt=raw_prompt(request.prompt),
            image_file=str(image_file),
            output_path=tmp,
            base_size=mode.base_size,
            image_size=mode.image_size,
            crop_mode=mode.crop_mode,
            save_results=False,
            eval_mode=True,
        )
    if not isinstance(text, str):
        raise BackendError("the model's infer() returned no text")
    tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return Generation(
        text=text, finish_reason=None, output_tokens=tokens, seconds=time.perf_counter() - started
    )
