"""The clients of Mistral's OCR API, unchanged, against a real `ocrgate serve` on loopback.

The `mistralai` SDK (`client.ocr.process`, pointed at the gateway with `server_url`) and LiteLLM's
`ocr()` (`api_base` = the gateway's `/v1`) read a real page and a real PDF from ../shared/eval and get
the markdown the multipart route gives for the same file. Errors come back as each client's own
error type with ocrgate's typed body. The gateway runs with an API key (the clients send it as a
bearer token) and allows fetching documents from one loopback file server's `/docs/`.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest

from tests.gateway.cluster import Cluster
from tests.gateway.file_server import file_server

mistral_client = pytest.importorskip("mistralai.client")
# LiteLLM's own types, built by pydantic on first use; nothing to do with ocrgate
pytestmark = pytest.mark.filterwarnings("ignore:Item.*ReadOnly. qualifier:UserWarning")
KEY = "mistral-clients-key"
LIMIT = 1024 * 1024
LAST_PAGE = 4  # multi_page.pdf's last page: the least text of its five, so the quickest to read
OFFLINE_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}


@pytest.fixture(scope="module")
def phototest_bytes(phototest: Path) -> bytes:
    return phototest.read_bytes()


@pytest.fixture(scope="module")
def pdf_bytes(multipage_pdf: Path) -> bytes:
    return multipage_pdf.read_bytes()


@pytest.fixture(scope="module")
def files(phototest_bytes: bytes) -> Iterator[str]:
    with file_server({"phototest.png": phototest_bytes}) as base:
        yield base


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, files: str) -> Iterator[Cluster]:
    running = Cluster(
        tmp_path_factory.mktemp("mistral"),
        {"rapidocr": {}, "tesseract": {}},
        gateway={"api_keys": [KEY], "fetch_url_prefixes": [f"{files}/docs/"]},
        limits={"max_upload_bytes": LIMIT},
    ).start()
    yield running
    assert running.stop() == []


@pytest.fixture(scope="module")
def sdk(cluster: Cluster) -> Any:
    return mistral_client.Mistral(api_key=KEY, server_url=cluster.url)


@pytest.fixture(scope="module")
def litellm(cluster: Cluster) -> Any:
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    return pytest.importorskip("litellm")


def multipart(cluster: Cluster, data: bytes, name: str, backend: str = "rapidocr") -> dict[str, Any]:
    response = httpx.post(
        f"{cluster.url}/v1/ocr",
        files={"file": (name, data)},
        data={"backend": backend, "boxes": "none"},
        headers=cluster.headers,
        timeout=300,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def phototest_multipart(cluster: Cluster, phototest_bytes: bytes) -> dict[str, Any]:
    return multipart(cluster, phototest_bytes, "phototest.png")


@pytest.fixture(scope="module")
def last_page_multipart(cluster: Cluster, pdf_bytes: bytes) -> dict[str, Any]:
    """The multipart route on the PDF's last page alone (cut out with pypdf: the same page objects)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    writer = pypdf.PdfWriter()
    writer.add_page(reader.pages[LAST_PAGE])
    buffer = io.BytesIO()
    writer.write(buffer)
    return multipart(cluster, buffer.getvalue(), "last_page.pdf")


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_sdk_reads_a_page_as_the_multipart_route_does(
    sdk: Any, phototest_bytes: bytes, phototest_multipart: dict[str, Any]
) -> None:
    answer = sdk.ocr.process(
        model="rapidocr",
        document={"type": "image_url", "image_url": data_url("image/png", phototest_bytes)},
    )
    assert answer.model == "rapidocr"
    assert answer.usage_info.pages_processed == 1 and answer.usage_info.doc_size_bytes == len(phototest_bytes)
    page = answer.pages[0]
    assert page.markdown == phototest_multipart["markdown"] and "quick brown dog" in page.markdown
    assert (page.dimensions.width, page.dimensions.height) == (640, 480)
    assert page.images == []
    unified = phototest_multipart["pages"][0]["blocks"]
    assert [b.content for b in page.blocks] == [b["text"] for b in unified]
    assert page.blocks[0].top_left_x == int(unified[0]["bbox"][0])


