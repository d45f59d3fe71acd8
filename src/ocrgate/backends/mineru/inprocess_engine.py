"""Engine `inprocess`: MinerU's Python API inside the worker (the worker runs from MinerU's virtualenv).

`mineru.parser.parse(path, tier=..., ocr_mode=..., page_range=...)` (MinerU 4.0.12,
`mineru/parser/__init__.py`) reads the file like mineru-api does (type from the file name's
extension; images are wrapped into a one-page PDF), and the result's `structured_content()` is what
mineru-api returns for `output_formats=structured_content`, so both engines feed the same parser.
MinerU is imported lazily and loads its models on the first parse. Settings: `preload` (default
true: import MinerU at `load`, so a broken install shows when the worker starts).
"""

from __future__ import annotations

import importlib
import importlib.util
import tempfile
import threading
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

from ocrgate.backends.mineru.engine import MinerUEngine
from ocrgate.errors import BackendError, BackendUnavailable, InvalidOption


class InProcessEngine(MinerUEngine):
    """The `inprocess` engine: `mineru.parser.parse` on a temporary copy of the file, one at a time."""

    name: ClassVar[str] = "inprocess"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(settings)
        self._parse: Any = None
        self._lock = threading.Lock()  # MinerU's model singletons are not documented as thread-safe

    @classmethod
    def availability(cls) -> str | None:
        if importlib.util.find_spec("mineru") is None:
            return (
                "python package 'mineru' is not importable in this worker's python; run the worker from "
                'MinerU\'s virtualenv (`make setup-mineru`, then `python = ".venvs/mineru/bin/python"`)'
            )
        return None

    def load(self) -> None:
        reason = self.availability()
        if reason:
            raise BackendUnavailable(f"mineru (inprocess): {reason}")
        if self.settings.get("preload", True):
            self._parse = importlib.import_module("mineru.parser").parse

    def version(self) -> str | None:
        try:
            return version("mineru")
        except PackageNotFoundError:
            return None

    def info(self) -> dict[str, Any]:
        return {"engine": self.name, "version": self.version(), "imported": self._parse is not None}

    def parse(
        self, data: bytes, media_type: str, filename: str, query: Mapping[str, str | None]
    ) -> dict[str, Any]:
        if self._parse is None:
            self._parse = importlib.import_module("mineru.parser").parse
        errors = importlib.import_module("mineru.errors")
        kwargs = {key: value for key, value in query.items() if value}
        with self._lock, tempfile.TemporaryDirectory(prefix="ocrgate-mineru-") as folder:
            path = Path(folder) / filename
            path.write_bytes(data)
            try:
                result = self._parse(path, **kwargs)
                return dict(result.structured_content())
            except errors.MineruError as exc:
                code = getattr(exc, "code", None)
                if code == "page_range_invalid" or getattr(exc, "param", None) in {"tier", "ocr_mode"}:
                    raise InvalidOption(f"mineru: {exc}") from exc
                raise BackendError(f"mineru ({code or type(exc).__name__}): {exc}") from exc
            except Exception as exc:  # the engine's own failures become one typed error
                raise BackendError(f"mineru failed: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self._parse = None
