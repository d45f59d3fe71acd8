"""Choosing an engine in a real browser, on real pages: compare line by line with the page viewer, a job's
pages appearing with their picture while it runs, options and choices kept in the URL, recent jobs, and
the whole decision: ten pages uploaded, two corrected, the scorecard naming the winner, the set exported.

Fixtures (one gateway with rapidocr and tesseract, Debian's chromium): conftest.py.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ocrgate.evaluate.datasets import load_manifest
from tests.gateway.cluster import Cluster
from tests.gateway.test_gateway import pdf_of
from tests.pictures import read_picture
from tests.web.conftest import ARTIFACTS, BACKENDS, CHROMIUM, HL, choose

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (Debian's chromium; `.ci/run` installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect

TABLES = sorted(
    ["PMC5577841_001_00", "PMC5198506_004_00", "PMC5402779_004_00", "PMC5897438_004_00",
     "PMC3826085_003_00", "PMC4172848_007_00", "PMC4003957_018_00"]
)  # fmt: skip


def scale(page: sync_api.Page, where: str = ".compare-page") -> float:
    return float(page.locator(f"{where} .viewer-port").get_attribute("data-scale"))


def test_compare_by_line(page: sync_api.Page, eval_dir: Path) -> None:
    choose(page, "rapidocr", "tesseract")
    page.set_input_files("#file", str(eval_dir / "tesseract_test" / "images" / "eurotext.png"))
    page.click("#submit")
    compare = page.locator("#result .compare-page")
    rows = compare.locator(".line-row")
    expect(rows.first).to_be_visible(timeout=120_000)
    assert rows.count() >= 5
    # every aligned line: the page's crop of it (the uploaded image, no server call, set once the
    # browser has the image: waited for) and both readings
    crop = page.wait_for_function(
        """() => { const s = document.querySelector('.line-row .line-crop').style;
                   return s.backgroundImage
                       && [s.backgroundImage, s.backgroundSize, s.backgroundPosition]; }"""
    ).json_value()
    assert crop[0].startswith('url("blob:') and crop[1].endswith("px") and "px" in crop[2]
    for name in ("rapidocr", "tesseract"):
        expect(rows.first.locator(f'.reading[data-backend="{name}"]')).to_be_visible()
    # differences are marked as "only in" an engine, never struck through
    marks = compare.locator(".line-list mark.diff-only")
    assert marks.count() >= 1
    titles = set(marks.evaluate_all("ms => ms.map(m => m.title)"))
    assert titles <= {"only in rapidocr", "only in tesseract"} and titles
    assert compare.locator("del, s, strike").count() == 0
    assert set(marks.evaluate_all("ms => ms.map(m => getComputedStyle(m).textDecorationLine)")) == {"none"}
    differ = compare.locator(".line-row.differ").count()
    assert differ >= 1
    compare.locator(".only-differing").check()
    expect(compare.locator(".line-row:visible")).to_have_count(differ)
    compare.locator(".only-differing").uncheck()

    # the page viewer: buttons, keyboard, Ctrl+wheel; a line's row brings it into view
    fitted = scale(page)
    compare.locator('[data-zoom="in"]').click()
    assert scale(page) == pytest.approx(fitted * 1.25, rel=1e-3)
    port = compare.locator(".viewer-port")
    port.focus()
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert scale(page) < fitted
    page.keyboard.press("0")
    assert scale(page) == pytest.approx(fitted, rel=1e-3)
    port.hover()
    page.keyboard.down("Control")
    page.mouse.wheel(0, -120)
    page.keyboard.up("Control")
    expect(port).not_to_have_attribute("data-scale", f"{fitted:.3f}")
    before = page.evaluate("document.querySelector('.compare-page .viewer-sheet').style.transform")
    box = port.bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 30, steps=5)
    page.mouse.up()
    assert page.evaluate("document.querySelector('.compare-page .viewer-sheet').style.transform") != before
    page.keyboard.press("0")
    row = compare.locator(".line-row.differ").first
    row.click()
    assert scale(page) > fitted
    number = row.get_attribute("data-row")
    row.hover()
    expect(compare.locator(f'.line-box[data-row="{number}"]').first).to_have_class(HL)

    # each engine's confidence, shaded per line on the page
    compare.locator(".confidence-toggle").first.check()
    shades = compare.locator(".layer-confidence .conf")
    assert shades.count() >= 1
    scores = [float(s) for s in shades.evaluate_all("els => els.map(e => e.dataset.score)")]
    assert all(0 <= s <= 1 for s in scores)
    assert set(shades.evaluate_all("els => els.map(e => e.classList[1])")) <= {
        "conf-hi",
        "conf-mid",
        "conf-lo",
    }

    # per engine: markdown, tables, raw, timings, and its own boxes picture
    with Image.open(eval_dir / "tesseract_test" / "images" / "eurotext.png") as upload:
        size = upload.size
    for name in ("rapidocr", "tesseract"):
        column = compare.locator(f'.column[data-backend="{name}"]')
        with page.expect_download() as saved:
            column.get_by_role("button", name="Boxes picture").click()
        # one page: no `.p1`, as the command line names it
        assert saved.value.suggested_filename == f"eurotext.{name}.boxes.svg"
        picture = read_picture(Path(saved.value.path()).read_text(encoding="utf-8"))
        assert (picture.width, picture.height) == size and picture.outlines, name
        assert picture.labels[0].startswith("1 "), picture.labels
        expect(column.locator(".timings")).to_contain_text("total")
        expect(column.locator('[role="tabpanel"]:visible')).to_contain_text("Fuchs")
        column.locator('[data-tab="tables"]').click()
        expect(column.locator('[role="tabpanel"]:visible')).to_contain_text("No table on this page")
        column.locator('[data-tab="raw"]').click()
        expect(column.locator('[role="tabpanel"]:visible')).to_contain_text("text")
    page.screenshot(path=str(ARTIFACTS / "compare-lines.png"), full_page=True)
    port.focus()
    page.keyboard.press("0")  # the whole page's width again, for the picture
    compare.locator(".compare-top").screenshot(path=str(ARTIFACTS / "compare.png"))


def test_diff_and_alignment_rules(page: sync_api.Page) -> None:
    found = page.evaluate(
        """async () => {
        const { diffReadings } = await import('/static/diff.js');
        const { alignLines } = await import('/static/lines.js');
        const two = diffReadings({a: 'the quick brovvn fox', b: 'the quick brown fox jumps'});
        const three = diffReadings({a: 'one two three', b: 'one two', c: 'one three'});
        const line = (text, bbox, order) => ({text, bbox, order, score: null});
        const rows = alignLines({
          a: [line('Hello big world', [10, 10, 300, 30], 0), line('next line', [10, 40, 200, 60], 1)],
          b: [line('Hello', [10, 11, 90, 29], 0), line('big world', [100, 11, 300, 31], 1),
              line('next line', [12, 41, 198, 59], 2), line('stray', [400, 400, 450, 420], 3)],
        });
        const marked = (runs) => runs.filter(r => r.kind !== 'same')
          .map(r => [r.kind, r.text, r.missing || null]);
        const all = Object.fromEntries(Object.entries(three).map(([k, v]) => [k, marked(v)]));
        return {a: marked(two.a), b: marked(two.b), three: all, rows: rows.map(r => r.text)};
    }"""
    )
    assert found["a"] == [["only", "vv", None]]
    assert found["b"] == [["only", "w", None], ["only", "jumps", None]]
    assert found["three"] == {
        "a": [["some", "two", ["c"]], ["some", "three", ["b"]]],
        "b": [["some", "two", ["c"]]],
        "c": [["some", "three", ["b"]]],
    }
    assert found["rows"] == [
        {"a": "Hello big world", "b": "Hello big world"},
        {"a": "next line", "b": "next line"},
        {"b": "stray"},
    ]


EVIL_TABLE = (
    '<table><tr><td onclick="window.__xss=1">cell<img src=x onerror="window.__xss=1"></td></tr></table>'
    "<script>window.__xss=1</script>"
)


def test_compare_tables_render_safely(page: sync_api.Page, phototest: Path) -> None:
    def result(name: str) -> dict[str, Any]:
        block = {
            "kind": "table",
            "text": "| a |",
            "html": EVIL_TABLE,
            "bbox": [10, 10, 300, 100],
            "lines": [],
        }
        page_ = {"index": 0, "width": 640, "height": 480, "markdown": "x", "flags": [], "blocks": [block]}
        return {"backend": name, "pages": [page_], "raw_result": {name: "<script>window.__xss=1</script>"},
                "timings": {"total": 0.5, "ocr": 0.4}}  # fmt: skip

    names = ["rapidocr", "tesseract"]
    crafted = {"backends": names, "results": {n: result(n) for n in names},
               "agreement": [{"a": "rapidocr", "b": "tesseract", "similarity": 1.0}]}  # fmt: skip
    page.route("**/v1/ocr", lambda route: route.fulfill(status=200, json=crafted))
    choose(page, "rapidocr", "tesseract")
    page.set_input_files("#file", str(phototest))
    page.click("#submit")
    column = page.locator('.column[data-backend="tesseract"]')
    column.locator('[data-tab="tables"]').click()
    expect(column.locator('[role="tabpanel"]:visible td')).to_have_text("cell")
    column.locator('[data-tab="raw"]').click()
    expect(column.locator('[role="tabpanel"]:visible')).to_contain_text("<script>")
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#result script, #result img[src='x']").count() == 0
    handlers = page.evaluate(
        """() => [...document.querySelectorAll('#result *')]
            .flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on'))"""
    )
    assert handlers == []


