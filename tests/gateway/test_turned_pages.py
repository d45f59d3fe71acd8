"""A page sent turned (a scan fed sideways or upside down, no orientation metadata) is read upright, and
every picture ocrgate gives of it shows it upright, the way its boxes refer to it: the boxes picture
(drawn by the worker, which has the page as sent), the searchable PDF, and a job's page image. A real
`ocrgate serve` with RapidOCR workers on loopback, the phototest page turned each of the three ways."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pypdfium2
import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from ocrgate.client import OCRGateClient
from ocrgate.structure.orientation import rotation
from tests.gateway.cluster import Cluster
from tests.pictures import read_picture

# clockwise degrees the content lies turned -> the Pillow rotation (counter-clockwise) that makes it
TURNS = {90: 270, 180: 180, 270: 90}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("cluster"), {"rapidocr": {}}).start()
    yield running
    assert running.stop() == []


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> Iterator[OCRGateClient]:
    with OCRGateClient(cluster.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def upright(phototest: Path) -> Image.Image:
    return Image.open(phototest).convert("L")


def turned_png(page: Image.Image, angle: int) -> bytes:
    buffer = io.BytesIO()
    page.rotate(TURNS[angle], expand=True).save(buffer, format="PNG")
    return buffer.getvalue()


def shows_upright(picture: Image.Image, upright: Image.Image) -> bool:
    """Whether `picture` shows the page upright: its size, and its pixels closer to the upright page
    than to the page turned any other way (boxes drawn over it change a few pixels, not that)."""
    small = (64, 64)

    def difference(candidate: Image.Image) -> float:
        a = ImageOps.grayscale(picture).resize(small)
        b = candidate.resize(small)
        return ImageStat.Stat(ImageChops.difference(a, b)).mean[0]

    if picture.width / picture.height != pytest.approx(upright.width / upright.height, rel=0.02):
        return False
    return difference(upright) < difference(upright.rotate(180))


@pytest.mark.parametrize("angle", sorted(TURNS))
def test_the_boxes_picture_shows_the_page_upright(
    client: OCRGateClient, upright: Image.Image, angle: int
) -> None:
    response = client.ocr(turned_png(upright, angle), backend="rapidocr", boxes="all", filename="t.png")
    page = response.pages[0]
    assert rotation(page.flags) == angle and (page.width, page.height) == upright.size
    assert page.boxes_image is not None
    picture = read_picture(page.boxes_image)  # over a preview of the page as read: the upload is turned
    assert picture.media_type == "image/jpeg" and (picture.width, picture.height) == upright.size
    assert shows_upright(picture.page, upright)


@pytest.mark.parametrize("angle", sorted(TURNS))
def test_the_searchable_pdf_shows_the_page_upright_under_its_words(
    client: OCRGateClient, upright: Image.Image, angle: int
) -> None:
    data = client.ocr_as(turned_png(upright, angle), "pdf", backend="rapidocr", filename="t.png")
    pdf = pypdfium2.PdfDocument(data)
    page = pdf[0]
    assert shows_upright(page.render(scale=1).to_pil(), upright)
    width, height = page.get_size()
    text = page.get_textpage()
    found = text.search("quick", match_case=False).get_next()
    assert found is not None, text.get_text_range()
    left, bottom, right, top = text.get_charbox(found[0])
    # phototest's "quick" is in its first lines: on the upright page, near the top, inside the page
    assert 0 <= left < right <= width and height / 2 < bottom < top <= height


def test_a_jobs_page_image_shows_the_page_as_it_was_read(
    client: OCRGateClient, cluster: Cluster, upright: Image.Image
) -> None:
    job = client.submit_job(turned_png(upright, 180), backend="rapidocr", boxes="none", filename="t.png")
    result = client.wait_job(job.id)
    assert rotation(result.pages[0].flags) == 180 and result.status == "complete"  # type: ignore[union-attr]
    image = httpx.get(f"{cluster.url}/v1/jobs/{job.id}/pages/0/image", timeout=60)
    assert image.status_code == 200
    assert shows_upright(Image.open(io.BytesIO(image.content)), upright)