def test_sdk_reads_a_chosen_page_of_a_pdf(
    sdk: Any, pdf_bytes: bytes, last_page_multipart: dict[str, Any]
) -> None:
    answer = sdk.ocr.process(
        model="rapidocr",
        document={
            "type": "document_url",
            "document_url": data_url("application/pdf", pdf_bytes),
            "document_name": "multi_page.pdf",
        },
        pages=[LAST_PAGE],
        include_image_base64=True,
    )
    assert [p.index for p in answer.pages] == [LAST_PAGE] and answer.usage_info.pages_processed == 1
    page, expected = answer.pages[0], last_page_multipart["pages"][0]
    assert page.markdown == expected["markdown"] and "word processor" in page.markdown
    assert page.dimensions.dpi == 144
    assert (page.dimensions.width, page.dimensions.height) == (expected["width"], expected["height"])


def test_litellm_reads_a_page_and_a_pdf_as_the_multipart_route_does(
    litellm: Any,
    cluster: Cluster,
    phototest_bytes: bytes,
    pdf_bytes: bytes,
    phototest_multipart: dict[str, Any],
    last_page_multipart: dict[str, Any],
) -> None:
    target = {"api_base": f"{cluster.url}/v1", "api_key": KEY}
    page = litellm.ocr(
        model="mistral/rapidocr",
        document={"type": "image_url", "image_url": data_url("image/png", phototest_bytes)},
        **target,
    )
    assert page.model == "rapidocr" and page.pages[0].markdown == phototest_multipart["markdown"]
    pdf = litellm.ocr(
        model="mistral/rapidocr",
        document={"type": "document_url", "document_url": data_url("application/pdf", pdf_bytes)},
        pages=[LAST_PAGE],
        **target,
    )
    assert [p.index for p in pdf.pages] == [LAST_PAGE]
    assert pdf.pages[0].markdown == last_page_multipart["pages"][0]["markdown"]
    assert pdf.usage_info.pages_processed == 1


def test_all_compares_every_backend_and_answers_with_the_first(
    sdk: Any, cluster: Cluster, phototest_bytes: bytes
) -> None:
    body = {"model": "all", "document": {"image_url": data_url("image/png", phototest_bytes)}}
    raw = httpx.post(f"{cluster.url}/v1/ocr", json=body, headers=cluster.headers, timeout=300).json()
    assert raw["backends"] == ["rapidocr", "tesseract"] and raw["model"] == "rapidocr"
    assert set(raw["results"]) == {"rapidocr", "tesseract"}
    assert raw["pages"] == raw["results"]["rapidocr"]["pages"]
    assert "quick brown" in raw["results"]["tesseract"]["pages"][0]["markdown"]
    assert 0.8 < raw["agreement"][0]["similarity"] <= 1
    answer = sdk.ocr.process(
        model="rapidocr,tesseract", document={"image_url": data_url("image/png", phototest_bytes)}
    )
    assert answer.model == "rapidocr" and answer.pages[0].markdown


def test_the_seed_json_body_answers_the_unified_response(
    cluster: Cluster, phototest_bytes: bytes, phototest_multipart: dict[str, Any]
) -> None:
    body = {"image": base64.b64encode(phototest_bytes).decode(), "backend": "rapidocr", "boxes": "none"}
    raw = httpx.post(f"{cluster.url}/v1/ocr", json=body, headers=cluster.headers, timeout=300)
    assert raw.status_code == 200
    answer = raw.json()
    assert answer["success"] and answer["backend"] == "rapidocr"
    assert answer["markdown"] == phototest_multipart["markdown"]
    assert answer["boxes_image"] is None


