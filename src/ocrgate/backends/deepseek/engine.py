"""What the DeepSeek-OCR backend asks of an engine: turn (page image, prompt) into raw model text.

An engine knows nothing of blocks or markdown; `grounding.parse_grounding` makes those from the raw
text. Engines: `vllm` (an OpenAI-compatible vLLM server) and `transformers` (in the worker process).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from ocrgate.backends.engines import Engine


class GenerationRequest(BaseModel):
    """One page for the model: its image, the text prompt (no image tag) and the output budget."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    image: Image.Image
    prompt: str
    max_tokens: int = Field(default=8192, gt=0)
    resolution: str | None = Field(default=None, description="tiny|small|base|large|gundam; None: default")


class Generation(BaseModel):
    """The model's raw answer for one page."""

    text: str
    finish_reason: str | None = Field(default=None, description="`stop`, or `length` when max_tokens hit")
    output_tokens: int | None = None
    seconds: float = 0.0


class DeepSeekEngine(Engine):
    """A DeepSeek-OCR engine: `generate` takes a batch of up to `max_batch` pages."""

    #: the resolution modes this engine can apply; None: all of prompts.RESOLUTIONS
    resolutions: ClassVar[frozenset[str] | None] = None

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One Generation per request, in order; the requests run as one batch where the engine can."""

    def version(self) -> str | None:
        """The model the engine runs (its name or directory), else the engine's name."""
        return str(self.info().get("model") or self.name)
