"""One registry of backends by name: the built-ins plus any `ocrgate.backends` entry point."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points

from ocrgate.backends.base import Backend
from ocrgate.config import BackendConfig
from ocrgate.errors import UnknownBackend

ENTRY_POINT_GROUP = "ocrgate.backends"

# Built-ins are named by import path so that listing them imports no engine.
BUILTIN: dict[str, str] = {
    "rapidocr": "ocrgate.backends.rapidocr:RapidOCRBackend",
    "tesseract": "ocrgate.backends.tesseract:TesseractBackend",
    "deepseek-ocr": "ocrgate.backends.deepseek.backend:DeepSeekOCRBackend",
    "mineru": "ocrgate.backends.mineru.backend:MinerUBackend",
}
_registered: dict[str, type[Backend]] = {}


_targets: dict[str, str] = {}


def register_target(name: str, target: str) -> None:
    """Make `name` load `module:Class` on first use (backends named by `class_path` in the config)."""
    _targets[name] = target
    _registered.pop(name, None)


def configure(backends: Mapping[str, BackendConfig]) -> None:
    """Register every configured backend that names its class directly."""
    for name, config in backends.items():
        if config.class_path:
            register_target(name, config.class_path)


def register(cls: type[Backend]) -> type[Backend]:
    """Register a backend class under `cls.name` (usable as a decorator)."""
    _registered[cls.name] = cls
    return cls


@cache
def _entry_point_targets() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    """Every backend name known here, built-ins first."""
    ordered = dict.fromkeys([*BUILTIN, *_entry_point_targets(), *_targets, *_registered])
    return list(ordered)


def get(name: str) -> type[Backend]:
    """The backend class called `name`; UnknownBackend if there is none."""
    if name in _registered:
        return _registered[name]
    target = _targets.get(name) or BUILTIN.get(name) or _entry_point_targets().get(name)
    if target is None:
        raise UnknownBackend(f"unknown backend {name!r}; known backends: {', '.join(names())}")
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{target} is not an ocrgate Backend")
    _registered[name] = cls
    return cls


def create(name: str, settings: dict | None = None) -> Backend:
    return get(name)(settings)
