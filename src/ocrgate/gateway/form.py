"""The body of an upload form read into its parts under the gateway's limits, every way it can be
broken answered with a typed error (`read_form`).

A multipart body goes through python-multipart's parser (the one Starlette's `request.form()` runs)
with callbacks that keep each part's bytes in memory, where the gateway holds the upload anyway (the
file parts together are at most `limits.max_upload_bytes`). Starlette's own form reader spools each
file part to a temporary file and wraps it for async reads: 94 against 33 us per small-page form in a
tight loop, and about 8 % of the gateway's CPU per small page in the running server (two builds side
by side, `bench/side_by_side.py`).

Its rules: a text field over `limits.max_field_bytes` is a 413 `field_too_large`; the file parts
together over `limits.max_upload_bytes` a 413 `file_too_large`, as soon as they pass it; more `file`
parts than the route takes a 422 `invalid_request` ("one file per request"; a job takes up to
`uploads.MAX_SET_FILES`), as more than `MAX_FORM_FIELDS` text fields; a part without a name, a body
without a boundary, not in its layout or cut before its last boundary, a 400 `bad_input` ("malformed
multipart form"); a body that stops coming is the middleware's 408 (`gateway.middleware`). A part
that names its file only by RFC 5987's `filename*=UTF-8''...` is a file all the same (RFC 7578 forbids
that form, python-multipart ignores it, clients still send it), and the `%22`, `%0D`, `%0A` with which
browsers escape quotes and line breaks in `filename="..."` (the WHATWG HTML form encoding) are decoded;
a name's folders (`C:\\scans\\a.png`, `../a.png`) are left out, as RFC 7578 (4.2) asks.
"""

from __future__ import annotations

import email.message
import email.utils
import logging
import re
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

from ocrgate.config import Limits
from ocrgate.errors import FieldTooLarge, FileTooLarge, InputError, InvalidRequest

MAX_FORM_FIELDS = 32
# a malformed body is answered 400 here; python-multipart's own warning for each one would let any
# client fill the gateway's log
logging.getLogger("python_multipart.multipart").setLevel(logging.ERROR)
#: how browsers escape a file name inside `filename="..."` (WHATWG HTML, multipart/form-data encoding)
BROWSER_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n"}
#: a Content-Disposition whose file name `file_name` reads otherwise than python-multipart: RFC 5987's
#: `filename*`, a `%` escape, a backslash (python-multipart keeps only what follows the last one of a
#: name that looks like a Windows path); the others' names are python-multipart's reading, made
#: already, which spares the e-mail header parser of `file_name` (3-4 % of the gateway's CPU for the
#: small page, py-spy)
_ESCAPED = re.compile(rb"filename\*|%|\\", re.IGNORECASE)
#: a file name that `pathlib` would shorten: a folder (`/`, `\\`) or a drive (`C:`); others are kept as
#: they are without building two paths (1 % of the gateway's CPU for the small page, py-spy)
_PATH_LIKE = re.compile(r"[/\\:]")
#: a Content-Disposition as browsers, curl and HTTP libraries write nearly every part's: a field name
#: and maybe a file name, quoted, with nothing in them to unescape. Both are read from it as they
#: are, which is what python-multipart's parser reads from it too, at a third of the form's cost
_PLAIN_DISPOSITION = re.compile(rb'form-data; name="([^"\\%]+)"(?:; filename="([^"\\%]*)")?')


@dataclass(frozen=True)
class FilePart:
    """A file part of the form: the file name it gave (decoded; "" for an empty one) and its bytes."""

    filename: str
    data: bytes


#: the form's parts in the order sent: (field name, its text or the file part)
Form = list[tuple[str, "str | FilePart"]]


def file_name(disposition: bytes) -> str | None:
    """The file name a part's Content-Disposition gives, decoded: RFC 5987's `filename*` when there is
    one (RFC 6266 prefers it), else `filename` with the browsers' `%22`/`%0D`/`%0A` escapes undone."""
    if b"filename" not in disposition.lower():  # a form field, not a file: nothing to parse
        return None
    message = email.message.Message()
    try:
        message["content-disposition"] = _text(disposition)
        params = message.get_params(header="content-disposition") or []
    except Exception:  # whatever the header holds, the name is just not known
        return None
    plain = extended = None
    for key, value in params[1:]:
        if key.lower() != "filename":
            continue
        if isinstance(value, tuple):
            extended = email.utils.collapse_rfc2231_value(value)
        else:
            plain = value
    if extended:  # an empty one is no name: `filename` is (RFC 6266, 4.3)
        return extended
    if plain is None:
        return None
    for escape, char in BROWSER_ESCAPES.items():
        plain = plain.replace(escape, char).replace(escape.lower(), char)
    return plain


def bare_file_name(name: str) -> str:
    """The file's own name in what a client sent as its name: its folders and drive left out (RFC 7578,
    4.2: `C:\\scans\\a.png`, `../a.png` -> `a.png`); "" for a name that is only a step (`.`, `..`)."""
    if _PATH_LIKE.search(name):
        name = PureWindowsPath(PurePosixPath(name).name).name
    return "" if name in (".", "..") else name