def test_a_running_job_shows_each_finished_page_with_its_picture(
    page: sync_api.Page, cluster: Cluster, phototest: Path, tmp_path: Path
) -> None:
    pdf = tmp_path / "eight.pdf"
    pdf.write_bytes(pdf_of(Image.open(phototest).convert("RGB"), 8))
    choose(page, "rapidocr")
    page.set_input_files("#file", str(pdf))
    page.click("#submit")
    expect(page.locator(".strip-item.done").first).to_be_visible(timeout=120_000)
    page.locator(".strip-item.done").first.click()
    detail = page.locator(".page-detail .page")
    image = detail.locator("img.page-image")
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('.page-detail img.page-image').naturalWidth > 0")
    size = image.evaluate("i => `0 0 ${i.naturalWidth} ${i.naturalHeight}`")
    assert detail.locator("svg.boxes").get_attribute("viewBox") == size  # the boxes' pixels
    assert detail.locator("svg.boxes rect").count() >= 1
    status = page.locator("#job-status").inner_text()
    assert re.fullmatch(r"running — [0-8] / 8 pages", status), status
    page.screenshot(path=str(ARTIFACTS / "job-running.png"))
    expect(page.locator("#job-status")).to_contain_text("completed — 8 / 8 pages", timeout=600_000)
    job_id = page.url.split("job=")[1].split("&")[0]
    result = httpx.get(f"{cluster.url}/v1/jobs/{job_id}/result").json()
    assert result["timings"]["total"] > 0 and result["timings"]["ocr"] > 0
    expect(detail.locator(".timings")).to_contain_text("total")


