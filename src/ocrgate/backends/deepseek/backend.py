"""Backend `deepseek-ocr`: DeepSeek-OCR through an engine, its raw text parsed into our blocks.

Settings (`[backends.deepseek-ocr.options]`): `engine` (`vllm`, the default: a vLLM server reached
at `url`; or `transformers`: the model inside the worker), `max_tokens` (default 8192),
`resolution` (the default resolution mode), plus the chosen engine's own settings (see
`vllm_engine` and `transformers_engine`). Request options: `mode`, `prompt`, `phrase`, `resolution`,
`max_tokens`.

Pages with the same options go to the engine as one batch (`ocr_batch`, up to the engine's
`max_batch`: the transformers engine's `max_batch` setting; 1 for vllm, whose server batches
concurrent requests itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from ocrgate.backends.base import INTEGRAL, BackendOptions
from ocrgate.backends.deepseek.engine import DeepSeekEngine, Generation, GenerationRequest
from ocrgate.backends.deepseek.grounding import parse_grounding
from ocrgate.backends.deepseek.prompts import RESOLUTIONS, Mode, build_prompt
from ocrgate.backends.engines import EngineBackend
from ocrgate.documents import PageImage
from ocrgate.errors import InvalidOption
from ocrgate.schema import BackendHealth, PageResult

ENGINES: dict[str, str] = {
    "vllm": "ocrgate.backends.deepseek.vllm_engine:VLLMEngine",
    "transformers": "ocrgate.backends.deepseek.transformers_engine:TransformersEngine",
}
DEFAULT_MAX_TOKENS = 8192

Resolution = Literal["tiny", "small", "base", "large", "gundam"]


class DeepSeekOptions(BackendOptions):
    """`prompt` replaces the mode's prompt; `phrase` is what `locate` looks for."""

    mode: Mode = Field(default=Mode.document, strict=False)  # from JSON: the mode's name
    phrase: str | None = Field(default=None, max_length=500)
    resolution: Resolution | None = None
    max_tokens: Annotated[int, Field(gt=0, le=32768), INTEGRAL] | None = None


class DeepSeekOCRBackend(EngineBackend):
    name: ClassVar[str] = "deepseek-ocr"
    options_model: ClassVar[type[BackendOptions]] = DeepSeekOptions
    engines: ClassVar[dict[str, str]] = ENGINES
    default_engine: ClassVar[str] = "vllm"

    def request(self, page: PageImage, options: DeepSeekOptions) -> GenerationRequest:
        resolution = options.resolution or self.settings.get("resolution")
        if resolution is not None and resolution not in RESOLUTIONS:
            raise InvalidOption(f"unknown resolution {resolution!r}; one of {', '.join(RESOLUTIONS)}")
        supported = self.engine.resolutions if isinstance(self.engine, DeepSeekEngine) else None
        if resolution is not None and supported is not None and resolution not in supported:
            raise InvalidOption(
                f"the {self.engine_name} engine runs DeepSeek-OCR at {', '.join(sorted(supported))} only; "
                "other resolution modes need the transformers engine"
            )
        return GenerationRequest(
            image=page.image,
            prompt=build_prompt(options.mode, options.prompt, options.phrase),
            max_tokens=options.max_tokens or int(self.settings.get("max_tokens", DEFAULT_MAX_TOKENS)),
            resolution=resolution,
        )

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        return self.ocr_batch([page], options)[0]

    def ocr_batch(self, pages: Sequence[PageImage], options: BackendOptions) -> list[PageResult]:
        """The pages as one `generate` call (the engine runs up to its `max_batch` as one batch)."""
        assert isinstance(options, DeepSeekOptions)
        engine = self.loaded_engine(DeepSeekEngine)
        requests = [self.request(page, options) for page in pages]
        generations = engine.generate(requests)
        return [
            self.page_result(page, request, generation, options)
            for page, request, generation in zip(pages, requests, generations, strict=True)
        ]

    def page_result(
        self, page: PageImage, request: GenerationRequest, generation: Generation, options: DeepSeekOptions
    ) -> PageResult:
        """The engine's raw text for `page` parsed into blocks, with the raw answer kept."""
        parsed = parse_grounding(generation.text, page.width, page.height, generation.finish_reason)
        return PageResult(
            index=page.index,
            width=page.width,
            height=page.height,
            blocks=parsed.blocks,
            flags=parsed.flags,
            raw={
                "text": generation.text,
                "finish_reason": generation.finish_reason,
                "output_tokens": generation.output_tokens,
                "prompt": request.prompt,
                "mode": options.mode.value,
                "engine": self.engine_name,
            },
            ocr_seconds=generation.seconds,
        )

    def health(self) -> BackendHealth:
        health = super().health()
        info = self.engine.info() if self.engine is not None else {"engine": self.engine_name}
        health.engine_version = health.engine_version or self.engine_name
        health.device = str(info.get("device", "cpu"))
        health.info = info
        return health
