"""A comparison compares the engines: on a born-digital PDF (a real page of ../shared/eval/docling_pdf) a
request with several backends and no `text_layer` has every engine read every page (`never`); a caller
who sets `text_layer` keeps it, and a page every engine then took from the PDF's text layer is labelled
and left out of the agreement and of the scorecard. Real gateway, real RapidOCR and Tesseract workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.cluster import Cluster

BOTH = "rapidocr,tesseract"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("compare"), {"rapidocr": {}, "tesseract": {}}).start()
    yield running
    assert running.stop() == []


Paper = tuple[str, bytes, str]


@pytest.fixture(scope="module")
def paper(eval_dir: Path) -> Paper:
    """One born-digital page (a paper's page 9, with a reliable text layer)."""
    path = eval_dir / "docling_pdf" / "pdf" / "2305.03393v1-pg9.pdf"
    return (path.name, path.read_bytes(), "application/pdf")


def origins(result: dict[str, Any]) -> set[str]:
    return {block["origin"] for page in result["pages"] for block in page["blocks"]}


def ended_job(cluster: Cluster, data: dict[str, str], paper: Paper) -> str:
    submitted = httpx.post(f"{cluster.url}/v1/jobs", files={"file": paper}, data=data, timeout=60)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    deadline = time.monotonic() + 300
    while httpx.get(f"{cluster.url}/v1/jobs/{job_id}", timeout=10).json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.5)
    return job_id


def test_a_comparison_has_every_engine_read_every_page(cluster: Cluster, paper: Paper) -> None:
    data = {"backend": BOTH, "boxes": "none", "dpi": "100"}
    answer = httpx.post(f"{cluster.url}/v1/ocr", files={"file": paper}, data=data, timeout=300).json()
    for name in ("rapidocr", "tesseract"):
        result = answer["results"][name]
        assert origins(result) == {"engine"}, name
        assert result["timings"]["ocr"] > 0, name
    assert answer["text_layer_pages"] == []
    (pair,) = answer["agreement"]
    assert 0.5 < pair["similarity"] < 1.0  # two engines' own readings: close, never the same text twice


def test_one_backend_keeps_reading_the_text_layer(cluster: Cluster, paper: Paper) -> None:
    data = {"backend": "rapidocr", "boxes": "none"}
    answer = httpx.post(f"{cluster.url}/v1/ocr", files={"file": paper}, data=data, timeout=300).json()
    assert origins(answer) == {"text_layer"} and answer["timings"]["ocr"] == 0.0


def test_an_explicit_text_layer_is_kept_and_its_pages_are_not_compared(
    cluster: Cluster, paper: Paper
) -> None:
    data = {"backend": BOTH, "boxes": "none", "text_layer": "auto"}
    answer = httpx.post(f"{cluster.url}/v1/ocr", files={"file": paper}, data=data, timeout=300).json()
    assert all(origins(r) == {"text_layer"} for r in answer["results"].values())
    assert answer["text_layer_pages"] == [0]
    assert answer["agreement"] == []  # the same text layer twice is no agreement of engines


def test_a_compare_job_reads_with_the_engines(cluster: Cluster, paper: Paper) -> None:
    job_id = ended_job(cluster, {"backend": BOTH, "boxes": "none", "dpi": "100"}, paper)
    result = httpx.get(f"{cluster.url}/v1/jobs/{job_id}/result", timeout=30).json()
    assert all(origins(r) == {"engine"} for r in result["results"].values())
    assert result["text_layer_pages"] == []
    card = httpx.get(f"{cluster.url}/v1/jobs/{job_id}/scorecard", timeout=30).json()
    assert card["pages"][0]["text_layer"] is False and card["pages"][0]["agreement"]


def test_a_compare_job_on_the_text_layer_names_no_winner(cluster: Cluster, paper: Paper) -> None:
    job_id = ended_job(cluster, {"backend": BOTH, "boxes": "none", "text_layer": "auto"}, paper)
    result = httpx.get(f"{cluster.url}/v1/jobs/{job_id}/result", timeout=30).json()
    assert result["text_layer_pages"] == [0] and result["agreement"] == []
    text = result["results"]["rapidocr"]["markdown"]
    put = httpx.put(
        f"{cluster.url}/v1/jobs/{job_id}/truth/0", json={"text": text, "backend": "rapidocr"}, timeout=30
    )
    assert put.status_code == 200, put.text
    card = httpx.get(f"{cluster.url}/v1/jobs/{job_id}/scorecard", timeout=30).json()
    (page,) = card["pages"]
    assert page["text_layer"] is True and page["truth"] is True
    assert page["agreement"] == [] and page["winner"] is None
    assert card["agreement"] == [] and card["winner"] is None
    assert all(engine["cer"] is None and engine["wins"] == 0 for engine in card["engines"])
