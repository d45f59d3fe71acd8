"""Backends whose work is done by one of several engines, named by the `engine` setting.

DeepSeek-OCR (vllm | transformers) and MinerU (api | inprocess) share this. An `Engine` is built from
the backend's settings alone (no I/O, no model: bad settings raise BackendUnavailable at once), says
whether it can run in this process (`availability`), how many pages one call takes (`max_batch`), and
is loaded once, described (`version`, `info`) and closed. Each backend adds the call its engines
answer (DeepSeek-OCR's `generate`, MinerU's `parse`) in an engine base of its own.

`EngineBackend` imports the engine class by name when the backend is built (so listing backends
imports no engine), keeps a settings problem as the reason it cannot run, loads the engine once under
a lock and releases it on close.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from ocrgate.backends.base import Backend
from ocrgate.environment import EnvironmentCheck
from ocrgate.errors import BackendUnavailable, OCRGateError

M = TypeVar("M", bound=BaseModel)


def parse_settings(model: type[M], settings: Mapping[str, Any], label: str) -> M:
    """`settings` as `model`; BackendUnavailable naming every bad setting (`label`: who is configured)."""
    try:
        return model.model_validate(dict(settings))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise BackendUnavailable(f"{label}: invalid settings: {problems}") from exc


class Engine(ABC):
    """One way to run a backend's model: built from settings, loaded once, closed."""

    name: ClassVar[str]

    def __init__(self, settings: Mapping[str, Any]) -> None:
        """Keep (and check) the settings; no I/O and no model yet. BackendUnavailable for bad settings."""
        self.settings: dict[str, Any] = dict(settings)

    @classmethod
    def availability(cls) -> str | None:
        """None when this engine can run in this process, else a one-line reason (a missing package)."""
        return None

    @property
    def max_batch(self) -> int:
        """Pages one call takes at most (1: one page a call; an engine server may batch calls itself)."""
        return 1

    @property
    def capacity(self) -> int:
        """Pages it works on at once (several calls may share its rows); `max_batch` by default."""
        return self.max_batch

    @abstractmethod
    def load(self) -> None:
        """Load the model or wait for its server; BackendUnavailable when it cannot."""

    def version(self) -> str | None:
        """The engine's own version (package, server or model), where known; never waits on the engine."""
        return None

    def files(self) -> list[EnvironmentCheck]:
        """The files its settings name (a model directory...), each checked; none by default."""
        return []

    def info(self) -> dict[str, Any]:
        """What /health shows about the engine (model, device, versions); never waits on the engine."""
        return {"engine": self.name}

    def close(self) -> None:
        """Release the model or the connection."""
        return None


E = TypeVar("E", bound=Engine)


class EngineBackend(Backend):
    """A backend that delegates to the engine its `engine` setting names (`default_engine` if unset)."""

    #: engine name -> `module:Class` of an `Engine`
    engines: ClassVar[dict[str, str]]
    default_engine: ClassVar[str]

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.engine_name = str(self.settings.get("engine", self.default_engine))
        self._lock = threading.Lock()
        #: why these settings cannot work (unknown engine, bad or missing setting); None when they can
        self.problem: str | None = None
        self.engine: Engine | None = None
        try:
            self.engine = self.engine_class()(self.settings)
        except OCRGateError as exc:
            self.problem = exc.message

    def engine_class(self) -> type[Engine]:
        """The class of the named engine (imported now); BackendUnavailable for an unknown name."""
        if self.engine_name not in self.engines:
            known = ", ".join(self.engines)
            raise BackendUnavailable(f"{self.name}: unknown engine {self.engine_name!r}; one of {known}")
        module, _, attr = self.engines[self.engine_name].partition(":")
        return getattr(importlib.import_module(module), attr)

    @property
    def max_batch(self) -> int:
        return self.engine.max_batch if self.engine is not None else 1

    @property
    def capacity(self) -> int:
        return self.engine.capacity if self.engine is not None else 1

    def unavailable(self) -> str | None:
        if self.problem:
            return self.problem
        reason = self.engine_class().availability()
        return f"{self.name} ({self.engine_name}): {reason}" if reason else None

    def check_settings(self) -> None:
        """Refuse bad backend settings before the engine loads (BackendUnavailable); nothing here."""
        return None

    def environment(self) -> list[EnvironmentCheck]:
        checks = super().environment()
        return checks + (self.engine.files() if self.engine is not None else [])

    def loaded_engine(self, kind: type[E]) -> E:
        """The engine, loaded first if it is not yet (so pages may come before the worker's load)."""
        if not self.loaded:
            self.load()
        assert isinstance(self.engine, kind)
        return self.engine

    def load(self) -> None:
        with self._lock:
            if self.loaded:
                return
            reason = self.unavailable()
            if reason:
                raise BackendUnavailable(reason)
            self.check_settings()
            if self.engine is None:  # closed before: built again from the same settings
                self.engine = self.engine_class()(self.settings)
            self.engine.load()
            self.loaded = True

    def engine_version(self) -> str | None:
        return self.engine.version() if self.engine is not None else None

    def close(self) -> None:
        with self._lock:
            if self.engine is not None:
                self.engine.close()
            self.engine = None
            self.loaded = False
