"""A stand-in for `vllm serve deepseek-ai/DeepSeek-OCR`: vLLM's OpenAI-compatible routes, fixture answers.

The weights cannot be downloaded here, so this server answers with raw DeepSeek-OCR outputs written
from the model's documented grounding grammar (`tests/fixtures/deepseek`). It speaks the protocol
the real server speaks (`/health`, `/v1/models`, `/v1/chat/completions` with an image_url part,
OpenAI error bodies) and it checks what a real deployment needs from each request: one image that
decodes, a text prompt, greedy decoding, special tokens kept, and the n-gram processor's settings.
Each checked request is appended to `--log` as JSON (image size, not bytes), so tests can see
what the adapter sent, how many requests overlapped (vLLM batches those), and which GPU it had.

The answer for a request is the fixture whose page has the image's size and whose mode matches the
prompt; `max_tokens` cuts it (about 3 characters a token) with finish_reason `length`.

Run: python -m tests.fakes.vllm_server --port P --eval ../shared/eval [--model NAME] [--log FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from PIL import Image
from pydantic import BaseModel, ConfigDict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deepseek"
CHARS_PER_TOKEN = 3
NO_FIXTURE = (
    "<|ref|>text<|/ref|><|det|>[[0, 0, 999, 999]]<|/det|>\n(the fake server has no fixture for this page)"
)


class Fixture(BaseModel):
    file: str
    image: str
    mode: str
    finish_reason: str = "stop"


class ChatRequest(BaseModel):
    """What vLLM's chat endpoint reads; extra fields are allowed, as vLLM allows them."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    max_tokens: int | None = None
    skip_special_tokens: bool = True
    vllm_xargs: dict[str, Any] | None = None


def error(status: int, message: str, kind: str = "BadRequestError") -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": status}}
    return JSONResponse(body, status_code=status)


def prompt_mode(prompt: str) -> str:
    if "Convert the document to markdown" in prompt:
        return "document"
    if prompt.startswith("Locate"):
        return "locate"
    return "free"


def create_app(model: str, eval_dir: Path, log: Path | None, delay_s: float) -> FastAPI:
    fixtures = [Fixture.model_validate(f) for f in json.loads((FIXTURES / "fixtures.json").read_text())]
    sizes = {}
    for fixture in fixtures:
        with Image.open(eval_dir / fixture.image) as image:
            sizes[fixture.file] = image.size
    state = {"inflight": 0, "max_inflight": 0, "requests": 0}
    app = FastAPI(title="fake vLLM (DeepSeek-OCR fixtures)")

    def answer(size: tuple[int, int], mode: str) -> Fixture | None:
        matches = [f for f in fixtures if sizes[f.file] == size and f.mode == mode]
        preferred = [f for f in matches if f.finish_reason == "stop"]
        return (preferred or matches or [None])[0]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        card = {"id": model, "object": "model", "created": int(time.time()), "owned_by": "vllm"}
        return {"object": "list", "data": [{**card, "root": model, "max_model_len": 8192}]}

    @app.get("/fake/stats")
    def stats() -> dict[str, Any]:
        return {**state, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: ChatRequest) -> JSONResponse | dict[str, Any]:
        if request.model != model:
            return error(404, f"The model `{request.model}` does not exist.", "NotFoundError")
        if len(request.messages) != 1 or request.messages[0].get("role") != "user":
            return error(400, "expected exactly one user message")
        parts = request.messages[0].get("content")
        if not isinstance(parts, list):
            return error(400, "the user message must be a list of content parts")
        images = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
        texts = [p["text"] for p in parts if p.get("type") == "text"]
        if len(images) != 1 or len(texts) != 1:
            return error(400, "expected one image_url part and one text part")
        header, _, data = images[0].partition(",")
        try:
            assert header.startswith("data:image/") and header.endswith(";base64")
            with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as image:
                image.load()
                size = image.size
        except (AssertionError, binascii.Error, OSError) as exc:
            return error(400, f"image_url is not a base64 image data URL: {exc}")
        if request.temperature != 0:
            return error(400, "DeepSeek-OCR is run greedy: temperature must be 0")
        if request.skip_special_tokens:
            return error(400, "skip_special_tokens must be false or the grounding tags are lost")
        xargs = request.vllm_xargs or {}
        if not {"ngram_size", "window_size", "whitelist_token_ids"} <= set(xargs):
            return error(400, "vllm_xargs must carry the n-gram logits processor's settings")
        record = {
            "prompt": texts[0],
            "image_size": list(size),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "skip_special_tokens": request.skip_special_tokens,
            "vllm_xargs": xargs,
            "started": time.time(),
        }
        state["inflight"] += 1
        state["requests"] += 1
        state["max_inflight"] = max(state["max_inflight"], state["inflight"])
        try:
            await asyncio.sleep(delay_s)
        finally:
            state["inflight"] -= 1
        fixture = answer(size, prompt_mode(texts[0]))
        text = (FIXTURES / fixture.file).read_text(encoding="utf-8") if fixture else NO_FIXTURE
        finish = fixture.finish_reason if fixture else "stop"
        budget = (request.max_tokens or 8192) * CHARS_PER_TOKEN
        if len(text) > budget:
            text, finish = text[:budget], "length"
        if log:
            with log.open("a", encoding="utf-8") as out:
                out.write(json.dumps({**record, "fixture": fixture.file if fixture else None}) + "\n")
        return {
            "id": f"chatcmpl-{state['requests']}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": 273,
                "completion_tokens": max(1, len(text) // CHARS_PER_TOKEN),
                "total_tokens": 273 + max(1, len(text) // CHARS_PER_TOKEN),
            },
        }

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model", default="deepseek-ai/DeepSeek-OCR")
    parser.add_argument("--eval", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--log", type=Path)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each answer takes")
    args = parser.parse_args()
    app = create_app(args.model, args.eval, args.log, args.delay)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
