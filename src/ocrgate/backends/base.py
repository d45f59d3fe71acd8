"""The backend contract: load; ocr_page / ocr_batch (page images) or ocr_file (whole uploads); health; close.

A backend reads page images (`ocr_page`, or `ocr_batch` for several pages with the same options) unless
its `file_types` name the upload's media type: then it reads the original file whole (`ocr_file`).
`settings` are the engine settings from the config file (`[backends.NAME.options]`), fixed for the
process; request `options` are validated against `options_model` (`parse_options`) and published as
JSON Schema (`options_schema`) so a gateway can check them without importing the backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ocrgate.documents import PageImage
from ocrgate.environment import EnvironmentCheck
from ocrgate.errors import InvalidOption
from ocrgate.schema import BackendHealth, PageResult

#: (width, height) in pixels of each page's image as the gateway shows it
PageSizes = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class WholeFile:
    """An upload as it came, for engines that read files whole: its bytes, its media type, and the
    (width, height) in pixels of each page's image as the gateway shows it (every box an engine
    returns must be in those pixels)."""

    data: bytes
    media_type: str
    sizes: PageSizes


#: `progress(done, total)`: pages an engine reading a whole file has done so far
Progress = Callable[[int, int], None] | None

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _integral(value: Any) -> Any:
    # JSON Schema's `integer` is any number with a zero fractional part (2020-12, 6.1.1): 5.0 is one
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: makes an integer option take 5.0 as 5 (JSON Schema's `integer`), never "5" or true; bounds go before
#: it, or the JSON Schema loses them: `Annotated[int, Field(gt=0), INTEGRAL]`
INTEGRAL = BeforeValidator(_integral)


class BackendOptions(BaseModel):
    """Per-request options a backend accepts: JSON types only (strict: "5" is not a number, true not an
    integer), unknown names refused, not ignored. Numbers carry their ranges (`ge`, `le`) so the JSON
    Schema the worker publishes refuses what `parse_options` refuses."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    prompt: str | None = None


class Backend(ABC):
    """One OCR engine behind the unified contract (see the module doc)."""

    name: ClassVar[str]
    options_model: ClassVar[type[BackendOptions]] = BackendOptions
    #: media types this backend reads whole through `ocr_file` (the original upload, never rasterised
    #: by us); empty for backends that only see page images
    file_types: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings: dict[str, Any] = dict(settings or {})
        self.loaded = False

    @property
    def max_batch(self) -> int:
        """Pages one `ocr_batch` call takes at most (1: the engine reads a page at a time). The worker
        gathers concurrent pages into batches of min(max_batch, its concurrency)."""
        return 1

    @property
    def capacity(self) -> int:
        """Pages the engine works on at once (an engine that decodes many pages in shared rows takes
        more than one call's batch); the worker's `concurrency` should be at least this."""
        return self.max_batch

    @classmethod
    def availability(cls) -> str | None:
        """None when the engine can run here, else a one-line reason (missing binary, package...)."""
        return None

    def unavailable(self) -> str | None:
        """None when this instance, with its settings, can run here, else a one-line reason.
        Never waits on the engine (health calls it while pages run)."""
        return type(self).availability()

    def environment(self) -> list[EnvironmentCheck]:
        """What this backend needs here, each checked: whether its engine can run in this python
        (`unavailable`) and, in backends that name files, those files. Answers at once."""
        reason = self.unavailable()
        return [EnvironmentCheck(what="engine", ok=reason is None, detail=reason or "can run here")]

    @classmethod
    def parse_options(cls, options: Mapping[str, Any] | None) -> BackendOptions:
        """The request options as `options_model`; InvalidOption naming every problem."""
        try:
            return cls.options_model.model_validate(dict(options or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in exc.errors()
            )
            raise InvalidOption(f"invalid options for backend {cls.name!r}: {problems}") from exc

    @classmethod
    def options_schema(cls) -> dict[str, Any]:
        """JSON Schema (draft 2020-12) of the request options: a JSON object `parse_options` accepts
        is valid against it, and one with an unknown name, a wrong type or a number out of range is not."""
        return {"$schema": JSON_SCHEMA_DIALECT, **cls.options_model.model_json_schema()}

    @abstractmethod
    def load(self) -> None:
        """Load the model or connect to its server. Called once before the first page."""

    @abstractmethod
    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        """Recognise one page image; boxes in that image's pixels."""

    def ocr_batch(self, pages: Sequence[PageImage], options: BackendOptions) -> list[PageResult]:
        """Recognise up to `max_batch` pages with the same options: one result per page, in order.
        Engines that batch override this; the default reads the pages one by one."""
        return [self.ocr_page(page, options) for page in pages]

    def ocr_file(
        self, upload: WholeFile, options: BackendOptions, progress: Progress = None
    ) -> list[PageResult]:
        """Recognise a whole upload natively (only for `file_types`).

        `sizes[i]` is the (width, height) in pixels of page i's image as the gateway shows it; every
        returned box must be in those pixels. `progress(done, total)` reports pages done so far.
        """
        raise NotImplementedError(f"backend {self.name!r} reads page images only")

    def health(self) -> BackendHealth:
        """The engine's state for /health. Called while pages run: answers from what is known already
        (`unavailable`, `engine_version`), never waits for the engine."""
        reason = self.unavailable()
        return BackendHealth(
            backend=self.name,
            available=reason is None,
            model_loaded=self.loaded,
            device="cpu",
            engine_version=self.engine_version(),
            detail=reason,
        )

    def engine_version(self) -> str | None:
        """The engine's version, where known; answers at once (cached at `load` where it costs)."""
        return None

    def close(self) -> None:
        """Release the model (and the GPU)."""
        self.loaded = False