def test_options_choices_and_recent_jobs(page: sync_api.Page, cluster: Cluster, eval_dir: Path) -> None:
    # the gateway's default backend comes chosen
    assert [b.get_attribute("value") for b in page.locator(f"{BACKENDS}:checked").all()] == ["rapidocr"]
    expect(page.locator('li[data-backend="rapidocr"] .badge.default')).to_be_visible()
    # each backend's options, from its JSON Schema
    page.locator('details[data-backend="rapidocr"] summary').click()
    score = page.locator("#opt-rapidocr-text_score")
    assert [score.get_attribute(a) for a in ("type", "min", "max", "step")] == ["number", "0", "1", "any"]
    choose(page, "rapidocr", "tesseract")
    page.locator('details[data-backend="tesseract"] summary').click()
    lang = page.locator("#opt-tesseract-lang")
    assert lang.get_attribute("type") == "text"
    score.fill("0.6")
    lang.fill("eng")
    state = dict(p.split("=", 1) for p in page.evaluate("location.hash").lstrip("#").split("&"))
    assert state["backends"] == "rapidocr%2Ctesseract"
    assert json.loads(httpx.QueryParams(f"o={state['options']}")["o"]) == {
        "rapidocr": {"text_score": 0.6},
        "tesseract": {"lang": "eng"},
    }
    page.reload()  # a reload keeps the choice and the options
    expect(page.locator(f"{BACKENDS}:checked")).to_have_count(2)
    expect(page.locator("#opt-rapidocr-text_score")).to_have_value("0.6")
    expect(page.locator("#opt-tesseract-lang")).to_have_value("eng")

    # an out-of-range value is refused in the page; valid ones go with the request, each backend its own
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/v1/" in request.url else None)
    small = eval_dir / "tables" / "images" / f"pubtabnet_{TABLES[0]}.png"
    page.set_input_files("#file", str(small))
    page.locator("#opt-rapidocr-text_score").fill("2")
    page.click("#submit")
    page.wait_for_timeout(500)
    assert not [u for u in sent if u.endswith("/v1/ocr")]
    assert page.locator("#opt-rapidocr-text_score:invalid").count() == 1
    page.locator("#opt-rapidocr-text_score").fill("0.6")
    page.evaluate(
        """() => { const fetch = window.fetch; window.__forms = [];
            window.fetch = (url, init) => {
                const body = init && init.body;
                if (body instanceof FormData) window.__forms.push(body.get('backend_options'));
                return fetch(url, init); }; }"""
    )
    page.click("#submit")
    expect(page.locator("#result .compare-page")).to_be_visible(timeout=120_000)
    assert [json.loads(f) for f in page.evaluate("window.__forms")] == [
        {"rapidocr": {"text_score": 0.6}, "tesseract": {"lang": "eng"}}
    ]
    expect(page.locator("#result .compare-page")).to_be_visible(timeout=120_000)

    # recent jobs: one submitted elsewhere shows up, and opens from the list
    other = eval_dir / "tables" / "images" / f"pubtabnet_{TABLES[1]}.png"
    job = httpx.post(
        f"{cluster.url}/v1/jobs",
        files={"file": ("elsewhere.png", other.read_bytes())},
        data={"backend": "tesseract"},
    ).json()
    page.click("#recent-refresh")
    link = page.locator(f'.job-link[data-job="{job["id"]}"]')
    expect(link).to_have_text("elsewhere.png")
    link.click()
    expect(page.locator("#job")).to_be_visible()
    assert f"job={job['id']}" in page.url
    expect(page.locator("#job-status")).to_contain_text("completed — 1 / 1 pages", timeout=120_000)
    expect(link).to_have_attribute("aria-current", "true")


