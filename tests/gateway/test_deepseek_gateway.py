"""DeepSeek-OCR's vLLM path end to end: launcher -> model server -> worker -> gateway -> response.

The model server is `tests.fakes.vllm_server` (the weights cannot be downloaded here): it speaks
vLLM's OpenAI-compatible protocol, checks each request and replays raw outputs written from
DeepSeek-OCR's documented grounding grammar. The launcher starts it exactly as it would start
`vllm serve`: from the backend's python, with the backend's GPU pinned, before the workers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ocrgate.client import OCRGateClient
from tests.gateway.cluster import Cluster, free_ports
from tests.gateway.test_gateway import pdf_of
from tests.helpers import cer

MODEL = "deepseek-ai/DeepSeek-OCR"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[tuple[Cluster, Path, str]]:
    tmp = tmp_path_factory.mktemp("deepseek")
    log = tmp / "vllm-requests.jsonl"
    port = free_ports(1)
    server = {
        "command": [
            sys.executable,
            "-m",
            "tests.fakes.vllm_server",
            "--port",
            "{port}",
            "--host",
            "{host}",
            "--model",
            MODEL,
            "--eval",
            str(eval_dir),
            "--log",
            str(log),
            "--delay",
            "0.3",
        ],
        "port": port,
        "start_timeout_s": 60,
    }
    backends: dict[str, dict[str, Any]] = {
        "deepseek-ocr": {
            "gpu": "0",
            "concurrency": 8,
            "server": server,
            "options": {"engine": "vllm", "ngram_size": 20, "window_size": 50},
        },
        "rapidocr": {},
    }
    running = Cluster(tmp, backends).start()
    yield running, log, f"http://127.0.0.1:{port}"
    assert running.stop() == []


def requests_seen(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_markdown_and_boxes_from_the_served_model(
    served: tuple[Cluster, Path, str], phototest: Path, phototest_truth: str
) -> None:
    cluster, log, _ = served
    with OCRGateClient(cluster.url) as client:
        response = client.ocr(phototest, backend="deepseek-ocr")
    page = response.pages[0]
    assert cer(response.markdown, phototest_truth) < 0.05
    assert "<|ref|>" not in response.markdown and "<|det|>" not in response.markdown
    assert page.blocks and all(
        0 <= b.bbox[0] < b.bbox[2] <= 640 and 0 <= b.bbox[1] < b.bbox[3] <= 480 for b in page.blocks
    )
    assert page.boxes_image
    assert "<|ref|>" in response.raw_result["deepseek-ocr"]["text"]
    sent = requests_seen(log)[-1]
    assert sent["prompt"] == "<|grounding|>Convert the document to markdown."
    assert sent["image_size"] == [640, 480]
    assert sent["temperature"] == 0 and sent["skip_special_tokens"] is False
    assert sent["vllm_xargs"]["ngram_size"] == 20 and sent["vllm_xargs"]["window_size"] == 50
    assert sent["vllm_xargs"]["whitelist_token_ids"] == [128821, 128822]


def test_compare_with_a_cpu_engine(served: tuple[Cluster, Path, str], phototest: Path) -> None:
    cluster, _, _ = served
    answer = httpx.post(
        f"{cluster.url}/v1/ocr",
        data={"backend": "deepseek-ocr,rapidocr"},
        files={"file": ("phototest.png", phototest.read_bytes(), "image/png")},
        timeout=120,
    ).json()
    assert answer["backends"] == ["deepseek-ocr", "rapidocr"]
    assert answer["agreement"][0]["similarity"] > 0.8
    assert all(r["success"] for r in answer["results"].values())


def test_model_server_and_worker_pinned_apart_from_the_cpu_worker(served: tuple[Cluster, Path, str]) -> None:
    cluster, _, server_url = served
    workers = cluster.workers()
    assert workers["deepseek-ocr"][0]["health"]["device"]["cuda_visible_devices"] == "0"
    assert workers["rapidocr"][0]["health"]["device"]["cuda_visible_devices"] == ""
    assert httpx.get(f"{server_url}/fake/stats").json()["cuda_visible_devices"] == "0"


def test_pdf_pages_reach_the_server_concurrently(served: tuple[Cluster, Path, str], phototest: Path) -> None:
    cluster, _, server_url = served
    before = httpx.get(f"{server_url}/fake/stats").json()["requests"]
    pdf = pdf_of(Image.open(phototest).convert("RGB"), 6)
    with OCRGateClient(cluster.url) as client:
        response = client.ocr(pdf, backend="deepseek-ocr", filename="six.pdf")
    assert [p.index for p in response.pages] == list(range(6))
    assert all(p.blocks for p in response.pages)
    stats = httpx.get(f"{server_url}/fake/stats").json()
    assert stats["requests"] - before == 6
    assert stats["max_inflight"] >= 4  # the server could batch them


def test_modes_prompts_and_flags(served: tuple[Cluster, Path, str], phototest: Path) -> None:
    cluster, log, _ = served
    data = phototest.read_bytes()

    def ocr(options: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{cluster.url}/v1/ocr",
            data={"backend": "deepseek-ocr", "options": json.dumps(options)},
            files={"file": ("p.png", data, "image/png")},
            timeout=60,
        )

    free = ocr({"mode": "free"}).json()
    assert requests_seen(log)[-1]["prompt"] == "Free OCR."
    assert "no_grounding" in free["pages"][0]["flags"]
    ocr({"mode": "locate", "phrase": "quick brown dog"})
    assert requests_seen(log)[-1]["prompt"] == "Locate <|ref|>quick brown dog<|/ref|> in the image."
    ocr({"prompt": "<image>\nOCR this image."})
    assert requests_seen(log)[-1]["prompt"] == "OCR this image."
    cut = ocr({"max_tokens": 40}).json()
    assert "truncated" in cut["pages"][0]["flags"] and cut["pages"][0]["markdown"]
    for bad in ({"mode": "sing"}, {"resolution": "tiny"}, {"temperature": 1}, {"mode": "locate"}):
        answer = ocr(bad)
        assert answer.status_code == 422, bad
        assert answer.json()["error"]["code"] == "invalid_option"
