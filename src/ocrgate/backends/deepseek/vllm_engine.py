"""Engine `vllm`: DeepSeek-OCR served by vLLM's OpenAI-compatible server (`vllm serve`).

Each page is one chat completion: the page as a PNG data URL plus the text prompt, greedy
decoding, `skip_special_tokens` off so the grounding tags survive, and the settings of vLLM's
DeepSeek-OCR n-gram logits processor (which the server must load with `--logits_processors`)
passed per request in `vllm_xargs`. vLLM batches concurrent requests itself, so the engine takes
one page a call (`max_batch` 1) and the worker keeps `concurrency` pages in flight. vLLM's
DeepSeek-OCR processor uses the model's dynamic tiling ("gundam"); other resolution modes need the
transformers engine.

Settings: `url` (the server, e.g. http://127.0.0.1:8000; filled in by the launcher when it starts
the server), `model` (served model name; default: the first the server lists), `api_key`,
`timeout_s` (per page, default 600), `start_timeout_s` (how long `load` waits for the server,
default 900), `ngram_size` (30), `window_size` (90), `whitelist_token_ids` ([128821, 128822]:
`<td>`, `</td>`), `image_format` (PNG).
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, Field

from ocrgate.backends.deepseek.engine import DeepSeekEngine, Generation, GenerationRequest
from ocrgate.errors import BackendError, BackendUnavailable, Timeout

NGRAM_DEFAULTS: dict[str, Any] = {
    "ngram_size": 30,
    "window_size": 90,
    "whitelist_token_ids": [128821, 128822],
}


class ChatMessage(BaseModel):
    content: str | None = None


class ChatChoice(BaseModel):
    message: ChatMessage
    finish_reason: str | None = None


class Usage(BaseModel):
    completion_tokens: int | None = None


class ChatCompletion(BaseModel):
    """The part of an OpenAI chat completion this engine reads."""

    choices: list[ChatChoice] = Field(min_length=1)
    usage: Usage | None = None


class ModelList(BaseModel):
    data: list[dict[str, Any]]


def data_url(image: Any, image_format: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=image_format, compress_level=1)
    return f"data:image/{image_format.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


class VLLMEngine(DeepSeekEngine):
    name: ClassVar[str] = "vllm"
    resolutions: ClassVar[frozenset[str] | None] = frozenset({"gundam"})

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(settings)
        url = self.settings.get("url")
        if not url:
            raise BackendUnavailable(
                "deepseek-ocr (vllm): no server: set `url` in [backends.deepseek-ocr.options] "
                "or give the backend a [backends.deepseek-ocr.server]"
            )
        self.url = str(url).rstrip("/")
        self.model: str | None = self.settings.get("model")
        self.timeout_s = float(self.settings.get("timeout_s", 600))
        headers = (
            {"Authorization": f"Bearer {self.settings['api_key']}"} if self.settings.get("api_key") else {}
        )
        self.client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(self.timeout_s, connect=10.0), limits=httpx.Limits()
        )

    def sampling(self, request: GenerationRequest) -> dict[str, Any]:
        """The request body's sampling part: greedy, tags kept, the n-gram processor's settings."""
        xargs = {key: self.settings.get(key, default) for key, default in NGRAM_DEFAULTS.items()}
        return {
            "temperature": 0.0,
            "max_tokens": request.max_tokens,
            "skip_special_tokens": False,
            "vllm_xargs": xargs,
        }

    def load(self) -> None:
        """Wait for the server (it may still be loading the model) and learn the served model's name."""
        deadline = time.monotonic() + float(self.settings.get("start_timeout_s", 900))
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                response = self.client.get(f"{self.url}/v1/models", timeout=5)
                if response.status_code == 200:
                    models = ModelList.model_validate_json(response.content).data
                    names = [str(m.get("id")) for m in models]
                    if self.model is None and names:
                        self.model = names[0]
                    if self.model in names:
                        return
                    last = f"it serves {names}, not {self.model!r}"
                else:
                    last = f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError) as exc:
                last = type(exc).__name__
            time.sleep(1.0)
        raise BackendUnavailable(f"deepseek-ocr (vllm): server {self.url} not ready: {last}")

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        image_format = str(self.settings.get("image_format", "PNG"))
        content = [
            {"type": "image_url", "image_url": {"url": data_url(request.image, image_format)}},
            {"type": "text", "text": request.prompt},
        ]
        return {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            **self.sampling(request),
        }

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [self._one(request) for request in requests]

    def _one(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        try:
            response = self.client.post(f"{self.url}/v1/chat/completions", json=self.body(request))
        except httpx.TimeoutException as exc:
            raise Timeout(f"deepseek-ocr (vllm): no answer within {self.timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"deepseek-ocr (vllm): server {self.url} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise BackendError(f"deepseek-ocr (vllm): HTTP {response.status_code}: {response.text[:500]}")
        try:
            completion = ChatCompletion.model_validate_json(response.content)
        except ValueError as exc:
            raise BackendError(f"deepseek-ocr (vllm): unreadable answer: {exc}") from exc
        choice = completion.choices[0]
        return Generation(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            output_tokens=completion.usage.completion_tokens if completion.usage else None,
            seconds=time.perf_counter() - started,
        )

    def info(self) -> dict[str, Any]:
        return {"engine": self.name, "url": self.url, "model": self.model, "device": "server"}

    def close(self) -> None:
        self.client.close()