def part_names(disposition: bytes) -> tuple[str, str | None]:
    """A part's field name and file name (None for a text field) from its Content-Disposition;
    InputError when it names no field. The plain form (`_PLAIN_DISPOSITION`) is read by a pattern,
    others by python-multipart's header parser, file names with escapes by `file_name`."""
    plain = _PLAIN_DISPOSITION.fullmatch(disposition)
    if plain is not None:
        return _text(plain[1]), None if plain[2] is None else _text(plain[2])
    return parsed_part_names(disposition)


def parsed_part_names(disposition: bytes) -> tuple[str, str | None]:
    """`part_names` read by the parsers alone, whatever the form of the Content-Disposition."""
    options = parse_options_header(disposition)[1]
    if not options.get(b"name"):
        raise InputError("malformed multipart form: a part without a name in its Content-Disposition")
    if _ESCAPED.search(disposition):
        return _text(options[b"name"]), file_name(disposition)
    found = options.get(b"filename")
    return _text(options[b"name"]), None if found is None else _text(found)


def _text(value: bytes) -> str:
    """Header or field bytes as text: UTF-8 (what browsers send), else Latin-1 (never fails)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class _Parts:
    """python-multipart's callbacks: each part's headers and bytes gathered into `form`, the limits
    checked as the bytes come."""

    def __init__(self, limits: Limits, file_parts: int) -> None:
        self.limits = limits
        self.file_parts = file_parts
        self.form: Form = []
        self.files = self.documents = self.fields = self.file_bytes = 0
        self._field = self._value = self._disposition = b""
        self._name = ""
        self._filename: str | None = None
        self._data: list[bytes] = []
        self._size = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self._disposition, self._data, self._size = b"", [], 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition = self._value
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        self._name, self._filename = part_names(self._disposition)
        if self._filename is not None:
            self._filename = bare_file_name(self._filename)
        if self._filename is None:
            self.fields += 1
            if self.fields > MAX_FORM_FIELDS:
                raise InvalidRequest(
                    f"the form has more than {MAX_FORM_FIELDS} text fields; it takes `file` and a few "
                    "fields (see POST /v1/ocr in the API), engine options in `options`"
                )
            return
        self.files += 1
        self.documents += self._name == "file"
        if self.documents > self.file_parts:
            if self.file_parts == 1:
                raise InvalidRequest("one file per request: the form has more than one `file` part")
            raise InvalidRequest(f"at most {self.file_parts} `file` parts make one set of pages")
        if self.files > self.file_parts + 1:  # one more: `uploads.check_fields` names a stray file part
            raise InputError(f"malformed multipart form: more than {self.file_parts + 1} file parts")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._filename is None:
            if self._size > self.limits.max_field_bytes:
                limit = self.limits.max_field_bytes
                raise FieldTooLarge(f"the form field {self._name!r} is over the limit of {limit:,} bytes")
        else:
            self.file_bytes += end - start
            if self.file_bytes > self.limits.max_upload_bytes:
                raise FileTooLarge(f"the upload is over the limit of {self.limits.max_upload_bytes:,} bytes")
        self._data.append(data[start:end])

    def on_part_end(self) -> None:
        data = b"".join(self._data)
        value = _text(data) if self._filename is None else FilePart(self._filename, data)
        self.form.append((self._name, value))


async def read_form(request: Request, limits: Limits, file_parts: int = 1) -> Form:
    """The request's form: multipart (at most `file_parts` parts named `file`), URL-encoded (text
    fields only), or empty for a body without a Content-Type; the typed errors of the module for what
    it breaks, and InputError for a body of another type (`multipart/mixed`, `text/plain`, ...),
    which names it."""
    content_type = request.headers.get("content-type", "")
    media, options = parse_options_header(content_type)
    if media == b"application/x-www-form-urlencoded":  # no file: fields to check
        try:
            form = await request.form(
                max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=limits.max_field_bytes
            )
        except MultiPartException as exc:
            raise InputError(f"malformed form: {exc.message}") from exc
        return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    if not media:
        return []
    if media != b"multipart/form-data":
        shown = _text(media)[:80]
        raise InputError(
            f"the body is `{shown}`, not a form: send the file in a `multipart/form-data` body, "
            "its field `file` (POST /v1/ocr also takes JSON, see its documentation)"
        )
    if not options.get(b"boundary"):
        raise InputError("malformed multipart form: its Content-Type names no boundary")
    parts = _Parts(limits, file_parts)
    parser = MultipartParser(options[b"boundary"], parts.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise InputError(
            f"malformed multipart form: the body does not follow the multipart layout with the boundary "
            f"its Content-Type names (python-multipart: {exc})"
        ) from exc
    except ClientDisconnect as exc:
        raise InputError("the client went away before the form was sent") from exc
    if parser.state != MultipartState.END:
        raise InputError("malformed multipart form: the body ends before its closing boundary")
    return parts.form
