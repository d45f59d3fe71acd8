"""A backend that recognises nothing, registered only for benchmarks and device checks.

It costs no engine time, so what is measured around it is the gateway's and the worker's own cost;
on a GPU worker `load()` takes the pinned device (one CUDA context), so the worker's health shows
the GPU it really got.
"""

from __future__ import annotations

import os

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.schema import Block, PageResult


class NoopBackend(Backend):
    name = "noop"

    def load(self) -> None:
        if os.environ.get("CUDA_VISIBLE_DEVICES"):
            try:
                import torch
            except ImportError:
                pass
            else:
                if torch.cuda.is_available():
                    torch.ones(1, device="cuda")  # create the context on the one GPU this worker sees
        self.loaded = True

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        box = (0.0, 0.0, float(page.width), float(page.height))
        return PageResult(
            index=page.index, width=page.width, height=page.height, blocks=[Block(text="", bbox=box)]
        )