def test_the_seed_json_body_has_page_1s_picture_at_the_top_level_and_a_form_has_it_once(
    cluster: Cluster, phototest_bytes: bytes
) -> None:
    """The seed answered its picture at the top level: its body still gets that copy of page 1's, from
    each engine of a comparison; the form's answer carries each picture once, in its page."""
    image = base64.b64encode(phototest_bytes).decode()
    body = {"image": image, "backend": "rapidocr,tesseract", "boxes": "first"}
    seed = httpx.post(f"{cluster.url}/v1/ocr", json=body, headers=cluster.headers, timeout=300)
    assert seed.status_code == 200, seed.text
    for name, result in seed.json()["results"].items():
        assert result["boxes_image"] and result["boxes_image"] == result["pages"][0]["boxes_image"], name
    form = httpx.post(
        f"{cluster.url}/v1/ocr",
        files={"file": ("phototest.png", phototest_bytes)},
        data={"backend": "rapidocr", "boxes": "first"},
        headers=cluster.headers,
        timeout=300,
    )
    assert form.status_code == 200, form.text
    answer = form.json()
    assert answer["boxes_image"] is None and answer["pages"][0]["boxes_image"].startswith("<svg")
    assert form.text.count("<svg") == 1


def test_an_allowed_url_is_fetched_and_others_are_refused(
    sdk: Any, files: str, phototest_multipart: dict[str, Any]
) -> None:
    answer = sdk.ocr.process(model="rapidocr", document={"document_url": f"{files}/docs/phototest.png"})
    assert answer.pages[0].markdown == phototest_multipart["markdown"]
    with pytest.raises(mistral_client.errors.SDKError) as refused:
        sdk.ocr.process(model="rapidocr", document={"document_url": f"{files}/private/phototest.png"})
    assert refused.value.status_code == 403 and "url_not_allowed" in refused.value.body
    with pytest.raises(mistral_client.errors.SDKError) as redirected:
        sdk.ocr.process(model="rapidocr", document={"document_url": f"{files}/docs/out"})
    assert redirected.value.status_code == 403


def _error(cluster: Cluster, body: dict[str, Any], status: int, code: str) -> None:
    response = httpx.post(f"{cluster.url}/v1/ocr", json=body, headers=cluster.headers, timeout=60)
    assert response.status_code == status, response.text
    assert response.json()["success"] is False and response.json()["error"]["code"] == code


