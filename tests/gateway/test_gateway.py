"""The whole path on loopback: `ocrgate serve` starts real worker processes and the gateway.

One cluster (rapidocr x2 pinned to "GPUs" 0 and 1, tesseract on CPU) serves this module; the
tests that break things start their own in test_faults.py.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ocrgate import errors
from ocrgate.client import AsyncOCRGateClient, OCRGateClient
from tests.gateway.cluster import Cluster
from tests.helpers import cer, image_bytes
from tests.pictures import read_picture


def pdf_of(image: Image.Image, pages: int) -> bytes:
    """A PDF of `pages` copies of `image`, sized so that 144 dpi gives back the image's pixels."""
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", save_all=True, append_images=[image] * (pages - 1), resolution=144)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    running = Cluster(
        tmp,
        {"rapidocr": {"replicas": 2, "gpus": ["0", "1"]}, "tesseract": {}},
    ).start()
    yield running
    orphans = running.stop()
    assert orphans == [], f"workers left running after stop: {orphans}"


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> Iterator[OCRGateClient]:
    with OCRGateClient(cluster.url) as c:
        yield c


@pytest.fixture(scope="module")
def small_pdf(phototest: Path) -> bytes:
    return pdf_of(Image.open(phototest).convert("RGB"), 3)


def test_each_worker_sees_only_its_pinned_gpu(cluster: Cluster) -> None:
    workers = cluster.answering_workers()
    pinned = sorted(w["health"]["device"]["cuda_visible_devices"] for w in workers["rapidocr"])
    assert pinned == ["0", "1"]
    assert workers["tesseract"][0]["health"]["device"]["cuda_visible_devices"] == ""
    pids = cluster.worker_pids()
    assert len(set(pids)) == 3
    assert all(w["health"]["sys_prefix"] for ws in workers.values() for w in ws)


def test_ocr_returns_the_unified_response(
    client: OCRGateClient, phototest: Path, phototest_truth: str
) -> None:
    result = client.ocr(phototest, backend="rapidocr")
    assert result.success and result.backend == "rapidocr" and result.image_name == "phototest.png"
    assert cer(result.markdown, phototest_truth) <= 0.05
    page = result.pages[0]
    assert (page.width, page.height) == (640, 480)
    assert all(0 <= b.bbox[0] < b.bbox[2] <= 640 and 0 <= b.bbox[1] < b.bbox[3] <= 480 for b in page.blocks)
    assert page.boxes_image and result.boxes_image is None and result.raw_result["rapidocr"]
    assert result.timings.ocr > 0 and result.processing_time >= result.timings.ocr


def test_the_boxes_picture_is_made_from_the_upload_or_where_the_pixels_are(
    client: OCRGateClient, cluster: Cluster, phototest: Path, small_pdf: bytes
) -> None:
    """A PNG the browser shows as it is becomes the picture's page as it came (nothing decoded or
    encoded); a TIFF, which no browser shows, travels to the worker as its bytes and the worker, which
    decodes it, makes the preview the picture shows (asked with `boxes=true`); a PDF page's preview is
    made by the gateway, which rasterised it. The picture itself is made by the gateway."""
    data = phototest.read_bytes()
    image = client.ocr(phototest, backend="rapidocr", boxes="first")
    picture = read_picture(image.pages[0].boxes_image or "")
    assert (picture.media_type, picture.data) == ("image/png", data)
    assert [o[:4] for o in picture.outlines] == [
        tuple(round(v, 1) for v in b.bbox) for b in image.pages[0].blocks
    ]
    assert client.ocr(phototest, backend="rapidocr", boxes="none").pages[0].boxes_image is None

    worker = cluster.workers()["rapidocr"][0]["url"]
    tiff = image_bytes(Image.open(phototest), "TIFF")
    headers = {"content-type": "image/tiff"}
    url = f"{worker}/v1/ocr"
    asked = httpx.post(url, content=tiff, params={"boxes": "true"}, headers=headers, timeout=300)
    assert asked.status_code == 200, asked.text
    preview = Image.open(io.BytesIO(base64.b64decode(asked.json()["page_preview"], validate=True)))
    assert preview.format == "JPEG" and preview.size == (640, 480)
    unasked = httpx.post(url, content=tiff, headers=headers, timeout=300)
    assert unasked.json()["page_preview"] is None
    through = read_picture(client.ocr(tiff, backend="rapidocr", filename="p.tif").pages[0].boxes_image or "")
    assert through.media_type == "image/jpeg" and through.outlines == picture.outlines

    pdf = client.ocr(small_pdf, backend="tesseract", filename="three.pdf", boxes="first")
    first = read_picture(pdf.pages[0].boxes_image or "")
    assert first.media_type == "image/jpeg" and min(first.page.size) <= 1000
    assert (first.width, first.height) == (pdf.pages[0].width, pdf.pages[0].height)
    assert [p.boxes_image is None for p in pdf.pages] == [False, True, True]


