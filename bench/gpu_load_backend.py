"""A backend that gives each page real GPU work and recognises nothing: for the GPU scaling benchmark.

Per page: the pixels go to the device (as an engine's input would), then `iters` matrix products
of `size` x `size` (bf16 on CUDA, float32 on the CPU) run and are waited for. Settings
(`[backends.NAME.options]`): `size` (default 8192), `iters` (default 20), `device` (`cuda`, the
default when torch sees a GPU, or `cpu`: for trying the benchmark on a machine without one).
Registered only through `class_path = "bench.gpu_load_backend:GPULoadBackend"`.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.schema import BackendHealth, Block, PageResult


class GPULoadBackend(Backend):
    name: ClassVar[str] = "gpu-load"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._torch: Any = None
        self._device = "cpu"
        self._weights: Any = None

    @classmethod
    def availability(cls) -> str | None:
        try:
            import torch  # noqa: F401
        except ImportError:
            return "python package 'torch' is not installed"
        return None

    def load(self) -> None:
        import torch

        wanted = str(self.settings.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"))
        if wanted == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device = cuda, but torch sees no GPU here")
        size = int(self.settings.get("size") or 8192)
        dtype = torch.bfloat16 if wanted == "cuda" else torch.float32
        self._torch, self._device = torch, wanted
        self._weights = torch.randn(size, size, device=wanted, dtype=dtype)
        self.ocr_page(PageImage(index=0, image=_blank()), BackendOptions())  # warm: kernels, allocator
        self.loaded = True

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        torch = self._torch
        iters = int(self.settings.get("iters") or 20)
        started = time.perf_counter()
        with self._lock:  # one page at a time on this device, like an engine
            pixels = torch.frombuffer(bytearray(page.image.convert("RGB").tobytes()), dtype=torch.uint8)
            pixels = pixels.to(self._device, non_blocking=False)
            x = self._weights
            for _ in range(iters):
                x = torch.matmul(x, self._weights)
                x = x / x.abs().amax().clamp(min=1)  # keep the values finite
            checksum = float(x[0, 0]) + float(pixels[:1].sum())  # waits for the device
        box = (0.0, 0.0, float(page.width), float(page.height))
        return PageResult(
            index=page.index,
            width=page.width,
            height=page.height,
            blocks=[Block(text="", bbox=box)],
            raw={"checksum": checksum},
            ocr_seconds=time.perf_counter() - started,
        )

    def health(self) -> BackendHealth:
        health = super().health()
        health.device = self._device
        return health

    def close(self) -> None:
        self._weights = None
        if self._torch is not None and self._device == "cuda":
            self._torch.cuda.empty_cache()
        super().close()


def _blank() -> Any:
    from PIL import Image

    return Image.new("RGB", (64, 64), "white")
