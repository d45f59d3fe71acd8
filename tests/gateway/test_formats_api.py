"""Output formats through a real gateway (`ocrgate serve` on loopback, RapidOCR and Tesseract
workers): `format` and `Accept` on `POST /v1/ocr`, job results as files, the Python client, and
`ocrgate ocr --via` reading a folder through the gateway."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import lxml.html
import pypdfium2 as pdfium
import pytest
from lxml import etree
from PIL import Image

from ocrgate import errors
from ocrgate.client import OCRGateClient
from ocrgate.formats import to_text
from ocrgate.schema import OCRResponse
from tests.formats.pdf_text import response_text
from tests.formats.test_alto_hocr import (
    ALTO,
    alto_schema,  # noqa: F401  (a fixture)
)
from tests.gateway.cluster import Cluster
from tests.helpers import cer, ocrgate_cli

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("cluster"), {"rapidocr": {}, "tesseract": {}}).start()
    yield running
    assert running.stop() == []


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> Iterator[OCRGateClient]:
    with OCRGateClient(cluster.url) as c:
        yield c


@pytest.fixture(scope="module")
def read(client: OCRGateClient, phototest: Path) -> OCRResponse:
    """phototest.png as JSON: what every other format of the same request must say."""
    return client.ocr(phototest, backend="rapidocr", boxes="none")


@pytest.fixture(scope="module")
def two_page_scan(phototest: Path) -> bytes:
    """A two-page image PDF of the phototest page, at 144 dpi (the gateway's), as a scanner writes."""
    image = Image.open(phototest).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", save_all=True, append_images=[image], resolution=144)
    return buffer.getvalue()


def post(
    cluster: Cluster, page: Path, form: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    with page.open("rb") as handle:
        return httpx.post(
            f"{cluster.url}/v1/ocr", files={"file": handle}, data=form, headers=headers or {}, timeout=120
        )


def pdf_pages_text(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    try:
        return [page.get_textpage().get_text_bounded() for page in document]
    finally:
        document.close()


@pytest.mark.parametrize(
    ("fmt", "media_type", "extension"),
    [
        ("md", "text/markdown; charset=utf-8", "md"),
        ("txt", "text/plain; charset=utf-8", "txt"),
        ("alto", "application/xml", "alto.xml"),
        ("hocr", "application/xhtml+xml", "hocr"),
        ("pdf", "application/pdf", "ocr.pdf"),
    ],
)
def test_each_format_with_its_media_type_and_file_name(
    cluster: Cluster,
    phototest: Path,
    read: OCRResponse,
    alto_schema: etree.XMLSchema,  # noqa: F811  (the fixture imported above)
    fmt: str,
    media_type: str,
    extension: str,
) -> None:
    answer = post(cluster, phototest, {"backend": "rapidocr", "format": fmt})
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == media_type
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f'filename="phototest.{extension}"' in disposition
    if fmt == "md":
        assert answer.text == read.markdown + "\n"
    elif fmt == "txt":
        assert answer.text == to_text(read) + "\n"
    elif fmt == "alto":
        alto = etree.fromstring(answer.content)
        alto_schema.assertValid(alto)
        words = alto.findall(".//a:String", ALTO)
        assert " ".join(w.get("CONTENT") for w in words) == " ".join(response_text(read).split())
    elif fmt == "hocr":
        lines = lxml.html.fromstring(answer.content).find_class("ocr_line")
        assert len(lines) == sum(len(b.lines) for b in read.pages[0].blocks)
        assert all(line.get("title").startswith("bbox ") for line in lines)
    else:
        [text] = pdf_pages_text(answer.content)
        assert cer(text, response_text(read)) <= 0.02


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/pdf", "application/pdf"),
        ("application/alto+xml", "application/xml"),
        ("text/markdown, application/json;q=0.5", "text/markdown; charset=utf-8"),
        (BROWSER_ACCEPT, "application/json"),  # a browser's link, never taken for hOCR or ALTO
        ("text/plain, text/markdown", "application/json"),  # two formats equally wanted: ambiguous
    ],
)
def test_accept_chooses_the_format_where_unambiguous(
    cluster: Cluster, phototest: Path, accept: str, media_type: str
) -> None:
    answer = post(cluster, phototest, {"backend": "tesseract"}, {"Accept": accept})
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == media_type


def test_the_format_field_wins_over_accept(cluster: Cluster, phototest: Path) -> None:
    answer = post(
        cluster, phototest, {"backend": "tesseract", "format": "txt"}, {"Accept": "application/pdf"}
    )
    assert answer.headers["content-type"].startswith("text/plain") and "quick brown" in answer.text


@pytest.mark.parametrize(("name", "media_type"), [("markdown", "text/markdown"), ("Text", "text/plain")])
def test_a_format_is_taken_by_its_other_names(
    cluster: Cluster, phototest: Path, name: str, media_type: str
) -> None:
    answer = post(cluster, phototest, {"backend": "tesseract", "format": name})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith(media_type) and "quick brown" in answer.text


@pytest.mark.parametrize(
    ("form", "code", "words"),
    [
        ({"backend": "rapidocr,tesseract", "format": "alto"}, "invalid_option", "one backend"),
        ({"backend": "all", "format": "md"}, "invalid_option", "ask for json to compare"),
        ({"backend": "rapidocr", "format": "docx"}, "invalid_request", "format"),
    ],
)
def test_formats_that_cannot_be_are_a_422(
    cluster: Cluster, phototest: Path, form: dict[str, str], code: str, words: str
) -> None:
    answer = post(cluster, phototest, form)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == code and words in error["message"]


def test_a_searchable_pdf_is_never_named_like_the_uploaded_pdf(
    cluster: Cluster, two_page_scan: bytes, tmp_path: Path
) -> None:
    """Saved under the name the server gives (`curl -OJ`, a browser), it must not replace the scan."""
    named = (
        ("scan.pdf", "scan.ocr.pdf", "scan.ocr.pdf"),
        ("Überweisung 3.PDF", "Überweisung 3.ocr.pdf", "Uberweisung 3.ocr.pdf"),
    )
    for upload, expected, fallback in named:  # the ASCII fallback keeps the accented letter's base
        answer = httpx.post(
            f"{cluster.url}/v1/ocr",
            files={"file": (upload, two_page_scan, "application/pdf")},
            data={"backend": "tesseract", "format": "pdf"},
            timeout=120,
        )
        assert answer.status_code == 200, answer.text[:300]
        disposition = answer.headers["content-disposition"]
        assert f'filename="{fallback}"' in disposition
        assert f"filename*=UTF-8''{quote(expected, safe='')}" in disposition
        assert len(pdf_pages_text(answer.content)) == 2


def test_client_asks_for_a_format_and_gets_bytes(client: OCRGateClient, phototest: Path) -> None:
    hocr = client.ocr_as(phototest, "hocr", backend="tesseract")
    words = [w.text_content() for w in lxml.html.fromstring(hocr).find_class("ocrx_word")]
    assert "quick" in words and "brown" in words
    with pytest.raises(errors.InvalidOption):
        client.ocr_as(phototest, "pdf", backend="rapidocr,tesseract")


def test_job_results_in_each_format(client: OCRGateClient, cluster: Cluster, two_page_scan: bytes) -> None:
    job = client.submit_job(two_page_scan, "rapidocr,tesseract", filename="two pages.pdf")
    early = httpx.get(f"{cluster.url}/v1/jobs/{job.id}/result", params={"format": "pdf"}, timeout=30)
    assert early.status_code == 422, early.text  # two backends, none named: whatever the job's state
    assert "?backend=" in early.json()["error"]["message"]
    status = client.job(job.id).status
    running = httpx.get(
        f"{cluster.url}/v1/jobs/{job.id}/result", params={"format": "md", "backend": "rapidocr"}, timeout=30
    )
    if status in ("queued", "running"):
        assert running.status_code == 409 and running.json()["error"]["code"] == "not_ready"
    client.wait_job(job.id)

    text_params = {"format": "TEXT", "backend": "tesseract"}
    as_text = httpx.get(f"{cluster.url}/v1/jobs/{job.id}/result", params=text_params, timeout=60)
    assert as_text.headers["content-type"].startswith("text/plain") and "quick brown" in as_text.text
    pdf = client.job_result_as(job.id, "pdf", backend="tesseract")
    texts = pdf_pages_text(pdf)
    assert len(texts) == 2 and all("quick brown" in text for text in texts)
    answer = httpx.get(
        f"{cluster.url}/v1/jobs/{job.id}/result", params={"format": "alto", "backend": "rapidocr"}, timeout=60
    )
    assert answer.headers["content-type"] == "application/xml"
    # one engine's reading of a job of several: named with the engine, as the web client names it
    assert 'filename="two pages.rapidocr.alto.xml"' in answer.headers["content-disposition"]
    as_pdf = httpx.get(
        f"{cluster.url}/v1/jobs/{job.id}/result", params={"format": "pdf", "backend": "tesseract"}, timeout=60
    )
    assert 'filename="two pages.tesseract.ocr.pdf"' in as_pdf.headers["content-disposition"]
    # the JSON result and the page pictures are named too (`curl -OJ`), shown inline in a browser
    for params, name in (({}, "two pages.json"), ({"backend": "rapidocr"}, "two pages.rapidocr.json")):
        as_json = httpx.get(f"{cluster.url}/v1/jobs/{job.id}/result", params=params, timeout=60)
        assert as_json.headers["content-disposition"].startswith(f'inline; filename="{name}"'), params
    image = httpx.get(f"{cluster.url}/v1/jobs/{job.id}/pages/1/image", timeout=60)
    assert image.headers["content-disposition"].startswith('inline; filename="two pages.p2.png"')
    assert len(etree.fromstring(answer.content).findall(".//a:Page", ALTO)) == 2
    one = client.job_result(job.id)
    markdown = client.job_result_as(job.id, "md", backend="tesseract").decode()
    assert markdown == one.results["tesseract"].markdown + "\n"  # type: ignore[union-attr]
    with pytest.raises(errors.InvalidOption):
        client.job_result_as(job.id, "md", backend="mineru")


def test_cli_reads_a_folder_through_the_gateway(
    cluster: Cluster, tmp_path: Path, eval_dir: Path, phototest: Path
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    (folder / "b").mkdir(parents=True)
    shutil.copy(phototest, folder)
    shutil.copy(eval_dir / "tesseract_test" / "images" / "eurotext.png", folder / "b")
    args = ("ocr", str(folder), "--out", str(out), "--via", cluster.url, "-b", "tesseract", "-j", "2")
    done = ocrgate_cli(*args, "-f", "md,pdf,hocr")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "quick brown" in (out / "phototest.md").read_text(encoding="utf-8")
    [text] = pdf_pages_text((out / "b" / "eurotext.ocr.pdf").read_bytes())
    assert "braune Fuchs" in text and (out / "b" / "eurotext.hocr").is_file()
    with (out / "summary.csv").open(encoding="utf-8", newline="") as handle:
        assert [row["status"] for row in csv.DictReader(handle)] == ["ok", "ok"]

    bad = ocrgate_cli(*args, "--options", '{"lang": 5}')
    assert bad.returncode == 2 and "lang" in bad.stderr and "files read" not in bad.stderr
    unknown = ocrgate_cli(*args[:-4], "-b", "no-such-engine")
    assert unknown.returncode == 2 and "no-such-engine" in unknown.stderr
