"""A form part's names read from its Content-Disposition: the pattern for the plain form reads what
python-multipart's parser (and `file_name`) read from it, for every field and file name built here."""

from __future__ import annotations

import itertools

import pytest

from ocrgate.errors import InputError
from ocrgate.gateway.form import _PLAIN_DISPOSITION, parsed_part_names, part_names
from ocrgate.gateway.formatting import content_disposition, download_name

# what may sit in a name, the characters the pattern refuses (", \, %) among them: those take the
# parsers' way, which the answers below must still agree with
PIECES = ["a", "x.png", " ", ";", "=", "'", "*", "/", ":", "C:", "é", "€", "\t", '"', "\\", "%22", "%", ""]


def dispositions() -> list[bytes]:
    values = ["".join(p) for n in (1, 2) for p in itertools.product(PIECES, repeat=n)]
    built = []
    for name in values:
        built.append(f'form-data; name="{name}"')
        built.append(f'form-data; name="{name}"; filename="{name}"')
        built.append(f'form-data; name="file"; filename="{name}"')
    return [text.encode() for text in built]


def test_the_plain_form_reads_as_the_parsers_read_it() -> None:
    plain = 0
    for disposition in dispositions():
        if _PLAIN_DISPOSITION.fullmatch(disposition) is None:
            continue
        plain += 1
        assert part_names(disposition) == parsed_part_names(disposition), disposition
    assert plain > 500  # the pattern took most of them


def test_the_other_forms_take_the_parsers_way() -> None:
    assert part_names(b'form-data; name="file"; filename="C:\\\\a.png"') == ("file", "C:\\a.png")
    assert part_names(b"form-data; name=file; filename=b.png") == ("file", "b.png")  # unquoted
    assert part_names(b'form-data; name="f"; filename="r%22.png"') == ("f", 'r".png')
    assert part_names(b"form-data; name=\"f\"; filename*=UTF-8''%E2%82%AC.png") == ("f", "€.png")
    assert part_names(b'Form-Data; Name="f"') == ("f", None)
    with pytest.raises(InputError, match="without a name"):
        part_names(b'form-data; name=""')
    with pytest.raises(InputError, match="without a name"):
        part_names(b"form-data")


@pytest.mark.parametrize(
    ("stored", "saved"),
    [
        ("scan.png", "scan.tesseract.hocr"),
        ("C:\\scans\\scan.png", "scan.tesseract.hocr"),  # a job stored before names came in bare
        ("../../scan.png", "scan.tesseract.hocr"),
        ("..", "ocr.tesseract.hocr"),  # a name that is only a step is no name
        (".hidden", "hidden.tesseract.hocr"),  # not a hidden file
        (".png", "png.tesseract.hocr"),
        ("...", "ocr.tesseract.hocr"),
        ("a\x07b.tar.gz", "ab.tar.tesseract.hocr"),  # control characters left out
        ("scan.png + 3 more", "scan+3.tesseract.hocr"),  # a set of files
        (None, "ocr.tesseract.hocr"),
    ],
)
def test_a_download_is_named_after_the_file_alone(stored: str | None, saved: str) -> None:
    assert download_name(stored, ".hocr", "tesseract") == saved


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("rapport été.md", "rapport ete.md"),  # accents dropped, the letters kept
        ("Ångström ﬁle.md", "Angstrom file.md"),  # compatibility forms too (NFKD)
        ("報告.md", "__.md"),  # no ASCII form
        ('a"b%c.md', "a_b_c.md"),
    ],
)
def test_a_download_name_has_a_readable_ascii_fallback(name: str, fallback: str) -> None:
    header = content_disposition(name)
    assert f'filename="{fallback}"' in header and "filename*=UTF-8''" in header
