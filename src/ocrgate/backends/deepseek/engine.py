"""What the DeepSeek-OCR backend asks of an engine: turn (page image, prompt) into raw model text.

An engine knows nothing of blocks or markdown; `grounding.parse_grounding` makes those from the raw
text. Engines: `vllm` (an OpenAI-compatible vLLM server) and `transformers` (in the worker process).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field


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


class Engine(ABC):
    """Loads the model (or reaches its server) and generates; `generate` takes a batch of pages."""

    name: ClassVar[str]
    #: the resolution modes this engine can apply; None: all of prompts.RESOLUTIONS
    resolutions: ClassVar[frozenset[str] | None] = None

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)

    @classmethod
    def availability(cls) -> str | None:
        """None when this engine can run in this process, else a one-line reason."""
        return None

    @abstractmethod
    def load(self) -> None:
        """Load the model or wait for its server; raises BackendUnavailable when it cannot."""

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One Generation per request, in order; several requests may run as one batch."""

    def info(self) -> dict[str, Any]:
        """What to show in /health: model name, versions, device."""
        return {"engine": self.name}

    def close(self) -> None:
        """Release the model or the connection."""
        return None
