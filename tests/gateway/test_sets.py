"""A set of files as one job (`POST /v1/jobs` with several `file` parts), on a real `ocrgate serve` with
tesseract, on real pages: a PDF page that cannot be loaded fails that page only, every per-file error
names the file, the searchable PDF keeps each page's size, and `format` is refused with where it belongs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest

from tests.gateway.cluster import REPO, Cluster

BUGS = REPO.parent / "shared" / "bugs"
MAX_PAGES = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not BUGS.is_dir():
        pytest.skip(f"{BUGS} not found (shared/bugs sits beside the checkout)")
    running = Cluster(
        tmp_path_factory.mktemp("sets"), {"tesseract": {}}, limits={"max_pages": MAX_PAGES}
    ).start()
    yield running
    assert running.stop() == []


def submit(cluster: Cluster, files: list[tuple[str, bytes]], **fields: str) -> httpx.Response:
    parts = [("file", (name, data, "application/octet-stream")) for name, data in files]
    return httpx.post(
        f"{cluster.url}/v1/jobs", files=parts, data={"backend": "tesseract", **fields}, timeout=60
    )


def test_a_pdf_page_that_cannot_be_loaded_fails_that_page_of_the_set(
    cluster: Cluster, phototest: Path
) -> None:
    files = [
        ("phototest.png", phototest.read_bytes()),
        ("bogus.pdf", (BUGS / "pdf_bogus_count.pdf").read_bytes()),
    ]
    answer = submit(cluster, files)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["page_count"] == 4 and job["page_names"] == [
        "phototest.png",
        "bogus.pdf#1",
        "bogus.pdf#2",
        "bogus.pdf#3",
    ]
    assert cluster.ended_job(job["id"])["status"] == "failed"  # as the PDF alone: a page of it failed
    pages = httpx.get(f"{cluster.url}/v1/jobs/{job['id']}/result").json()["pages"]
    assert "quick" in pages[0]["markdown"].lower() and "harbour office" in pages[1]["markdown"]
    assert [page["page_name"] for page in pages] == job["page_names"]  # each page names its file
    named = {e["index"]: e["page"]["page_name"] for e in cluster.page_events(job["id"]) if e["page"]}
    assert named == {0: "phototest.png", 1: "bogus.pdf#1"}  # and its events
    for index in (2, 3):
        flag = next(f for f in pages[index]["flags"] if f.startswith("failed: "))
        assert flag.startswith(f"failed: file 2 of 2, bogus.pdf: page {index} of the PDF cannot be loaded"), (
            flag
        )
    assert not any(f.startswith("failed") for p in pages[:2] for f in p["flags"])


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_document"),
        (b"plain text, not a page", "unsupported_type"),
        (b"%PDF-1.7\n1 0 obj", "corrupt_file"),
    ],
)
def test_a_bad_file_of_a_set_is_named_with_its_position(
    cluster: Cluster, phototest: Path, data: bytes, code: str
) -> None:
    files = [("a.png", phototest.read_bytes()), ("b.png", phototest.read_bytes()), ("scan.pdf", data)]
    answer = submit(cluster, files)
    error = answer.json()["error"]
    assert answer.status_code in (415, 422) and error["code"] == code
    assert error["message"].startswith("file 3 of 3, scan.pdf: "), error["message"]


def test_too_many_pages_gives_the_count_of_each_file(cluster: Cluster, phototest: Path) -> None:
    photo, bogus = phototest.read_bytes(), (BUGS / "pdf_bogus_count.pdf").read_bytes()
    answer = submit(cluster, [("a.png", photo), ("bogus.pdf", bogus), ("c.png", photo)])
    error = answer.json()["error"]
    assert answer.status_code == 413 and error["code"] == "too_many_pages"
    together = "the 3 files hold 5 pages together (a.png: 1, bogus.pdf: 3, c.png: 1); the limit is 4"
    assert error["message"] == together
    six = (BUGS / "pdf_six_pages.pdf").read_bytes()
    alone = submit(cluster, [("a.png", photo), ("six.pdf", six), ("c.png", photo)]).json()["error"]
    assert alone["code"] == "too_many_pages"
    assert alone["message"] == "file 2 of 3, six.pdf: the PDF has 6 pages; the limit is 4"


def test_the_searchable_pdf_of_a_set_keeps_each_page_size(cluster: Cluster, phototest: Path) -> None:
    form = (BUGS / "pdf_filled_form.pdf").read_bytes()
    job = submit(cluster, [("form.pdf", form), ("photo.png", phototest.read_bytes())]).json()
    assert cluster.ended_job(job["id"])["status"] == "completed"
    answer = httpx.get(f"{cluster.url}/v1/jobs/{job['id']}/result", params={"format": "pdf"}, timeout=120)
    assert answer.status_code == 200, answer.text
    # named as the web client names a set's downloads: the first file's stem and how many more
    assert 'filename="form+1.ocr.pdf"' in answer.headers["content-disposition"]
    sizes = [pdfium.PdfDocument(answer.content)[i].get_size() for i in range(2)]
    alone = []  # each file as a job of its own: the size its page gets there
    for name, data in (("form.pdf", form), ("photo.png", phototest.read_bytes())):
        single = submit(cluster, [(name, data)]).json()
        assert cluster.ended_job(single["id"])["status"] == "completed"
        written = httpx.get(
            f"{cluster.url}/v1/jobs/{single['id']}/result", params={"format": "pdf"}, timeout=120
        )
        alone.append(pdfium.PdfDocument(written.content)[0].get_size())
    assert alone[0] == pytest.approx((612, 792), abs=0.5)  # US Letter
    for got, want in zip(sizes, alone, strict=True):
        assert got == pytest.approx(want, abs=0.5)


@pytest.mark.parametrize("value", ["md", "pdf", "nonsense"])
def test_a_job_refuses_format_and_says_where_it_belongs(
    cluster: Cluster, phototest: Path, value: str
) -> None:
    answer = submit(cluster, [("photo.png", phototest.read_bytes())], format=value)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and "GET /v1/jobs/{id}/result?format=" in error["message"]
