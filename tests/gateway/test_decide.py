"""Deciding on one's own pages through the API, on a real `ocrgate serve` reading real pages: several files
as one job, each backend's own options, page images, timings, truths, the scorecard, and the exported set
read back by `ocrgate eval` with the same numbers."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ocrgate.documents import open_document
from ocrgate.evaluate.datasets import load_manifest
from tests.gateway.cluster import REPO, Cluster

PAGES = ("phototest.png", "eurotext.png", "sroie_316.jpg")
SOURCES = ("tesseract_test/images", "tesseract_test/images", "receipts/images")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[Cluster]:
    running = Cluster(
        tmp_path_factory.mktemp("decide"), {"tesseract": {}, "rapidocr": {}}, gateway={"job_concurrency": 2}
    ).start()
    yield running
    assert running.stop() == []


@pytest.fixture(scope="module")
def pages(eval_dir: Path) -> list[Path]:
    return [eval_dir / folder / name for folder, name in zip(SOURCES, PAGES, strict=True)]


@pytest.fixture(scope="module")
def set_job(cluster: Cluster, pages: list[Path]) -> dict[str, Any]:
    """Three real pages as one job on both engines, tesseract with its own language option."""
    files = [("file", (p.name, p.read_bytes(), "application/octet-stream")) for p in pages]
    form = {"backend": "rapidocr,tesseract", "backend_options": json.dumps({"tesseract": {"lang": "eng"}})}
    answer = httpx.post(f"{cluster.url}/v1/jobs", files=files, data=form, timeout=60)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["page_count"] == 3 and job["page_names"] == list(PAGES)
    assert job["name"] == "phototest.png + 2 more"
    assert cluster.ended_job(job["id"])["status"] == "completed"
    return job


def test_a_set_of_files_is_one_job_whose_pages_are_the_files_pixels(
    cluster: Cluster, set_job: dict[str, Any], pages: list[Path]
) -> None:
    for index, path in enumerate(pages):
        answer = httpx.get(f"{cluster.url}/v1/jobs/{set_job['id']}/pages/{index}/image")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        served = Image.open(io.BytesIO(answer.content)).convert("RGB")
        original = open_document(path.read_bytes(), path.name).page(0).image
        assert served.size == original.size and served.tobytes() == original.tobytes(), path.name
    missing = httpx.get(f"{cluster.url}/v1/jobs/{set_job['id']}/pages/3/image")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    listed = httpx.get(f"{cluster.url}/v1/jobs").json()
    assert set_job["id"] in [j["id"] for j in listed]


def test_job_results_carry_the_summed_page_timings(cluster: Cluster, set_job: dict[str, Any]) -> None:
    result = httpx.get(f"{cluster.url}/v1/jobs/{set_job['id']}/result").json()
    for name, response in result["results"].items():
        timings = response["timings"]
        assert timings["ocr"] > 0 and timings["decode"] > 0 and timings["render"] > 0, name
        stages = timings["queue"] + timings["decode"] + timings["ocr"] + timings["render"]
        assert timings["total"] == pytest.approx(stages) and response["processing_time"] == timings["total"]
        assert len(response["pages"]) == 3 and "quick" in response["pages"][0]["markdown"].lower()


def test_each_backend_gets_its_own_options(cluster: Cluster, pages: list[Path]) -> None:
    file = {"file": (pages[0].name, pages[0].read_bytes(), "image/png")}
    wrong = httpx.post(
        f"{cluster.url}/v1/ocr", files=file, timeout=60,
        data={"backend": "rapidocr,tesseract", "options": json.dumps({"lang": "eng"})},
    )  # fmt: skip
    assert wrong.status_code == 422 and "rapidocr" in wrong.json()["error"]["message"]
    stranger = httpx.post(
        f"{cluster.url}/v1/ocr", files=file, timeout=60,
        data={"backend": "tesseract", "backend_options": json.dumps({"rapidocr": {"text_score": 0.9}})},
    )  # fmt: skip
    assert stranger.status_code == 422 and stranger.json()["error"]["code"] == "invalid_option"
    own = {"tesseract": {"lang": "eng"}, "rapidocr": {"text_score": 0.99}}
    both = httpx.post(
        f"{cluster.url}/v1/ocr", files=file, timeout=300,
        data={"backend": "rapidocr,tesseract", "backend_options": json.dumps(own)},
    )  # fmt: skip
    assert both.status_code == 200, both.text
    results = both.json()["results"]
    assert "quick" in results["tesseract"]["markdown"].lower()
    lines = [line for b in results["rapidocr"]["pages"][0]["blocks"] for line in b["lines"]]
    assert all(line["score"] >= 0.99 for line in lines)  # its text_score, not the default 0.5


def test_the_default_backend_is_marked(cluster: Cluster) -> None:
    backends = httpx.get(f"{cluster.url}/v1/backends").json()
    assert {b["name"]: b["default"] for b in backends} == {"tesseract": False, "rapidocr": True}


def test_truths_scorecard_and_the_exported_set_read_by_ocrgate_eval(
    cluster: Cluster, set_job: dict[str, Any], eval_dir: Path, tmp_path: Path
) -> None:
    base = f"{cluster.url}/v1/jobs/{set_job['id']}"
    before = httpx.get(f"{base}/scorecard").json()
    assert before["winner"] is None and before["corrected"] == 0
    assert [p["name"] for p in before["pages"]] == list(PAGES)
    assert before["agreement"][0]["a"] == "rapidocr" and 0 < before["agreement"][0]["similarity"] < 1
    assert httpx.get(f"{base}/export").status_code == 404  # nothing corrected yet

    gt = eval_dir / "tesseract_test" / "gt"
    truths = {i: (gt / PAGES[i]).with_suffix(".txt").read_text(encoding="utf-8") for i in (0, 1)}
    for index, text in truths.items():
        saved = httpx.put(f"{base}/truth/{index}", json={"text": text, "backend": "tesseract"})
        assert saved.status_code == 200 and saved.json()["index"] == index
    assert httpx.put(f"{base}/truth/3", json={"text": "x"}).status_code == 404
    assert httpx.put(f"{base}/truth/0", json={"text": "x", "backend": "nope"}).status_code == 422
    assert httpx.put(f"{base}/truth/0", json={"nothing": 1}).json()["error"]["code"] == "invalid_request"
    assert [t["index"] for t in httpx.get(f"{base}/truth").json()] == [0, 1]

    card = httpx.get(f"{base}/scorecard").json()
    assert card["corrected"] == 2 and card["winner"] == card["engines"][0]["backend"]
    result = httpx.get(f"{base}/result").json()["results"]
    for engine in card["engines"]:  # speed: the pages' work (the job's summed stages), not their wait
        stages = result[engine["backend"]]["timings"]
        work = stages["decode"] + stages["ocr"] + stages["render"]
        assert engine["seconds_per_page"] * 3 == pytest.approx(work)
        assert engine["queue_seconds_per_page"] * 3 == pytest.approx(stages["queue"])
        assert engine["pages_per_second"] == pytest.approx(1 / engine["seconds_per_page"])
    for engine in card["engines"]:
        assert engine["corrected"] == 2 and engine["cer"] is not None and engine["seconds_per_page"] > 0
        assert sum(p["winner"] == engine["backend"] for p in card["pages"]) == engine["wins"]
    assert card["pages"][2]["truth"] is False and card["pages"][2]["winner"] is None

    exported = httpx.get(f"{base}/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    folder = tmp_path / "set"
    zipfile.ZipFile(io.BytesIO(exported.content)).extractall(folder)
    entries = load_manifest(folder / "manifest.jsonl")
    assert [e.id for e in entries] == ["p001-phototest", "p002-eurotext"]
    assert [e.gt_text for e in entries] == [truths[0], truths[1]]
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "ocrgate", "eval", "--manifest", str(folder / "manifest.jsonl"),
         "--backends", "rapidocr,tesseract", "--out", str(run)],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    by_page = {p["index"]: p for p in card["pages"]}
    for record in records:
        page = by_page[int(record["page_id"][1:4]) - 1]["engines"][record["backend"]]
        assert record["cer"] == pytest.approx(page["cer"]) and record["f1"] == pytest.approx(page["f1"])
    summary = json.loads((run / "summary.json").read_text())
    for engine in card["engines"]:
        assert summary["backends"][engine["backend"]]["overall"]["cer"] == pytest.approx(engine["cer"])

    assert httpx.delete(f"{base}/truth/1").status_code == 204
    assert httpx.delete(f"{base}/truth/1").status_code == 404
    assert httpx.get(f"{base}/scorecard").json()["corrected"] == 1
