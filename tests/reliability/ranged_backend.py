"""A backend whose options have ranges, as real engines' do (a score in [0, 1], a count from 1): the
gateway checks requests against the JSON Schema this backend's worker publishes at `GET /v1/info`.
Registered per test through `class_path = "tests.reliability.ranged_backend:RangedBackend"`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.schema import PageResult


class RangedOptions(BackendOptions):
    text_score: float | None = Field(default=None, ge=0, le=1, description="a confidence threshold")
    max_lines: int | None = Field(default=None, ge=1, le=10_000, description="a count")
    lang: Literal["en", "de", "fr"] | None = None
    weights: dict[str, float] | None = Field(default=None, description="free-form numbers")


class RangedBackend(Backend):
    name = "ranged"
    options_model = RangedOptions

    def load(self) -> None:
        self.loaded = True

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        return PageResult(index=page.index, width=page.width, height=page.height, blocks=[])
