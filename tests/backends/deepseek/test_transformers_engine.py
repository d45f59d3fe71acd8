"""The transformers engine on a tiny random DeepSeek-OCR 2, its batches, its n-gram rule, and a real
worker process that merges concurrent pages into one batch for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ocrgate.backends.deepseek.backend import DeepSeekOCRBackend
from ocrgate.backends.deepseek.engine import GenerationRequest
from ocrgate.backends.deepseek.generation import NGramRepeatBan
from ocrgate.backends.deepseek.transformers_engine import TransformersEngine
from ocrgate.documents import PageImage
from ocrgate.errors import BackendUnavailable, InvalidOption
from ocrgate.wire import RAW_RGB, encode_page
from tests.worker_process import WorkerProcess

PAGES = (
    "tesseract_test/images/phototest.png",
    "tesseract_test/images/eurotext.png",
    "docling_pdf/images/code_and_formula_p1.png",
)


@pytest.fixture(scope="module")
def engine(tiny_model: Path) -> Iterator[TransformersEngine]:
    settings = {"engine": "transformers", "model": str(tiny_model), "max_batch": 4, "decode": "generate"}
    engine = TransformersEngine(settings)
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
    before = engine.batch_sizes()
    generations = engine.generate(requests)
    assert [g.output_tokens for g in generations] == [4] * len(modes)
    after = engine.batch_sizes()  # six pages, max_batch 4: a batch of 4, then one of 2
    assert (after["4"] - before.get("4", 0), after["2"] - before.get("2", 0)) == (1, 1)
    with pytest.raises(InvalidOption):
        engine.generate([GenerationRequest(image=pages[0], prompt="x", max_tokens=4, resolution="huge")])


def test_max_batch_is_the_setting_everywhere(tiny_model: Path) -> None:
    settings = {"engine": "transformers", "model": str(tiny_model), "max_batch": 5}
    assert TransformersEngine(settings).max_batch == 5
    assert DeepSeekOCRBackend(settings).max_batch == 5
    assert DeepSeekOCRBackend({**settings, "max_batch": None}).unavailable()  # a bad setting is a reason
    assert DeepSeekOCRBackend({"engine": "vllm", "url": "http://127.0.0.1:9"}).max_batch == 1


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


# -- a real worker process ---------------------------------------------------------------------
def test_worker_process_batches_concurrent_pages(
    tiny_model: Path, tmp_path: Path, pages: list[Image.Image]
) -> None:
    """Concurrent pages with equal options reach the engine as one batch, formed by the worker alone:
    the engine runs exactly the batches the worker made; pages with other options never join them."""
    settings = {"engine": "transformers", "model": str(tiny_model), "max_batch": 4, "max_tokens": 8}
    section = {"concurrency": 4, "batch_wait_ms": 500, "options": settings}
    with WorkerProcess(tmp_path, "deepseek-ocr", section) as worker:
        health = worker.start()
        assert health["status"] == "healthy", health

        def post(index: int, mode: str) -> dict[str, Any]:
            body, params = encode_page(PageImage(index=index, image=pages[index % 3].convert("RGB")))
            params["options"] = json.dumps({"mode": mode})
            response = httpx.post(
                f"{worker.url}/v1/ocr",
                content=body,
                params=params,
                headers={"content-type": RAW_RGB},
                timeout=120,
            )
            assert response.status_code == 200, response.text
            return response.json()

        def batches() -> tuple[dict[int, int], dict[int, int]]:
            health = httpx.get(f"{worker.url}/health", timeout=10).json()
            engine = health["engine"]["info"]["batch_sizes"]
            return (
                {int(size): n for size, n in health["batch_sizes"].items()},
                {int(size): n for size, n in engine.items()},
            )

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(post, range(4), ["free"] * 4))
        assert sorted(r["index"] for r in results) == [0, 1, 2, 3]
        assert all(r["raw"]["finish_reason"] == "length" for r in results)
        made, run = batches()
        assert made == run, (made, run)  # the engine did not batch a second time
        assert sum(size * count for size, count in made.items()) == 4
        assert max(made) > 1, made

        modes = ["free", "document", "free", "document"]
        with ThreadPoolExecutor(4) as pool:
            mixed = list(pool.map(post, range(4), modes))
        assert [r["raw"]["mode"] for r in mixed] == modes
        after, _ = batches()
        new = {size: after[size] - made.get(size, 0) for size in after if after[size] > made.get(size, 0)}
        assert sum(size * count for size, count in new.items()) == 4
        assert max(new) <= 2, new  # two options, two pages each: never one batch of both
