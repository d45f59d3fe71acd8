"""The backend contract: load, ocr_page, ocr_document, health, close."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ocrgate.documents import Document, PageImage
from ocrgate.errors import InvalidOption
from ocrgate.schema import BackendHealth, PageResult


class BackendOptions(BaseModel):
    """Per-request options a backend accepts; unknown names are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = None


class Backend(ABC):
    """One OCR engine behind the unified contract.

    `settings` are the engine settings from the config file (`[backends.NAME.options]`); request
    options are validated against `options_model` by `parse_options` before they reach `ocr_page`.
    """

    name: ClassVar[str]
    options_model: ClassVar[type[BackendOptions]] = BackendOptions
    #: how many pages `ocr_page` may run at once in one process (engines that batch say more)
    max_batch: ClassVar[int] = 1
    #: media types this backend reads whole through `ocr_file` (the original upload, never rasterised
    #: by us); empty for backends that only see page images
    file_types: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings: dict[str, Any] = dict(settings or {})
        self.loaded = False

    @classmethod
    def availability(cls) -> str | None:
        """None when the engine can run here, else a one-line reason (missing binary, package...)."""
        return None

    @classmethod
    def parse_options(cls, options: Mapping[str, Any] | None) -> BackendOptions:
        try:
            return cls.options_model.model_validate(dict(options or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in exc.errors()
            )
            raise InvalidOption(f"invalid options for backend {cls.name!r}: {problems}") from exc

    @abstractmethod
    def load(self) -> None:
        """Load the model or connect to its server. Called once before the first page."""

    @abstractmethod
    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        """Recognise one page image; boxes in that image's pixels."""

    def ocr_document(self, document: Document, options: BackendOptions) -> list[PageResult]:
        """Every page in order; engines that read whole documents natively override this."""
        return [self.ocr_page(page, options) for page in document.iter_pages()]

    def ocr_file(
        self,
        data: bytes,
        media_type: str,
        sizes: Sequence[tuple[int, int]],
        options: BackendOptions,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[PageResult]:
        """Recognise a whole upload natively (only for `file_types`).

        `sizes[i]` is the (width, height) in pixels of page i's image as the gateway shows it; every
        returned box must be in those pixels. `progress(done, total)` reports pages done so far.
        """
        raise NotImplementedError(f"backend {self.name!r} reads page images only")

    def health(self) -> BackendHealth:
        return BackendHealth(
            backend=self.name,
            available=self.availability() is None,
            model_loaded=self.loaded,
            device="cpu",
            engine_version=self.engine_version(),
            detail=self.availability(),
        )

    def engine_version(self) -> str | None:
        return None

    def close(self) -> None:
        """Release the model (and the GPU)."""
        self.loaded = False