def test_plain_multipart_post_as_curl_sends_it(cluster: Cluster, phototest: Path) -> None:
    with phototest.open("rb") as handle:
        response = httpx.post(
            f"{cluster.url}/v1/ocr", files={"file": handle}, data={"backend": "tesseract"}, timeout=60
        )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["backend"] == "tesseract" and "quick brown" in body["markdown"]


def test_all_compares_every_backend(client: OCRGateClient, phototest: Path) -> None:
    compared = client.compare(phototest, "all")
    assert set(compared.results) == {"rapidocr", "tesseract"}
    assert len(compared.agreement) == 1
    assert 0.8 < compared.agreement[0].similarity <= 1.0


def test_pdf_pages_spread_over_both_replicas(
    client: OCRGateClient, cluster: Cluster, small_pdf: bytes
) -> None:
    before = {w["url"]: w["health"]["pages_done"] for w in cluster.workers()["rapidocr"]}
    result = client.ocr(small_pdf, backend="rapidocr", filename="three.pdf", boxes="none")
    assert [p.index for p in result.pages] == [0, 1, 2]
    assert all("quick brown" in p.markdown for p in result.pages)
    cluster.wait_healthy()
    import time

    time.sleep(2.5)  # the next health round carries the workers' page counts
    after = {w["url"]: w["health"]["pages_done"] for w in cluster.workers()["rapidocr"]}
    assert all(after[url] > before[url] for url in before), (before, after)


def test_job_streams_pages_then_completes(client: OCRGateClient, small_pdf: bytes) -> None:
    job = client.submit_job(small_pdf, "rapidocr,tesseract", filename="three.pdf")
    assert job.status == "queued" and job.page_count == 3 and len(job.id) >= 20
    events = list(client.job_events(job.id))
    pages = [(e.backend, e.index) for e in events if e.event == "page"]
    assert sorted(pages) == sorted((b, i) for b in ("rapidocr", "tesseract") for i in range(3))
    assert events[-1].event == "job" and events[-1].status == "completed"
    status = client.job(job.id)
    assert status.progress["tesseract"].done == 3
    result = client.job_result(job.id)
    assert result.results["rapidocr"].markdown.count("12 point text") == 3  # type: ignore[union-attr]


async def test_async_client_waits_for_a_job(cluster: Cluster, small_pdf: bytes) -> None:
    async with AsyncOCRGateClient(cluster.url) as client:
        job = await client.submit_job(small_pdf, "tesseract", filename="three.pdf")
        seen: list[int] = []
        result = await client.wait_job(job.id, on_event=lambda e: seen.append(e.index or 0))
    assert len(result.pages) == 3 and len(seen) == 4  # three pages and the job's end


def test_job_reads_its_pdf_at_the_dpi_asked(client: OCRGateClient, small_pdf: bytes) -> None:
    job = client.submit_job(small_pdf, "tesseract", filename="three.pdf", boxes="none", dpi=72)
    result = client.wait_job(job.id)
    assert result.success
    assert [(p.width, p.height) for p in result.pages] == [(320, 240)] * 3  # 640 x 480 at the default 144