def test_option_forms_follow_the_schema(page: sync_api.Page) -> None:
    found = page.evaluate(
        """async () => {
        const { optionsForm } = await import('/static/options.js');
        const schema = {type: 'object', additionalProperties: false,
          $defs: {Mode: {enum: ['document', 'free'], type: 'string'}},
          properties: {
            mode: {$ref: '#/$defs/Mode', default: 'document'},
            dpi: {anyOf: [{type: 'integer', minimum: 72, maximum: 600}, {type: 'null'}], default: null},
            crop: {type: 'boolean', default: false},
            prompt: {anyOf: [{type: 'string'}, {type: 'null'}], default: null},
            tags: {type: 'array', items: {type: 'string'}}}};
        const form = optionsForm('x', schema, {dpi: 300});
        document.body.append(form.element);
        const kinds = [...form.element.querySelectorAll('[data-option]')]
          .map(e => [e.dataset.option, e.tagName, e.type, e.min || null, e.max || null]);
        const before = form.values();
        form.element.querySelector('[data-option="mode"]').value = '1';
        form.element.querySelector('[data-option="crop"]').checked = true;
        form.element.querySelector('[data-option="prompt"]').value = 'read it';
        return {kinds, before, after: form.values()};
    }"""
    )
    assert found["kinds"] == [
        ["mode", "SELECT", "select-one", None, None],
        ["dpi", "INPUT", "number", "72", "600"],
        ["crop", "INPUT", "checkbox", None, None],
        ["prompt", "INPUT", "text", None, None],
    ]
    assert found["before"] == {"dpi": 300}
    assert found["after"] == {"dpi": 300, "mode": "free", "crop": True, "prompt": "read it"}


