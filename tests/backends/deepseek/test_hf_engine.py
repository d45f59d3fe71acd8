"""The transformers engine on a tiny random DeepSeek-OCR 2, its micro-batcher, its n-gram rule, and a
real worker process that merges concurrent pages into one batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ocrgate.backends.deepseek.batching import BatcherClosed, MicroBatcher
from ocrgate.backends.deepseek.engine import GenerationRequest
from ocrgate.backends.deepseek.generation import NGramRepeatBan
from ocrgate.backends.deepseek.hf_engine import TransformersEngine
from ocrgate.documents import PageImage
from ocrgate.errors import BackendUnavailable, InvalidOption
from ocrgate.wire import RAW_RGB, encode_page
from tests.gateway.cluster import REPO, free_ports

PAGES = (
    "tesseract_test/images/phototest.png",
    "tesseract_test/images/eurotext.png",
    "docling_pdf/images/code_and_formula_p1.png",
)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers.models.deepseek_ocr2")
    from tests.backends.deepseek.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("deepseek-ocr2-tiny"))


@pytest.fixture(scope="module")
def engine(tiny_model: Path) -> Iterator[TransformersEngine]:
    engine = TransformersEngine({"engine": "transformers", "model": str(tiny_model), "max_batch": 4})
    engine.load()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def pages(eval_dir: Path) -> list[Image.Image]:
    return [Image.open(eval_dir / page) for page in PAGES]


def test_batch_of_three_real_pages(engine: TransformersEngine, pages: list[Image.Image]) -> None:
    prompts = ["<|grounding|>Convert the document to markdown.", "Free OCR.", "Parse the figure."]
    budgets = [16, 8, 12]  # one batch, each row stops at its own budget
    before = engine.batch_sizes().get("3", 0)
    generations = engine.generate(
        [
            GenerationRequest(image=page, prompt=prompt, max_tokens=budget)
            for page, prompt, budget in zip(pages, prompts, budgets, strict=True)
        ]
    )
    assert len(generations) == 3
    for generation, budget in zip(generations, budgets, strict=True):
        assert generation.finish_reason == "length"
        assert generation.output_tokens == budget
        assert isinstance(generation.text, str)
        assert generation.seconds > 0
    assert engine.batch_sizes()["3"] == before + 1
    info = engine.info()
    assert info["family"] == "deepseek_ocr2" and info["device"] == "cpu" and info["dtype"] == "float32"


def test_resolution_modes_share_a_call(engine: TransformersEngine, pages: list[Image.Image]) -> None:
    modes = [None, "gundam", "base", "large", "tiny", "small"]
    requests = [
        GenerationRequest(image=pages[0], prompt="Free OCR.", max_tokens=4, resolution=m) for m in modes
    ]
    generations = engine.generate(requests)
    assert [g.output_tokens for g in generations] == [4] * len(modes)
    with pytest.raises(InvalidOption):
        engine.generate([GenerationRequest(image=pages[0], prompt="x", max_tokens=4, resolution="huge")])


def test_concurrent_single_pages_are_batched(tiny_model: Path, pages: list[Image.Image]) -> None:
    engine = TransformersEngine({"model": str(tiny_model), "max_batch": 4, "batch_wait_ms": 500})
    engine.load()
    try:
        start = threading.Barrier(4)

        def one(index: int) -> str | None:
            start.wait()
            request = GenerationRequest(image=pages[index % 3], prompt="Free OCR.", max_tokens=6)
            return engine.generate([request])[0].finish_reason

        with ThreadPoolExecutor(4) as pool:
            reasons = list(pool.map(one, range(4)))
        assert reasons == ["length"] * 4
        sizes = {int(size): count for size, count in engine.batch_sizes().items()}
        assert sum(size * count for size, count in sizes.items()) == 4
        assert max(sizes) > 1
    finally:
        engine.close()


def test_ngram_processor_bans_repeats_and_keeps_whitelist() -> None:
    torch = pytest.importorskip("torch")
    prompt = [7, 1, 2, 3]  # the prompt's own 1 2 3 is never looked at
    ids = torch.tensor([[*prompt, 1, 2, 3, 4, 1, 2], [*prompt, 5, 6, 5, 6, 5, 8]])
    scores = torch.zeros(2, 10)
    out = NGramRepeatBan(ngram_size=3, window_size=100, prompt_len=4)(ids, scores.clone())
    assert out[0, 3] == float("-inf")  # 1 2 -> 3 would repeat "1 2 3"
    assert torch.isfinite(out[0, [0, 1, 2, 4, 5, 6, 7, 8, 9]]).all()
    assert torch.isfinite(out[1]).all()  # "5 8" was never followed by anything
    kept = NGramRepeatBan(ngram_size=3, window_size=100, whitelist=[3], prompt_len=4)(ids, scores.clone())
    assert torch.isfinite(kept).all()
    narrow = NGramRepeatBan(ngram_size=3, window_size=3, prompt_len=4)(ids, scores.clone())
    assert torch.isfinite(narrow).all()  # "1 2 3" is outside the last 3 generated tokens
    assert NGramRepeatBan(ngram_size=2, window_size=10).banned([5, 6, 5, 6, 5]) == {6}
    assert NGramRepeatBan(ngram_size=1, window_size=2).banned([1, 2, 3]) == {2, 3}
    assert NGramRepeatBan(ngram_size=3, window_size=10).banned([1, 2]) == set()


def test_remote_code_family_needs_trust(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    engine = TransformersEngine({"model": str(tmp_path), "family": "deepseek_ocr"})
    with pytest.raises(BackendUnavailable, match="trust_remote_code"):
        engine.load()
    with pytest.raises(BackendUnavailable, match="model"):
        TransformersEngine({"family": "deepseek_ocr2"})
    with pytest.raises(BackendUnavailable, match="not loaded"):
        TransformersEngine({"model": str(tmp_path)}).generate(
            [GenerationRequest(image=Image.new("RGB", (8, 8)), prompt="x")]
        )


def test_batcher_delivers_exceptions_to_every_caller() -> None:
    def fail(items: list[int]) -> list[int]:
        raise ValueError(f"batch of {len(items)} failed")

    batcher: MicroBatcher[int, int] = MicroBatcher(fail, max_batch=3, wait_ms=2000)
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(batcher.submit, i) for i in range(3)]
            errors = [f.exception(timeout=10) for f in futures]
        assert all(isinstance(e, ValueError) and "batch of 3" in str(e) for e in errors)
        assert batcher.stats() == {"3": 1}
    finally:
        batcher.close()


def test_batcher_results_order_split_and_close() -> None:
    seen: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        seen.append(items)
        return [2 * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(double, max_batch=4, wait_ms=50)
    assert batcher.submit_many(list(range(10))) == [2 * i for i in range(10)]
    assert [len(b) for b in seen] == [4, 4, 2]
    assert batcher.submit(21) == 42
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(1)


# -- a real worker process ---------------------------------------------------------------------
def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the worker exited"
        try:
            health = httpx.get(f"{url}/health", timeout=2).json()
            if health["status"] != "loading":
                return health
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"worker not ready after {timeout_s} s")


def _batch_sizes(health: dict[str, Any]) -> dict[int, int]:
    sizes = health["engine"]["info"].get("batch_sizes")
    assert sizes is not None, f"no batch sizes in /health: {health['engine']}"
    return {int(size): count for size, count in sizes.items()}


def test_worker_process_batches_concurrent_pages(
    tiny_model: Path, tmp_path: Path, pages: list[Image.Image]
) -> None:
    port = free_ports(1)
    options = {"engine": "transformers", "model": str(tiny_model), "max_batch": 4, "max_tokens": 8}
    config = tmp_path / "ocrgate.toml"
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in options.items())
    config.write_text(f"[backends.deepseek-ocr]\nconcurrency = 4\noptions = {{{inline}}}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCRGATE_")}
    env["OCRGATE_CONFIG"] = str(config)
    log = (tmp_path / "worker.log").open("wb")
    command = [sys.executable, "-m", "ocrgate", "worker", "--backend", "deepseek-ocr", "--port", str(port)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        health = _wait_healthy(url, process)
        assert health["status"] == "healthy", health

        def post(index: int) -> dict[str, Any]:
            body, params = encode_page(PageImage(index=index, image=pages[index % 3].convert("RGB")))
            params["options"] = json.dumps({"mode": "free"})
            response = httpx.post(
                f"{url}/v1/ocr", content=body, params=params, headers={"content-type": RAW_RGB}, timeout=60
            )
            assert response.status_code == 200, response.text
            return response.json()

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(post, range(4)))
        assert sorted(r["index"] for r in results) == [0, 1, 2, 3]
        assert all(r["raw"]["finish_reason"] == "length" for r in results)
        sizes = _batch_sizes(httpx.get(f"{url}/health", timeout=5).json())
        assert sum(size * count for size, count in sizes.items()) == 4
        assert max(sizes) > 1, sizes
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
