"""`ocrgate ocr DIR --out OUT`: real pages from ../shared/eval, read by RapidOCR in child processes.

The folder holds two page images (one in a subfolder), a real PDF two folders down and a text file
that is not a document. A batch writes each format per input, mirrored under OUT, a summary CSV,
no base64 pictures in the JSON; a second run skips what the first did; a file whose pages fail is
named on stderr, exits 2, and is read again by the next run.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from lxml import etree
from PIL import Image

from tests.formats.test_alto_hocr import alto_schema  # noqa: F401  (a fixture)
from tests.gateway.test_gateway import pdf_of
from tests.helpers import cer, ocrgate_cli

REPO = Path(__file__).resolve().parents[1]

SMALL_PDF = Path("olmocr_bench_sample") / "pdf" / "small_page_size.pdf"
STEMS = ["phototest", "sub/eurotext", "sub/deeper/small_page_size"]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("pages")
    (folder / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(eval_dir / "tesseract_test" / "images" / "phototest.png", folder)
    shutil.copy(eval_dir / "tesseract_test" / "images" / "eurotext.png", folder / "sub")
    shutil.copy(eval_dir / SMALL_PDF, folder / "sub" / "deeper")
    (folder / "notes.txt").write_text("a note beside the scans, not a document\n", encoding="utf-8")
    return folder


def summary(out: Path) -> dict[str, dict[str, str]]:
    with (out / "summary.csv").open(encoding="utf-8", newline="") as handle:
        return {Path(row["path"]).name: row for row in csv.DictReader(handle)}


def pdf_text(path: Path) -> str:
    document = pdfium.PdfDocument(path.read_bytes())
    try:
        return "\n".join(page.get_textpage().get_text_bounded() for page in document)
    finally:
        document.close()


def test_a_folder_is_read_into_every_format_then_resumed(
    pages: Path,
    tmp_path: Path,
    phototest_truth: str,
    alto_schema: etree.XMLSchema,  # noqa: F811  (the fixture imported above)
) -> None:
    out = tmp_path / "out"
    args = (str(pages), "--out", str(out), "-j", "2", "-f", "md,alto,json,pdf", "--boxes", "first")
    first = ocrgate_cli("ocr", *args)
    assert first.returncode == 0, first.stderr[-3000:]

    for stem in STEMS:  # the folder structure mirrored, one file per format
        for extension in (".md", ".alto.xml", ".json", ".ocr.pdf", ".boxes.svg"):
            assert (out / f"{stem}{extension}").is_file(), f"{stem}{extension}"
    assert not list(out.rglob("notes*")) and not list(out.rglob("*.tmp"))
    assert cer((out / "phototest.md").read_text(encoding="utf-8"), phototest_truth) <= 0.05
    for stem in STEMS:
        text = (out / f"{stem}.json").read_text(encoding="utf-8")
        assert "boxes_image" not in text and "base64" not in text  # the pictures are the SVG files
        response = json.loads(text)
        assert response["status"] == "complete" and response["pages"]
        alto_schema.assertValid(etree.parse(str(out / f"{stem}.alto.xml")))
    searchable = pdf_text(out / "phototest.ocr.pdf")
    assert cer(searchable, (out / "phototest.md").read_text(encoding="utf-8")) <= 0.02

    rows = summary(out)
    assert set(rows) == {"phototest.png", "eurotext.png", "small_page_size.pdf"}
    assert all(row["status"] == "ok" and row["pages"] == "1" and not row["error"] for row in rows.values())
    assert all(float(row["seconds"]) > 0 for row in rows.values())
    assert "3 files read" in first.stderr

    written = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "summary.csv"}
    again = ocrgate_cli("ocr", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 files read" in again.stderr and "3 skipped" in again.stderr
    assert {row["status"] for row in summary(out).values()} == {"skipped"}
    assert summary(out)["phototest.png"]["pages"] == "1"  # carried over from the run that read it
    assert {p: p.stat().st_mtime_ns for p in written} == written

    (out / "sub" / "eurotext.alto.xml").unlink()  # as if the first run had stopped before it
    third = ocrgate_cli("ocr", *args)
    assert third.returncode == 0, third.stderr[-3000:]
    statuses = {name: row["status"] for name, row in summary(out).items()}
    assert statuses == {"phototest.png": "skipped", "eurotext.png": "ok", "small_page_size.pdf": "skipped"}
    assert (out / "sub" / "eurotext.alto.xml").is_file()

    # the boxes pictures asked for are outputs too: one missing (or asked for after a run without
    # them) is read again
    (out / "phototest.boxes.svg").unlink()
    fourth = ocrgate_cli("ocr", *args)
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    assert summary(out)["phototest.png"]["status"] == "ok" and (out / "phototest.boxes.svg").is_file()


def test_a_new_reading_leaves_no_picture_of_the_old_one(tmp_path: Path, phototest: Path) -> None:
    """`--boxes all`, then `--boxes first --force`: page 1's picture only, not pages 2-3 of the old;
    then `--boxes all` without `--force` reads it again for pages 2-3, and a second such run skips it."""
    scan, out = tmp_path / "scan.pdf", tmp_path / "out"
    scan.write_bytes(pdf_of(Image.open(phototest).convert("RGB"), 3))
    out.mkdir()
    (out / "scan.b.p2.boxes.svg").write_text("<svg/>")  # another stem's picture is left alone
    for boxes, extra in (("all", ()), ("first", ("--force",))):
        run = ocrgate_cli("ocr", str(scan), "--out", str(out), "--boxes", boxes, *extra)
        assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in out.glob("*.svg")) == ["scan.b.p2.boxes.svg", "scan.p1.boxes.svg"]
    for status in ("ok", "skipped"):
        run = ocrgate_cli("ocr", str(scan), "--out", str(out), "--boxes", "all")
        assert run.returncode == 0, run.stderr[-3000:]
        assert summary(out)["scan.pdf"]["status"] == status
        assert sorted(p.name for p in out.glob("scan.p*.svg")) == [f"scan.p{n}.boxes.svg" for n in (1, 2, 3)]


def test_failed_pages_and_files_are_named_and_read_again(
    tmp_path: Path, eval_dir: Path, phototest: Path
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    # a page tree that promises 3 pages and holds 1; a scan cut off half-way through its bytes
    shutil.copy(eval_dir.parent / "bugs" / "pdf_bogus_count.pdf", folder)
    data = phototest.read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    # named as scans, though they are not: failed rows, not passed over (a note is passed over)
    (folder / "text.PNG").write_text("not a picture\n", encoding="utf-8")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "notes.txt").write_text("a note\n", encoding="utf-8")
    done = ocrgate_cli("ocr", str(folder), "--out", str(out), "-f", "md,txt,pdf")
    assert done.returncode == 2, done.stderr[-3000:]
    rows = summary(out)
    assert rows["text.PNG"]["status"] == "failed" and "unsupported file type" in rows["text.PNG"]["error"]
    assert rows["empty.pdf"]["status"] == "failed" and "empty" in rows["empty.pdf"]["error"]
    assert "notes.txt" not in rows
    assert "pdf_bogus_count.pdf: page 2:" in done.stderr and "pdf_bogus_count.pdf: page 3:" in done.stderr
    assert "cut.png: the image cannot be decoded" in done.stderr
    # the failed files are counted as failed, not among the files read
    assert "1 file read in" in done.stderr
    assert ", 3 failed, 1 with failed pages; 3 pages, 2 failed" in done.stderr
    rows = summary(out)
    assert rows["pdf_bogus_count.pdf"]["status"] == "partial" and rows["pdf_bogus_count.pdf"]["pages"] == "3"
    assert rows["cut.png"]["status"] == "failed" and "cannot be decoded" in rows["cut.png"]["error"]
    # what could be read is written, and the errors log says what could not
    assert "harbour office" in (out / "pdf_bogus_count.md").read_text(encoding="utf-8")
    assert "harbour office" in pdf_text(out / "pdf_bogus_count.ocr.pdf")
    log = (out / "pdf_bogus_count.errors.log").read_text(encoding="utf-8")
    assert log.startswith("page 2:") and log.endswith("\n") and log.count("\n") == 2  # a line per page
    assert (out / "cut.errors.log").read_text(encoding="utf-8").endswith("\n")
    assert not (out / "cut.md").exists()

    again = ocrgate_cli("ocr", str(folder), "--out", str(out), "-f", "md,txt,pdf")
    assert again.returncode == 2
    assert {row["status"] for row in summary(out).values()} == {"partial", "failed"}  # not skipped


def test_stdout_json_has_no_pictures_unless_asked(phototest: Path) -> None:
    plain = ocrgate_cli("ocr", str(phototest))
    assert plain.returncode == 0, plain.stderr[-3000:]
    response = json.loads(plain.stdout)
    assert "boxes_image" not in response and "source_markdown" not in response
    assert all("boxes_image" not in page for page in response["pages"])
    assert not re.search(r"[A-Za-z0-9+/=]{200}", plain.stdout)  # no base64 anywhere (raw output too)
    assert "quick brown" in response["markdown"]

    asked = json.loads(ocrgate_cli("ocr", str(phototest), "--boxes", "first", "--images").stdout)
    assert asked["pages"][0]["boxes_image"] and asked["boxes_image"] is None and "source_markdown" in asked


@pytest.mark.parametrize(("fmt", "header"), [("md", "<!-- file: {} -->"), ("txt", "==> {} <==")])
def test_several_files_on_stdout_each_say_where_they_start(
    phototest: Path, tmp_path: Path, fmt: str, header: str
) -> None:
    for name in ("a.png", "b.png"):
        shutil.copy(phototest, tmp_path / name)
    done = ocrgate_cli("ocr", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-f", fmt, "-b", "rapidocr")
    assert done.returncode == 0, done.stderr[-3000:]
    starts = [done.stdout.find(header.format(name)) for name in ("a.png", "b.png")]
    assert 0 == starts[0] < starts[1], done.stdout[:500]
    assert done.stdout.count("12 point text") == 2
    if fmt == "txt":  # as head writes: a blank line before each header but the first
        assert done.stdout.endswith(".\n") and "fox.\n\n==> b.png <==\n" in done.stdout
    alone = ocrgate_cli("ocr", str(tmp_path / "a.png"), "-f", fmt, "-b", "rapidocr")
    assert header.format("a.png") not in alone.stdout  # one file: its text alone


def test_bad_options_and_paths_fail_before_any_file_is_read(phototest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = ocrgate_cli("ocr", str(phototest), "--out", str(out), "--options", '{"text_score": 7}')
    assert bad.returncode == 2 and "text_score" in bad.stderr and not out.exists()
    not_json = ocrgate_cli("ocr", str(phototest), "--options", "{text_score: 0.5}")
    assert not_json.returncode == 2 and "JSON" in not_json.stderr
    missing = ocrgate_cli("ocr", str(tmp_path / "imgs"))
    assert missing.returncode == 2 and "imgs: no such file or folder" in missing.stderr
    several = ocrgate_cli("ocr", str(phototest), "-f", "md,alto")
    assert several.returncode == 2 and "--out" in several.stderr
    unknown = ocrgate_cli("ocr", str(phototest), "-f", "docx")
    assert unknown.returncode == 2 and "docx" in unknown.stderr
    # a comparison is refused before any file is read or any gateway called (none listens on port 9)
    for backends, via in (("rapidocr,tesseract", ()), ("all", ("--via", "http://127.0.0.1:9"))):
        compare = ocrgate_cli("ocr", str(phototest), "--out", str(out), "-b", backends, *via)
        assert compare.returncode == 2 and "reads with one backend" in compare.stderr, compare.stderr
        assert "Compare view" in compare.stderr and not out.exists()


def test_outputs_never_replace_an_input(tmp_path: Path, eval_dir: Path, phototest: Path) -> None:
    """`--out` the folder being read: the searchable PDF is `scan.ocr.pdf` beside `scan.pdf`, never over
    it; a later run does not take its own outputs for scans; an output that would land on a file named
    as an input (or on the input itself) is refused instead."""
    folder = tmp_path / "scans"
    folder.mkdir()
    original = (eval_dir / "docling_pdf" / "pages_pdf" / "multi_page_p1.pdf").read_bytes()  # a text layer
    (folder / "scan.pdf").write_bytes(original)
    args = ("ocr", str(folder), "--out", str(folder), "-f", "pdf,md")
    first = ocrgate_cli(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "1 file read" in first.stderr
    assert (folder / "scan.pdf").read_bytes() == original
    assert "Word Processor" in pdf_text(folder / "scan.ocr.pdf") and (folder / "scan.md").is_file()
    for again in (ocrgate_cli(*args), ocrgate_cli(*args, "--force")):
        assert again.returncode == 0, again.stderr[-3000:]
        assert set(summary(folder)) == {"scan.pdf"}  # scan.ocr.pdf is its output, not a second scan
    assert (folder / "scan.pdf").read_bytes() == original
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".ocrgate-outputs", "scan.md", "scan.ocr.pdf", "scan.pdf", "summary.csv"]

    # a PDF named as its output would be, not written by ocrgate (no record): named, it is an input
    other = tmp_path / "other"
    other.mkdir()
    (other / "scan.pdf").write_bytes(original)
    (other / "scan.ocr.pdf").write_bytes(original)
    named = ocrgate_cli(
        "ocr", str(other / "scan.pdf"), str(other / "scan.ocr.pdf"), "--out", str(other), "-f", "pdf,md"
    )
    assert named.returncode == 2
    assert "scan.pdf: its output would be written over" in named.stderr and "another --out" in named.stderr
    assert (other / "scan.ocr.pdf").read_bytes() == original and (other / "scan.ocr.md").is_file()
    row = summary(other)["scan.pdf"]  # refused: a failed row of the run's summary, with why
    assert row["status"] == "failed" and "would be written over" in row["error"]
    assert "1 failed" in named.stderr

    disguised = tmp_path / "notes.md"  # a PNG, whatever its name says: its md output would be itself
    disguised.write_bytes(phototest.read_bytes())
    refused = ocrgate_cli("ocr", str(disguised), "--out", str(tmp_path), "-f", "md")
    assert refused.returncode == 2 and "its output would be written over" in refused.stderr
    assert disguised.read_bytes() == phototest.read_bytes()
    assert summary(tmp_path)["notes.md"]["status"] == "failed" and "1 failed" in refused.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_keeps_the_rows_of_the_files_finished_before(
    eval_dir: Path, tmp_path: Path, jobs: str
) -> None:
    """SIGINT to a real `ocrgate ocr DIR --out OUT` once two files are written: exit 130, and summary.csv
    has a row for every file whose outputs are all there (pages, status, seconds), none for the others;
    the next run skips those with their page counts and reads the rest."""
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    pdfs = eval_dir / "docling_pdf" / "pages_pdf"
    images = eval_dir / "tesseract_test" / "images"
    for name, source in (  # two quick text-layer pages first (sorted order), then OCR of whole pages
        ("a.pdf", pdfs / "multi_page_p1.pdf"),
        ("b.pdf", pdfs / "multi_page_p2.pdf"),
        ("c.png", images / "phototest.png"),
        ("d.png", images / "eurotext.png"),
        ("e.png", images / "phototest.png"),
        ("f.png", images / "eurotext.png"),
    ):
        shutil.copy(source, folder / name)
    args = [sys.executable, "-m", "ocrgate", "ocr", str(folder), "--out", str(out), "-b", "tesseract"]
    process = subprocess.Popen(  # SIGINT handled as by default: a background shell's child ignores it
        [*args, "-j", jobs],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        while process.poll() is None and len(list(out.glob("*.md"))) < 2:
            time.sleep(0.1)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr[-3000:]
    assert "(interrupted)" in stderr and "Traceback" not in stderr

    finished = {p.stem for p in out.glob("*.md") if (out / f"{p.stem}.json").is_file()}
    rows = summary(out)
    assert {"a", "b"} <= finished < {"a", "b", "c", "d", "e", "f"}
    assert {Path(name).stem for name in rows} == finished
    for row in rows.values():
        assert (row["status"], row["pages"], row["error"]) == ("ok", "1", ""), row
    assert float(rows["a.pdf"]["seconds"]) > 0

    again = ocrgate_cli("ocr", str(folder), "--out", str(out), "-b", "tesseract")
    assert again.returncode == 0, again.stderr[-3000:]
    rows = summary(out)
    assert len(rows) == 6
    for name, row in rows.items():
        assert row["pages"] == "1", row
        assert row["status"] == ("skipped" if Path(name).stem in finished else "ok"), row
    assert f"{len(finished)} skipped (done before: {len(finished)} pages)" in again.stderr


def test_outputs_of_an_earlier_run_are_never_read_as_inputs(tmp_path: Path, eval_dir: Path) -> None:
    """`ocrgate ocr scans --out scans` writes every format beside the scans; `ocrgate ocr scans --out
    elsewhere` then reads the scans alone (the searchable PDF and the boxes picture are documents, the
    record says they are outputs), and so does a run given every file by name (a shell's `scans/*`)."""
    scans = tmp_path / "scans"
    (scans / "sub").mkdir(parents=True)
    page = eval_dir / "docling_pdf" / "pages_pdf"
    shutil.copy(page / "multi_page_p1.pdf", scans / "scan.pdf")
    shutil.copy(page / "multi_page_p2.pdf", scans / "sub" / "two.pdf")
    first = ocrgate_cli(
        "ocr", str(scans), "--out", str(scans), "-b", "tesseract", "-f", "pdf,md,json,alto,hocr,txt",
        "--boxes", "all",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    assert (scans / "scan.ocr.pdf").is_file() and (scans / "sub" / "two.boxes.svg").is_file()
    records = (scans / ".ocrgate-outputs").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in records] == [{"stem": "scan"}, {"stem": "sub/two"}]

    elsewhere = tmp_path / "elsewhere"
    second = ocrgate_cli("ocr", str(scans), "--out", str(elsewhere), "-b", "tesseract", "-f", "md")
    assert second.returncode == 0, second.stderr[-3000:]
    assert set(summary(elsewhere)) == {"scan.pdf", "two.pdf"}
    assert sorted(p.relative_to(elsewhere).as_posix() for p in elsewhere.rglob("*.md")) == [
        "scan.md",
        "sub/two.md",
    ]

    named = sorted(str(p) for p in scans.iterdir() if p.is_file() and not p.name.startswith("."))  # scans/*
    third = ocrgate_cli("ocr", *named, "--out", str(tmp_path / "third"), "-b", "tesseract", "-f", "md")
    assert third.returncode == 0, third.stderr[-3000:]
    assert set(summary(tmp_path / "third")) == {"scan.pdf"}
    assert f"and {len(named) - 4} more: written by an earlier ocrgate run" in third.stderr  # 3 named


def test_an_input_whose_outputs_would_clash_is_a_failed_row(tmp_path: Path, phototest: Path) -> None:
    """The same relative path in two folders read into one OUT: the second is refused, and the
    summary says so (a failed row, the run's exit code 2), as for any file that could not be read."""
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        shutil.copy(phototest, tmp_path / side / "page001.png")
    out = tmp_path / "out"
    done = ocrgate_cli("ocr", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out), "-f", "txt")
    assert done.returncode == 2, done.stderr[-2000:]
    with (out / "summary.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    second = rows[str(tmp_path / "b" / "page001.png")]
    assert second["status"] == "failed" and "would overwrite" in second["error"]
    assert rows[str(tmp_path / "a" / "page001.png")]["status"] == "ok"
    assert ", 1 failed;" in done.stderr