def test_ten_own_pages_two_corrected_the_scorecard_names_the_winner(
    page: sync_api.Page, cluster: Cluster, eval_dir: Path, tmp_path: Path
) -> None:
    """The issue's "done when": ten of one's own pages uploaded, one engine's text corrected on two of them,
    and the scorecard read in the browser says which engine wins on them; the set exports for ocrgate eval."""
    files = [eval_dir / "tesseract_test" / "images" / n for n in ("phototest.png", "eurotext.png")]
    files += [eval_dir / "receipts" / "images" / "sroie_316.jpg"]
    files += [eval_dir / "tables" / "images" / f"pubtabnet_{name}.png" for name in TABLES]
    assert len(files) == 10
    truth = {
        i: (eval_dir / "tesseract_test" / "gt" / files[i].name).with_suffix(".txt").read_text()
        for i in (0, 1)
    }
    choose(page, "rapidocr", "tesseract")
    page.set_input_files("#file", [str(f) for f in files])
    expect(page.locator("#file-info")).to_contain_text("10 files")
    page.click("#submit")
    expect(page.locator(".page-strip .strip-item")).to_have_count(10)
    expect(page.locator("#job-status")).to_contain_text("completed — 10 / 10 pages", timeout=900_000)
    job_id = page.url.split("job=")[1].split("&")[0]

    for index in (0, 1):
        page.locator(f'.strip-item[data-page="{index}"]').click()
        editor = page.locator(f'.truth[data-page="{index}"]')
        editor.locator(".truth-from").select_option("tesseract")
        editor.locator("button", has_text="Start again").click()
        area = editor.locator(".truth-text")
        assert area.input_value().split()[:3] == truth[index].split()[:3]  # seeded with tesseract's reading
        area.fill(truth[index])  # corrected to what the page says
        expect(editor.locator(".truth-status")).to_contain_text("Unsaved")
        editor.locator(".truth-save").click()
        expect(editor).to_have_class(re.compile(r"\bhas-truth\b"))
        expect(page.locator(f'.strip-item[data-page="{index}"]')).to_have_class(re.compile(r"\bcorrected\b"))
    # a job's page events carry no boxes picture: each engine's is drawn here, over the job's page image
    column = page.locator('.compare-page .column[data-backend="tesseract"]')
    with page.expect_download() as saved:
        column.get_by_role("button", name="Boxes picture").click()
    assert saved.value.suggested_filename.endswith(".p2.tesseract.boxes.png"), saved.value.suggested_filename
    with Image.open(saved.value.path()) as drawn, Image.open(files[1]) as upload:
        assert drawn.size == upload.size
    page.reload()  # kept with the job, on the gateway
    expect(page.locator(".truth-text")).to_have_value(truth[1])
    expect(page.locator(".strip-item.corrected")).to_have_count(2)

    page.locator('[data-view="scorecard"]').click()
    card = page.locator(".scorecard")
    expect(card.locator(".verdict")).to_contain_text("reads best")
    expected = httpx.get(f"{cluster.url}/v1/jobs/{job_id}/scorecard").json()
    assert expected["corrected"] == 2 and expected["winner"] in ("rapidocr", "tesseract")
    expect(card.locator(".winner-name")).to_have_text(expected["winner"])
    for engine in expected["engines"]:
        row = card.locator(f'.engines tr[data-backend="{engine["backend"]}"]')
        expect(row.locator('td[data-field="cer"]')).to_have_text(f"{engine['cer']:.3f}")
        expect(row.locator('td[data-field="f1"]')).to_have_text(f"{engine['f1']:.3f}")
    expect(card.locator(".pages tr.corrected")).to_have_count(2)
    assert "view=scorecard" in page.url
    card.screenshot(path=str(ARTIFACTS / "scorecard.png"))

    with page.expect_download() as download:
        card.locator("button.export").click()
    path = tmp_path / "set.zip"
    download.value.save_as(path)
    folder = tmp_path / "set"
    zipfile.ZipFile(io.BytesIO(path.read_bytes())).extractall(folder)
    entries = load_manifest(folder / "manifest.jsonl")
    assert [e.id for e in entries] == ["p001-phototest", "p002-eurotext"]
    assert [e.gt_text for e in entries] == [truth[0], truth[1]]
    assert Image.open(entries[0].image).size == Image.open(files[0]).size
