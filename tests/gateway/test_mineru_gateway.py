"""MinerU, DeepSeek-OCR and RapidOCR behind one gateway, each in its own process, venv and GPU pin.

The two model servers are the stand-ins of tests/fakes (the weights cannot be downloaded here), started
by the launcher as it starts `mineru-api` and `vllm serve`. The MinerU worker runs from a virtualenv
of its own (made here: its packages come from the main one through a .pth file), so `/health` shows a
different `sys.prefix` for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocrgate.client import OCRGateClient
from tests.gateway.cluster import Cluster, free_ports
from tests.helpers import cer


def own_venv(path: Path) -> Path:
    """A virtualenv whose python sees the main environment's packages; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = path / "lib" / version / "site-packages"
    # addsitedir, not a bare path: the main environment's own .pth files (the editable ocrgate) count too
    main = sysconfig.get_paths()["purelib"]
    (site / "main-env.pth").write_text(f"import site; site.addsitedir({main!r})\n", encoding="utf-8")
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[tuple[Cluster, Path]]:
    tmp = tmp_path_factory.mktemp("three")
    mineru_python = own_venv(tmp / "mineru-venv")
    mineru_port, vllm_port = free_ports(2), None
    vllm_port = mineru_port + 1
    backends: dict[str, dict[str, Any]] = {
        "mineru": {
            "gpu": "1",
            "python": str(mineru_python),
            "options": {"engine": "api", "tier": "standard", "chunk_pages": 1},
            "server": {
                "command": [
                    sys.executable,
                    "-m",
                    "tests.fakes.mineru_api",
                    "--port",
                    "{port}",
                    "--host",
                    "{host}",
                    "--seconds-per-page",
                    "0.4",
                ],
                "port": mineru_port,
                "health_path": "/v1/health",
                "start_timeout_s": 60,
            },
        },
        "deepseek-ocr": {
            "gpu": "0",
            "concurrency": 4,
            "options": {"engine": "vllm"},
            "server": {
                "command": [
                    sys.executable,
                    "-m",
                    "tests.fakes.vllm_server",
                    "--port",
                    "{port}",
                    "--eval",
                    str(eval_dir),
                    "--delay",
                    "0.1",
                ],
                "port": vllm_port,
                "start_timeout_s": 60,
            },
        },
        "rapidocr": {},
        "tesseract": {},
    }
    running = Cluster(tmp, backends).start()
    yield running, tmp / "mineru-venv"
    assert running.stop() == []


def test_each_engine_in_its_own_process_venv_and_gpu(three: tuple[Cluster, Path]) -> None:
    cluster, venv = three
    health = {name: workers[0]["health"] for name, workers in cluster.workers().items()}
    assert health["mineru"]["sys_prefix"] == str(venv)
    assert health["rapidocr"]["sys_prefix"] != str(venv)
    pins = {name: h["device"]["cuda_visible_devices"] for name, h in health.items()}
    assert pins == {"mineru": "1", "deepseek-ocr": "0", "rapidocr": "", "tesseract": ""}
    assert len({h["pid"] for h in health.values()}) == 4


def test_three_engines_compared_on_one_page(
    three: tuple[Cluster, Path], phototest: Path, phototest_truth: str
) -> None:
    cluster, _ = three
    answer = httpx.post(
        f"{cluster.url}/v1/ocr",
        data={"backend": "mineru,deepseek-ocr,rapidocr"},
        files={"file": ("phototest.png", phototest.read_bytes(), "image/png")},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["backends"] == ["mineru", "deepseek-ocr", "rapidocr"]
    assert len(body["agreement"]) == 3
    for name, result in body["results"].items():
        assert result["success"], name
        assert cer(result["markdown"], phototest_truth) < 0.1, name
        page = result["pages"][0]
        assert (page["width"], page["height"]) == (640, 480)
        assert all(0 <= b["bbox"][0] < b["bbox"][2] <= 640 for b in page["blocks"]), name
    assert body["results"]["mineru"]["raw_result"]["mineru"], "MinerU's own entries are kept"


def test_pdf_job_read_whole_by_mineru(three: tuple[Cluster, Path], multipage_pdf: Path) -> None:
    cluster, _ = three
    events = []
    with OCRGateClient(cluster.url) as client:
        job = client.submit_job(multipage_pdf, "mineru")
        result = client.wait_job(job.id, on_event=events.append)
    assert [p.index for p in result.pages] == list(range(5))
    assert all(p.blocks and p.markdown for p in result.pages)
    for page in result.pages:
        assert all(
            0 <= b.bbox[0] <= b.bbox[2] <= page.width and 0 <= b.bbox[1] <= b.bbox[3] <= page.height
            for b in page.blocks
        )
    kinds = [e.event for e in events]
    assert kinds[-1] == "job" and kinds.count("page") == 5
    assert "progress" in kinds, "MinerU's progress reaches the job's events"
    status = httpx.get(f"{cluster.url}/v1/jobs/{job.id}").json()
    assert status["status"] == "completed" and status["progress"]["mineru"]["done"] == 5


def test_mineru_options_checked(three: tuple[Cluster, Path], multipage_pdf: Path) -> None:
    cluster, _ = three

    def ocr(options: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{cluster.url}/v1/ocr",
            data={"backend": "mineru", "options": json.dumps(options)},
            files={"file": ("doc.pdf", multipage_pdf.read_bytes(), "application/pdf")},
            timeout=120,
        )

    ranged = ocr({"page_range": "2-3"})
    assert ranged.status_code == 200, ranged.text
    pages = ranged.json()["pages"]
    assert [bool(p["blocks"]) for p in pages] == [False, True, True, False, False]
    assert ocr({"backend": "vlm"}).status_code == 422
    assert ocr({"page_range": "banana"}).status_code == 422


def test_gateway_imports_no_backend(three: tuple[Cluster, Path], tmp_path: Path, phototest: Path) -> None:
    """The gateway serves every backend from what its workers say, never from the backends' code."""
    cluster, _ = three
    probe = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.gateway.import_probe",
            str(cluster.config),
            str(free_ports(1)),
            str(tmp_path / "data"),
            str(phototest),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["answers"] == {name: {"ocr": True, "job": True} for name in cluster.expected}
    engines = [m for m in report["modules"] if m.startswith("ocrgate.backends.")]
    assert set(engines) <= {"ocrgate.backends.base", "ocrgate.backends.registry"}, engines
