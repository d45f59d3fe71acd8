"""Backends whose work is done by one of several engines, named by the `engine` setting.

DeepSeek-OCR (vllm | transformers) and MinerU (api | inprocess) share this: the engine class is
imported by name on first use (so listing backends imports no engine), loaded once under a lock,
and released on close.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from ocrgate.backends.base import Backend
from ocrgate.errors import BackendUnavailable


class EngineBackend(Backend):
    #: engine name -> `module:Class`; the class has `availability()` (classmethod), `load()`, `close()`
    engines: ClassVar[dict[str, str]]
    default_engine: ClassVar[str]

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.engine_name = str(self.settings.get("engine", self.default_engine))
        self.engine: Any = None
        self._lock = threading.Lock()

    def engine_class(self) -> Any:
        if self.engine_name not in self.engines:
            known = ", ".join(self.engines)
            raise BackendUnavailable(f"{self.name}: unknown engine {self.engine_name!r}; one of {known}")
        module, _, attr = self.engines[self.engine_name].partition(":")
        return getattr(importlib.import_module(module), attr)

    def check_settings(self) -> None:
        """Refuse bad settings before the engine loads (BackendUnavailable); nothing to check here."""
        return None

    def load(self) -> None:
        with self._lock:
            if self.engine is not None:
                return
            cls = self.engine_class()
            reason = cls.availability()
            if reason:
                raise BackendUnavailable(f"{self.name} ({self.engine_name}): {reason}")
            self.check_settings()
            engine = cls(self.settings)
            engine.load()
            self.engine = engine
            self.loaded = True

    def close(self) -> None:
        with self._lock:
            if self.engine is not None:
                self.engine.close()
            self.engine = None
            self.loaded = False
