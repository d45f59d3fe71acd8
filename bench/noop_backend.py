"""A backend that recognises nothing, registered only for benchmarks and device checks.

It costs no engine time, so what is measured around it is the gateway's and the worker's own cost;
on a GPU worker `load()` takes the pinned device (one CUDA context), so the worker's health shows
the GPU it really got.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.schema import Block, PageResult

_SERIAL = threading.Lock()


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
        # `delay_s` (engine setting): a page keeps the worker busy this long without burning CPU
        delay_s = float(self.settings.get("delay_s") or 0)
        if delay_s > 0:
            # `serial` (engine setting): one page at a time, like an engine behind a lock, even when the
            # worker takes more pages at once (the next one is then received while this one sleeps)
            with _SERIAL if self.settings.get("serial") else contextlib.nullcontext():
                time.sleep(delay_s)
        box = (0.0, 0.0, float(page.width), float(page.height))
        return PageResult(
            index=page.index, width=page.width, height=page.height, blocks=[Block(text="", bbox=box)]
        )
