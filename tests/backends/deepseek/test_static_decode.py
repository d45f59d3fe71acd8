"""The static-cache decoder gives the tokens `model.generate` gives: greedy, same n-gram ban, same ends.

Runs the tiny random DeepSeek-OCR 2 on the CPU (float32, no CUDA graphs: the same step function the
graphs capture) on real pages of different sizes, so prompts differ in length and pages are padded
in prefill; fewer rows than pages, so finished rows are refilled while others decode.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from ocrgate.backends.deepseek.engine import Generation, GenerationRequest
from ocrgate.backends.deepseek.generation import NGramRepeatBan
from ocrgate.backends.deepseek.transformers_engine import TransformersEngine

PAGES = (
    "tesseract_test/images/phototest.png",
    "tesseract_test/images/eurotext.png",
    "docling_pdf/images/code_and_formula_p1.png",
)
NGRAM = {"ngram_size": 3, "window_size": 16, "whitelist_token_ids": [5, 6]}


@pytest.fixture(scope="module")
def requests(eval_dir: Path) -> list[GenerationRequest]:
    pages = [Image.open(eval_dir / page).convert("RGB") for page in PAGES]
    pages.append(pages[0].resize((150, 110)))  # smaller than a tile: no tiles, a shorter prompt
    prompts = ["<|grounding|>Convert the document to markdown.", "Free OCR.", "Parse the figure."]
    budgets = [40, 23, 31, 40, 17, 36]
    resolutions = [None, None, None, None, "base", "tiny"]
    return [
        GenerationRequest(
            image=pages[i % len(pages)], prompt=prompts[i % 3], max_tokens=budget, resolution=resolution
        )
        for i, (budget, resolution) in enumerate(zip(budgets, resolutions, strict=True))
    ]


def _engine(model: Path, **settings: object) -> TransformersEngine:
    engine = TransformersEngine({"model": str(model), "max_batch": 8, **settings})
    engine.load()
    return engine


@pytest.fixture(scope="module")
def static(tiny_model: Path) -> Iterator[TransformersEngine]:
    # two rows for six pages: rows are refilled as pages end; harvest every 3 steps
    engine = _engine(
        tiny_model, decode="static", slots=2, prefill_batch=2, sync_every=3, max_len=2048, **NGRAM
    )
    yield engine
    engine.close()


def _same(a: list[Generation], b: list[Generation]) -> None:
    assert [g.text for g in a] == [g.text for g in b]
    assert [g.output_tokens for g in a] == [g.output_tokens for g in b]
    assert [g.finish_reason for g in a] == [g.finish_reason for g in b]


def test_static_decode_gives_the_tokens_of_generate(
    tiny_model: Path, static: TransformersEngine, requests: list[GenerationRequest]
) -> None:
    plain = _engine(tiny_model, decode="generate", **NGRAM)
    try:
        expected = plain.generate(requests)
    finally:
        plain.close()
    got = static.generate(requests)
    _same(got, expected)
    assert static.info()["decode"] == "static"
    stats = static.info()["static_decode"]
    assert stats["slots"] == 2 and stats["steps"] > 0 and stats["prefills"] >= 3
    assert stats["mean_rows"] <= 2


def test_the_ngram_ban_is_applied(
    tiny_model: Path, static: TransformersEngine, requests: list[GenerationRequest]
) -> None:
    """Without the rule the tiny model repeats itself; with it, both paths ban the same tokens."""
    free = _engine(tiny_model, decode="static", slots=3, sync_every=5, max_len=2048)
    try:
        unbanned = free.generate(requests)
    finally:
        free.close()
    banned = static.generate(requests)
    assert [g.text for g in unbanned] != [g.text for g in banned]
    plain = _engine(tiny_model, decode="generate")
    try:
        _same(unbanned, plain.generate(requests))
    finally:
        plain.close()


def test_ngram_ban_on_fixed_shapes_matches_the_processor() -> None:
    torch = pytest.importorskip("torch")
    from ocrgate.backends.deepseek.generation import ngram_ban

    generator = torch.Generator().manual_seed(7)
    vocab, rows, width = 12, 64, 40
    history = torch.randint(0, 4, (rows, width), generator=generator)  # few symbols: many repeats
    gen_len = torch.randint(0, width, (rows,), generator=generator)
    for n, window, whitelist in ((3, 10, ()), (2, 6, (1,)), (1, 4, ()), (4, 40, (0, 2)), (5, 3, ())):
        allowed = torch.zeros(vocab, dtype=torch.bool)
        allowed[list(whitelist)] = True
        scores = torch.zeros(rows, vocab)
        ngram_ban(scores, history, gen_len, n, window, allowed)
        rule = NGramRepeatBan(n, window, whitelist)
        for row in range(rows):
            tokens = history[row, : gen_len[row]].tolist()
            got = set(torch.nonzero(scores[row] == float("-inf")).flatten().tolist())
            assert got == rule.banned(tokens), (n, window, tokens)


def test_a_budget_past_max_len_ends_at_max_len(tiny_model: Path, requests: list[GenerationRequest]) -> None:
    engine = _engine(tiny_model, decode="static", slots=1, max_len=320, ignore_eos=True)
    request = requests[4].model_copy(update={"max_tokens": 5000})  # the global view alone
    try:
        prompt = int(engine._prepare("global", request)["input_ids"].shape[1])
        [generation] = engine.generate([request])
    finally:
        engine.close()
    assert generation.finish_reason == "length"
    assert generation.output_tokens == 320 - prompt
