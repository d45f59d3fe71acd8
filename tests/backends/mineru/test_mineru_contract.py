"""Our MinerU backend against the REAL mineru 4.0.12 (installed in .venvs/mineru-test without models).

What runs live here, all MinerU's own code: its API server app (OpenAPI schema, routes, request and
response models), the real `mineru-api` process at tier `flash` (PDF text layer, no model weights),
MinerU's parser at tier flash on born-digital PDFs (also on rotated and cropped pages), its middle-JSON
renderers (content list V1, structured content, markdown), its page-range evaluation and its
image-to-PDF wrapping. A MinerU upgrade that renames a route, an option, a field or a coordinate
convention fails these tests.
"""

from __future__ import annotations

import io
import json
import shutil
import typing
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest

from ocrgate.backends.base import WholeFile
from ocrgate.backends.mineru.api_client import (
    ErrorDetail,
    MinerUApiClient,
    Task,
    TaskFile,
    TaskProgress,
    query_params,
)
from ocrgate.backends.mineru.api_engine import OUTPUT_FORMATS, ApiEngine
from ocrgate.backends.mineru.backend import MinerUBackend, MinerUOptions, Tier
from ocrgate.backends.mineru.content_list import parse_content_list
from ocrgate.backends.mineru.page_range import select_pages
from ocrgate.backends.mineru.structured import content_list_from_structured
from ocrgate.documents import PDF
from ocrgate.errors import BackendUnavailable, InvalidOption
from ocrgate.schema import PageResult
from tests.backends.mineru.helpers import (
    FIXTURES,
    MINERU_VERSION,
    Recorder,
    assert_text_where_boxes_are,
    page_sizes,
    probe,
)
from tests.fakes.mineru_api import create_app as create_fake

# what our client calls, as MinerU's OpenAPI names them
ROUTES = {
    ("get", "/v1/health"),
    ("post", "/v1/tasks"),
    ("get", "/v1/tasks/{task_id}"),
    ("get", "/v1/tasks/{task_id}/result"),
    ("delete", "/v1/tasks/{task_id}"),
    ("post", "/v1/file_parse"),
}


@pytest.fixture(scope="module")
def real_openapi(mineru_home: Path) -> dict[str, Any]:
    return probe(mineru_home, "openapi")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def fake_openapi() -> dict[str, Any]:
    return create_fake(FIXTURES).openapi()