def test_typed_errors(cluster: Cluster, sdk: Any, phototest_bytes: bytes) -> None:
    png = data_url("image/png", phototest_bytes)
    with pytest.raises(mistral_client.errors.SDKError) as unknown:
        sdk.ocr.process(model="mistral-ocr-latest", document={"image_url": png})
    assert unknown.value.status_code == 404 and '"unknown_backend"' in unknown.value.body
    with pytest.raises(mistral_client.errors.HTTPValidationError) as bad:
        sdk.ocr.process(model="rapidocr", document={"image_url": "data:image/png;base64,iVBOR*"})
    assert bad.value.status_code == 422 and "not valid base64" in bad.value.body
    with pytest.raises(mistral_client.errors.SDKError) as unauthorised:
        mistral_client.Mistral(api_key="wrong", server_url=cluster.url).ocr.process(
            model="rapidocr", document={"image_url": png}
        )
    assert unauthorised.value.status_code == 401
    _error(
        cluster,
        {"model": "rapidocr", "document": {"image_url": "data:text/plain;base64,aGk="}},
        415,
        "unsupported_type",
    )
    _error(
        cluster,
        {"model": "rapidocr", "document": {"image_url": "data:image/png;base64,aGk="}},
        415,
        "unsupported_type",
    )
    _error(
        cluster, {"model": "rapidocr", "document": {"image_url": png}, "pages": [1]}, 422, "invalid_request"
    )
    _error(
        cluster, {"model": "rapidocr", "document": {"type": "file", "file_id": "f"}}, 422, "invalid_request"
    )
    _error(cluster, {"model": "rapidocr", "document": {"type": "pdf"}}, 422, "invalid_request")
    _error(cluster, {"model": "rapidocr", "document": {"image_url": "ftp://x/y.png"}}, 422, "invalid_request")
    _error(
        cluster,
        {"model": "rapidocr", "document": {"image_url": png}, "options": {"nope": 1}},
        422,
        "invalid_option",
    )
    _error(
        cluster,
        {"model": "rapidocr", "document": {"image_url": png}, "table_format": "html"},
        422,
        "invalid_request",
    )
    _error(cluster, {"backend": "rapidocr"}, 422, "invalid_request")
    _error(cluster, {"image": "###", "backend": "rapidocr"}, 422, "invalid_request")
    seed = {"image": base64.b64encode(phototest_bytes).decode(), "backend": "rapidocr", "layout": "auto"}
    _error(cluster, seed, 422, "invalid_request")  # a field the seed's body does not name, as a form's
    response = httpx.post(
        f"{cluster.url}/v1/ocr",
        content=b"{not json",
        headers={**cluster.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_documents_over_the_upload_limit_are_413(cluster: Cluster) -> None:
    # decoded just over the limit: the body itself passes the base64-sized body limit
    over = {"model": "rapidocr", "document": {"image_url": data_url("image/png", b"\x89PNG" + bytes(LIMIT))}}
    _error(cluster, over, 413, "file_too_large")
    # the body alone is over the limit: refused from its Content-Length, unread
    far_over = {"image": base64.b64encode(bytes(2 * LIMIT)).decode(), "backend": "rapidocr"}
    _error(cluster, far_over, 413, "file_too_large")


def test_openapi_documents_both_request_bodies(cluster: Cluster) -> None:
    document = httpx.get(f"{cluster.url}/openapi.json", headers=cluster.headers, timeout=10).json()
    content = document["paths"]["/v1/ocr"]["post"]["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json"}
    refs = {ref["$ref"].rsplit("/", 1)[-1] for ref in content["application/json"]["schema"]["oneOf"]}
    assert refs == {"MistralOCRRequest", "SeedOCRRequest"}
    schemas = document["components"]["schemas"]
    assert {"MistralOCRRequest", "SeedOCRRequest", "MistralOCRResponse", "DocumentURLChunk"} <= set(schemas)
    assert schemas["MistralOCRRequest"]["properties"]["document"]


CLIENTS_SCRIPT = """
import base64, sys
from pathlib import Path
url, key, image = sys.argv[1], sys.argv[2], Path(sys.argv[3]).read_bytes()
document = {"type": "image_url", "image_url": "data:image/png;base64," + base64.b64encode(image).decode()}
import litellm
from mistralai.client import Mistral
a = Mistral(api_key=key, server_url=url).ocr.process(model="tesseract", document=document)
b = litellm.ocr(model="mistral/tesseract", document=document, api_base=url + "/v1", api_key=key)
assert a.pages[0].markdown == b.pages[0].markdown and a.pages[0].markdown
print("ok")
"""


def test_the_clients_call_nothing_but_the_gateway(cluster: Cluster, phototest: Path, tmp_path: Path) -> None:
    """Both clients imported and used in a fresh process, every connect(2) it makes traced."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (Debian: apt-get install strace)")
    pytest.importorskip("litellm")
    trace = tmp_path / "connect.trace"
    script = tmp_path / "clients.py"
    script.write_text(CLIENTS_SCRIPT)
    env = {**os.environ, **OFFLINE_ENV}
    command = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace), sys.executable, str(script)]
    run = subprocess.run(
        [*command, cluster.url, KEY, str(phototest)], env=env, capture_output=True, text=True, timeout=300
    )
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
    inet = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
    assert inet, "no connection traced at all"
    outside = [line for line in inet if "127.0.0.1" not in line and '"::1"' not in line]
    assert outside == []