def test_cancelled_job_stops(client: OCRGateClient, small_pdf: bytes) -> None:
    job = client.submit_job(small_pdf * 1, "rapidocr", filename="three.pdf")
    cancelled = client.cancel_job(job.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert client.job(job.id).status == "cancelled"
    assert client.cancel_job(job.id) is None  # a second DELETE: the ended job is deleted
    with pytest.raises(errors.NotFound):
        client.job(job.id)


def test_an_ended_job_is_deleted_with_its_upload_and_results(
    client: OCRGateClient, cluster: Cluster, small_pdf: bytes
) -> None:
    job = client.submit_job(small_pdf, "rapidocr", filename="three.pdf")
    client.wait_job(job.id)
    client.http.put(f"/v1/jobs/{job.id}/truth/0", json={"text": "a reading"}).raise_for_status()
    stored = cluster.config.parent / "data" / "jobs" / job.id
    assert stored.is_dir()
    answer = httpx.delete(f"{cluster.url}/v1/jobs/{job.id}", timeout=30)
    assert answer.status_code == 204 and answer.content == b""
    assert not stored.exists()
    for path in ("", "/result", "/truth", "/pages/0/image"):
        gone = httpx.get(f"{cluster.url}/v1/jobs/{job.id}{path}", timeout=30)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found", path
    assert job.id not in [j.id for j in client.jobs()]
    assert httpx.delete(f"{cluster.url}/v1/jobs/{job.id}", timeout=30).status_code == 404


@pytest.mark.parametrize(
    ("data", "form", "status", "code"),
    [
        (b"", {}, 422, "empty_document"),
        (b"plain text, not a page" * 4, {}, 415, "unsupported_type"),
        (b"%PDF-1.7\n1 0 obj << /Type /Page >>", {}, 422, "corrupt_file"),
        (None, {"backend": "no-such-engine"}, 404, "unknown_backend"),
        (None, {"backend": "rapidocr", "options": '{"colour": 1}'}, 422, "invalid_option"),
        (None, {"options": "not json"}, 422, "invalid_option"),
        (None, {"boxes": "sometimes"}, 422, "invalid_request"),
    ],
)
def test_bad_uploads_get_a_json_4xx(
    cluster: Cluster, phototest: Path, data: bytes | None, form: dict, status: int, code: str
) -> None:
    payload = phototest.read_bytes() if data is None else data
    response = httpx.post(f"{cluster.url}/v1/ocr", files={"file": ("x.png", payload)}, data=form, timeout=30)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code and body["error"]["message"]
    if code == "unknown_backend":  # it names what this gateway serves, not every engine ocrgate knows
        assert body["error"]["message"].endswith("this gateway serves: rapidocr, tesseract")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ('{"text_score": 5}', "text_score: 5 is greater than the maximum of 1"),
        ('{"text_score": "high"}', "text_score: 'high' is not of type 'number' or 'null'"),
    ],
)
def test_an_option_out_of_its_range_says_its_bound(
    cluster: Cluster, phototest: Path, options: str, says: str
) -> None:
    """An optional number (`anyOf: [number with bounds, null]` in the published schema) out of range is
    told against the bound it broke, not with jsonschema's "not valid under any of the given schemas"."""
    files = {"file": ("x.png", phototest.read_bytes())}
    answer = httpx.post(
        f"{cluster.url}/v1/ocr", files=files, data={"backend": "rapidocr", "options": options}, timeout=30
    )
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_option"
    assert says in answer.json()["error"]["message"]


def test_missing_file_and_missing_job(client: OCRGateClient, cluster: Cluster) -> None:
    response = httpx.post(f"{cluster.url}/v1/ocr", data={"backend": "rapidocr"}, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_input"
    with pytest.raises(errors.NotFound):
        client.job("no-such-job")


def test_backends_health_metrics_and_docs(client: OCRGateClient, cluster: Cluster) -> None:
    backends = {b["name"]: b for b in client.backends()}
    assert backends["rapidocr"]["healthy"] and len(backends["rapidocr"]["workers"]) == 2
    assert client.health()["status"] == "healthy"
    metrics = httpx.get(f"{cluster.url}/metrics").text
    assert (
        "ocrgate_requests_total" in metrics and 'ocrgate_healthy_workers{backend="rapidocr"} 2.0' in metrics
    )
    assert httpx.get(f"{cluster.url}/openapi.json").json()["paths"]["/v1/jobs/{job_id}/events"]


def test_born_digital_pdf_reads_its_text_layer(cluster: Cluster, eval_dir: Path) -> None:
    """A reliable text layer stands in for OCR (no page reaches a worker); `never` asks the engine;
    a job keeps its choice across the store."""
    pdf = (eval_dir / "docling_pdf" / "pdf" / "multi_page.pdf").read_bytes()
    files = {"file": ("multi_page.pdf", pdf, "application/pdf")}
    auto = httpx.post(f"{cluster.url}/v1/ocr", files=files, data={"boxes": "none"}, timeout=300).json()
    assert auto["timings"]["ocr"] == 0.0 and len(auto["pages"]) == 5
    assert {b["origin"] for p in auto["pages"] for b in p["blocks"]} == {"text_layer"}
    data = {"boxes": "none", "text_layer": "never"}
    submitted = httpx.post(f"{cluster.url}/v1/jobs", files=files, data=data, timeout=60)
    job = submitted.json()
    assert submitted.status_code == 202 and submitted.headers["location"] == f"/v1/jobs/{job['id']}"
    deadline = time.monotonic() + 300
    while httpx.get(f"{cluster.url}/v1/jobs/{job['id']}", timeout=10).json()["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.5)
    result = httpx.get(f"{cluster.url}/v1/jobs/{job['id']}/result", timeout=30).json()
    assert {b["origin"] for p in result["pages"] for b in p["blocks"]} == {"engine"}
    assert httpx.post(f"{cluster.url}/v1/ocr", files=files, data={"text_layer": "maybe"}).status_code == 422