def query_names(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return {
        p["name"]: p["schema"]
        for p in spec["paths"][path][method].get("parameters", [])
        if p["in"] == "query"
    }


def enum(schema: dict[str, Any]) -> set[str]:
    values: set[str] = set(schema.get("enum", []))
    for option in schema.get("anyOf", []):
        values |= set(option.get("enum", []))
    return values


def properties(spec: dict[str, Any], component: str) -> set[str]:
    return set(spec["components"]["schemas"][component]["properties"])


def as_route(path: str) -> str:
    parts = path.split("/")
    return "/".join("{task_id}" if part.startswith("job_") else part for part in parts)


def test_the_routes_our_client_calls_exist_in_mineru(
    real_openapi: dict[str, Any], fake_api: str, multipage_pdf: Path, phototest: Path
) -> None:
    recorder = Recorder()
    backend = MinerUBackend({"url": fake_api, "poll_interval_s": 0.05})
    backend.load()
    assert isinstance(backend.engine, ApiEngine)
    backend.engine.client = client = MinerUApiClient(backend.engine.config, recorder)
    backend.ocr_file(
        WholeFile(multipage_pdf.read_bytes(), PDF, [(100, 100)] * 5), MinerUBackend.parse_options({})
    )
    backend.ocr_file(
        WholeFile(phototest.read_bytes(), "image/png", [(640, 480)]), MinerUBackend.parse_options({})
    )
    client.cancel("job_0")
    client.health()
    called = {(method.lower(), as_route(path)) for method, path in recorder.calls}
    assert called == ROUTES
    real = {(method, path) for path, ops in real_openapi["paths"].items() for method in ops}
    assert real >= ROUTES
    assert "202" in real_openapi["paths"]["/v1/tasks"]["post"]["responses"]


def test_every_option_we_send_is_a_field_of_mineru_s_request(real_openapi: dict[str, Any]) -> None:
    ours = set(MinerUOptions.model_fields) - {"prompt"}
    sent = {name for name, _ in query_params(dict.fromkeys(ours, "x"), OUTPUT_FORMATS)}
    assert sent == {"tier", "ocr_mode", "page_range", "output_formats"}
    for path in ("/v1/tasks", "/v1/file_parse"):
        params = query_names(real_openapi, "post", path)
        assert sent <= params.keys(), (path, sent - params.keys())
        assert enum(params["tier"]) == set(typing.get_args(Tier))
        assert enum(params["ocr_mode"]) == {"auto", "txt", "ocr"}
        body = real_openapi["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert body["required"] == ["files"] and body["properties"]["files"]["items"]["format"] == "binary"
    assert "wait_timeout" in query_names(real_openapi, "post", "/v1/file_parse")
    assert set(OUTPUT_FORMATS) <= set(real_openapi["components"]["schemas"]["OutputFiles"]["properties"])


def test_the_fields_we_read_are_mineru_s(real_openapi: dict[str, Any]) -> None:
    assert set(Task.model_fields) <= properties(real_openapi, "TaskStatusResponse")
    assert set(TaskFile.model_fields) <= properties(real_openapi, "TaskFileContent")
    assert set(TaskProgress.model_fields) == properties(real_openapi, "JobProgress")
    assert set(ErrorDetail.model_fields) == properties(real_openapi, "ErrorDetail")
    status = real_openapi["components"]["schemas"]["TaskStatusResponse"]["properties"]["status"]
    assert enum(status) == {"queued", "running", "completed", "partial", "failed", "canceled"}


@pytest.mark.parametrize(
    "component",
    [
        "TaskStatusResponse",
        "TaskResultResponse",
        "TaskFileContent",
        "JobFileResult",
        "JobProgress",
        "ErrorDetail",
    ],
)
def test_the_fake_declares_mineru_s_models(
    real_openapi: dict[str, Any], fake_openapi: dict[str, Any], component: str
) -> None:
    assert properties(fake_openapi, component) == properties(real_openapi, component)


def test_the_fake_declares_mineru_s_routes_and_fields(
    real_openapi: dict[str, Any], fake_openapi: dict[str, Any]
) -> None:
    for method, path in ROUTES:
        assert method in fake_openapi["paths"][path], (method, path)
        real, fake = query_names(real_openapi, method, path), query_names(fake_openapi, method, path)
        assert real.keys() == fake.keys(), (path, real.keys() ^ fake.keys())
        for name in real:
            assert enum(real[name]) == enum(fake[name]), (path, name)
    for path in ("/v1/tasks", "/v1/file_parse"):
        multipart = "multipart/form-data"
        real_body = real_openapi["paths"][path]["post"]["requestBody"]["content"][multipart]["schema"]
        fake_body = fake_openapi["paths"][path]["post"]["requestBody"]["content"][multipart]["schema"]
        assert real_body == fake_body
    assert "202" in fake_openapi["paths"]["/v1/tasks"]["post"]["responses"]


CONFORMANCE: list[tuple[str, dict[str, Any], str | None]] = [
    # (what, request, the file to send)
    ("unknown option", {"params": {"tier": "flash", "colour": "blue"}}, "pdf"),
    ("bad tier", {"params": {"tier": "platinum"}}, "pdf"),
    ("tier not served", {"params": {"tier": "advanced"}}, "pdf"),
    ("no tier on a flash server", {"params": {}}, "pdf"),
    ("bad output format", {"params": {"tier": "flash", "output_formats": "pdf"}}, "pdf"),
    ("bad page range", {"params": {"tier": "flash", "page_range": "3~1"}}, "pdf"),
    ("no file", {"params": {"tier": "flash"}, "data": {"x": "1"}}, None),
]


def test_the_fake_answers_like_the_real_server(
    real_api: str, fake_flash_api: str, multipage_pdf: Path
) -> None:
    """The same requests to the real mineru-api (tier flash) and to the fake: same codes and shapes."""
    pdf = multipage_pdf.read_bytes()
    for what, request, file in CONFORMANCE:
        answers = []
        for url in (real_api, fake_flash_api):
            files = {"files": ("document.pdf", pdf, "application/pdf")} if file else None
            response = httpx.post(f"{url}/v1/tasks", files=files, timeout=30, **request)
            answers.append(
                (response.status_code, response.json()["error"]["code"], response.json()["error"]["param"])
            )
        assert answers[0] == answers[1], (what, answers)
    for url in (real_api, fake_flash_api):
        assert httpx.get(f"{url}/v1/tasks/job_nope").json()["error"]["code"] == "job_not_found"
    results = []
    for url in (real_api, fake_flash_api):
        params = [("tier", "flash"), ("output_formats", "structured_content"), ("output_formats", "markdown")]
        created = httpx.post(
            f"{url}/v1/tasks", params=params, files={"files": ("doc.pdf", pdf, "application/pdf")}
        )
        assert created.status_code == 202 and created.json()["status"] == "queued"
        task = created.json()
        while task["status"] not in ("completed", "failed"):
            task = httpx.get(f"{url}{task['status_url']}").json()
        result = httpx.get(f"{url}{task['result_url']}")
        refused = httpx.delete(f"{url}{task['status_url']}")
        results.append(
            (
                created.json(),
                task,
                result.status_code,
                result.json(),
                refused.status_code,
                refused.json()["error"]["code"],
            )
        )
    (c1, t1, s1, r1, d1, e1), (c2, t2, s2, r2, d2, e2) = results
    assert c1.keys() == c2.keys() and t1.keys() == t2.keys() and r1.keys() == r2.keys()
    assert t1["files"][0].keys() == t2["files"][0].keys() and t1["progress"] == t2["progress"] == {
        "completed": 1,
        "failed": 0,
        "total": 1,
    }
    assert (s1, d1, e1) == (s2, d2, e2) == (200, 409, "job_already_terminal")
    assert r1["files"][0]["page_range"] == r2["files"][0]["page_range"] == "1-5"
    assert r1["files"][0]["content"]["structured_content"] == r2["files"][0]["content"]["structured_content"]
    assert r1["files"][0]["content"]["markdown"] == r2["files"][0]["content"]["markdown"]


def test_fixtures_are_what_mineru_writes(tmp_path: Path, mineru_home: Path, eval_dir: Path) -> None:
    """Re-made by the real MinerU (hand-written middle JSON rendered, PDFs parsed at tier flash)."""
    for written in ("phototest.middle.json", "all_types.middle.json"):
        shutil.copy(FIXTURES / written, tmp_path / written)
    probe(mineru_home, "fixtures", str(tmp_path), str(eval_dir))
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in FIXTURES.iterdir() if p.name != "README.md")
    for name in made:
        assert (tmp_path / name).read_text() == (FIXTURES / name).read_text(), (
            f"{name} changed: regenerate (README)"
        )


def test_our_adapter_and_mineru_s_content_list_make_the_same_blocks(mineru_home: Path) -> None:
    live = probe(mineru_home, "render", str(FIXTURES / "all_types.middle.json"))
    sizes = [(1191, 1684), (1191, 1684)]
    theirs = parse_content_list(live["content_list"], sizes)
    ours = parse_content_list(content_list_from_structured(live["structured_content"]), sizes)
    for mine, real in zip(ours, theirs, strict=True):
        assert [(b.kind, b.label, b.level) for b in mine.blocks] == [
            (b.kind, b.label, b.level) for b in real.blocks
        ]
        for a, b in zip(mine.blocks, real.blocks, strict=True):
            assert all(0 <= x - y < 1191 / 1000 + 1e-9 for x, y in zip(a.bbox, b.bbox, strict=True)), (a, b)
            if a.kind not in ("table", "figure"):
                assert a.text == b.text


def test_page_range_evaluation_is_mineru_s(mineru_home: Path) -> None:
    cases = [
        ["", 5],
        ["all", 3],
        ["1-2,5", 9],
        ["r3-r1", 5],
        ["2-r1", 4],
        ["4-99", 5],
        ["1 - 3 , r1", 8],
        ["3-1", 5],
        ["r1-r3", 5],
        ["r1-3", 5],
        ["0", 5],
        ["1~3", 5],
        ["a", 5],
        ["6-7", 5],
        ["5", 5],
        ["", 1],
    ]
    theirs = probe(mineru_home, "page-range", stdin=json.dumps(cases))
    for (raw, count), real in zip(cases, theirs, strict=True):
        try:
            ours: Any = select_pages(raw, count)
        except InvalidOption:
            ours = "error"
        assert ours == (real if isinstance(real, list) else "error"), (raw, count, real)


def test_an_image_becomes_one_page_of_its_own_shape(mineru_home: Path, phototest: Path) -> None:
    """MinerU wraps an image into a one-page PDF of the same aspect: its 0..1 boxes are image fractions."""
    page = probe(mineru_home, "image-page", str(phototest))
    width, height = page["size"]
    assert page["pages"] == 1 and page["rotation"] == 0
    assert width / height == pytest.approx(640 / 480, rel=1e-4)


def rotated_and_cropped(source: Path) -> bytes:
    pdf = pdfium.PdfDocument(source)
    out = pdfium.PdfDocument.new()
    out.import_pages(pdf, [0, 1, 2])
    out[0].set_rotation(90)
    out[1].set_cropbox(40, 120, 560, 800)
    out[2].set_rotation(270)
    out[2].set_cropbox(20, 300, 595, 842)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


def test_boxes_follow_rotation_and_cropbox(tmp_path: Path, mineru_home: Path, multipage_pdf: Path) -> None:
    """MinerU's boxes are fractions of the page as displayed (CropBox, /Rotate applied), like our images."""
    data = rotated_and_cropped(multipage_pdf)
    (tmp_path / "rotated.pdf").write_bytes(data)
    live = probe(mineru_home, "parse", str(tmp_path / "rotated.pdf"))
    sizes = page_sizes(data)
    assert sizes[0][0] > sizes[0][1]  # the 90-degree page is landscape
    results = parse_content_list(content_list_from_structured(live["structured_content"]), sizes)
    assert assert_text_where_boxes_are(data, results) >= 25
    v1 = parse_content_list(live["content_list"], sizes)
    assert assert_text_where_boxes_are(data, v1) >= 25


def test_the_api_engine_against_the_real_mineru_api(real_api: str, multipage_pdf: Path) -> None:
    data = multipage_pdf.read_bytes()
    sizes = page_sizes(data)
    engine = MinerUBackend({"url": real_api, "tier": "flash", "poll_interval_s": 0.1})
    engine.load()
    assert engine.engine_version() == MINERU_VERSION
    seen: list[tuple[int, int]] = []
    whole = engine.ocr_file(
        WholeFile(data, PDF, sizes), MinerUBackend.parse_options({}), lambda *p: seen.append(p)
    )
    assert seen == [(0, 5), (5, 5)] and [r.index for r in whole] == [0, 1, 2, 3, 4]
    assert assert_text_where_boxes_are(data, whole) >= 40
    chunked = MinerUBackend({"url": real_api, "tier": "flash", "poll_interval_s": 0.1, "chunk_pages": 2})
    seen.clear()
    parts = chunked.ocr_file(
        WholeFile(data, PDF, sizes), MinerUBackend.parse_options({}), lambda *p: seen.append(p)
    )
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]
    assert [[b.bbox for b in r.blocks] for r in parts] == [[b.bbox for b in r.blocks] for r in whole]
    rotated = rotated_and_cropped(multipage_pdf)
    results = engine.ocr_file(WholeFile(rotated, PDF, page_sizes(rotated)), MinerUBackend.parse_options({}))
    assert assert_text_where_boxes_are(rotated, results) >= 25
    with pytest.raises(InvalidOption, match="Tier 'advanced' not available"):
        engine.ocr_file(WholeFile(data, PDF, sizes), MinerUBackend.parse_options({"tier": "advanced"}))
    with pytest.raises(BackendUnavailable, match="quality_tier_unavailable"):
        MinerUBackend({"url": real_api}).ocr_file(
            WholeFile(data, PDF, sizes), MinerUBackend.parse_options({})
        )


def test_the_inprocess_engine_runs_mineru_for_real(mineru_home: Path, multipage_pdf: Path) -> None:
    data = multipage_pdf.read_bytes()
    sizes = page_sizes(data)
    first, *pages = probe(mineru_home, "inprocess", str(multipage_pdf), json.dumps(sizes))
    assert first == {"progress": [[0, 5], [5, 5]], "version": MINERU_VERSION}
    results = [PageResult.model_validate(page) for page in pages]
    assert assert_text_where_boxes_are(data, results) >= 40
