"""Engine `api`: MinerU's own HTTP server (`mineru-api`, MinerU 4.0.12's V1 API).

The routes used (`mineru/parser/task_api.py` in the mineru wheel):
- `POST /v1/tasks` -> 202 and a task: the original file as multipart field `files`, options in the
  query string (`tier`, `ocr_mode`, `page_range`, `output_formats` repeated). MinerU reads the type
  from the file name's extension.
- `POST /v1/file_parse` (same request, plus `wait_timeout`): waits for the result; 200 with the
  result, or 202 with the task when it is not done within `wait_timeout`.
- `GET /v1/tasks/{id}`: `status` queued | running | completed | partial | failed | canceled and
  `progress` {completed, failed, total} counted in files (one file per task here).
- `GET /v1/tasks/{id}/result`: 200 with `files[].content` {output format: value}, 202 while running,
  409 once failed or cancelled.
- `DELETE /v1/tasks/{id}`: cancels a queued or running task (409 once it has ended; finished tasks
  expire on the server after its retention time).
Errors come as `{"error": {"type", "code", "message", "param"}}`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocrgate.errors import (
    BackendError,
    BackendUnavailable,
    Busy,
    FileTooLarge,
    InvalidOption,
    OCRGateError,
    Timeout,
)

TERMINAL = frozenset({"completed", "partial", "failed", "canceled"})
OPTION_PARAMS = frozenset({"tier", "ocr_mode", "page_range"})


class _Model(BaseModel):
    # MinerU adds fields over versions; we read what we need (the contract test pins the names)
    model_config = ConfigDict(extra="ignore")


class ErrorDetail(_Model):
    type: str = "api_error"
    code: str | None = None
    message: str = ""
    param: str | None = None


class ErrorResponse(_Model):
    error: ErrorDetail


class TaskProgress(_Model):
    completed: int = 0
    failed: int = 0
    total: int = 0


class TaskFile(_Model):
    name: str = ""
    page_range: str = ""
    status: str = "queued"
    error: ErrorDetail | None = None
    content: dict[str, Any] = Field(default_factory=dict, description="result only: output format -> value")


class Task(_Model):
    """A task as `POST /v1/tasks`, `GET /v1/tasks/{id}` and `GET .../result` show it."""

    task_id: str
    status: str
    tier: str | None = None
    progress: TaskProgress | None = None
    files: list[TaskFile] = Field(default_factory=list)


class ApiSettings(BaseModel):
    url: str
    api_key: str | None = None
    timeout_s: float = Field(default=3600.0, gt=0, description="a whole document, queue included")
    request_timeout_s: float = Field(default=120.0, gt=0, description="one HTTP request")
    poll_interval_s: float = Field(default=1.0, gt=0)
    sync_wait_s: int = Field(default=60, ge=1, le=3600, description="file_parse's wait_timeout")


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def api_error(response: httpx.Response, url: str) -> OCRGateError:
    """The typed error for a refusal from mineru-api, with MinerU's own words."""
    try:
        detail = ErrorResponse.model_validate_json(response.content).error
    except ValidationError:
        detail = ErrorDetail(message=response.text[:300] or response.reason_phrase)
    status = response.status_code
    said = f"mineru-api ({url}) answered HTTP {status}" + (f" {detail.code}" if detail.code else "")
    said += f": {detail.message}"
    if status == 400 and (
        detail.param in OPTION_PARAMS
        or detail.code == "page_range_invalid"
        or detail.message.startswith("Tier ")
    ):
        return InvalidOption(said)
    if status == 413:
        return FileTooLarge(said)
    if status == 429:
        return Busy(said)
    if status == 503:
        return BackendUnavailable(said)
    return BackendError(said)


class MinerUApiClient:
    """Submit one file, follow its task to the end, return the result's files."""

    def __init__(self, settings: ApiSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.url = settings.url.rstrip("/")
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self.http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(settings.request_timeout_s, connect=10.0),
            trust_env=not _is_local(self.url),
            transport=transport,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise Timeout(f"mineru-api ({self.url}) did not answer {method} {path} in time: {exc}") from exc
        except httpx.TransportError as exc:
            raise BackendUnavailable(
                f"mineru-api is not reachable at {self.url} ({type(exc).__name__}: {exc}); "
                "is the server running (see [backends.mineru.server])?"
            ) from exc

    def health(self, timeout: float = 5.0) -> dict[str, Any]:
        response = self._call("GET", "/v1/health", timeout=timeout)
        if response.status_code != 200:
            raise api_error(response, self.url)
        return dict(response.json())

    def wait_ready(self, timeout_s: float) -> dict[str, Any]:
        """`GET /v1/health` until it answers 200 (the server may still be loading its models)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.health()
            except OCRGateError:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))

    def _task(self, response: httpx.Response, accepted: tuple[int, ...]) -> Task:
        if response.status_code not in accepted:
            raise api_error(response, self.url)
        try:
            return Task.model_validate_json(response.content)
        except ValidationError as exc:
            raise BackendError(f"mineru-api ({self.url}) sent an unreadable task: {exc}") from exc

    def parse(
        self,
        data: bytes,
        filename: str,
        media_type: str,
        query: list[tuple[str, str]],
        *,
        sync: bool = False,
    ) -> TaskFile:
        """The finished file of a new task for `data`; typed errors for every way it can fail."""
        deadline = time.monotonic() + self.settings.timeout_s
        files = {"files": (filename, data, media_type)}
        if sync:
            wait = min(self.settings.sync_wait_s, max(1, int(self.settings.timeout_s)))
            params = [*query, ("wait_timeout", str(wait))]
            timeout = httpx.Timeout(self.settings.request_timeout_s + wait, connect=10.0)
            response = self._call("POST", "/v1/file_parse", params=params, files=files, timeout=timeout)
            task = self._task(response, (200, 202, 409))
            if response.status_code != 202:  # done in time: the result, or (409) how it failed
                return self._finished(task)
        else:
            task = self._task(self._call("POST", "/v1/tasks", params=query, files=files), (202,))
        try:
            while task.status not in TERMINAL:
                if time.monotonic() >= deadline:
                    raise Timeout(
                        f"mineru-api task {task.task_id} did not finish within {self.settings.timeout_s:g} s"
                    )
                time.sleep(self.settings.poll_interval_s)
                task = self._task(self._call("GET", f"/v1/tasks/{task.task_id}"), (200,))
        except BaseException:
            self.cancel(task.task_id)
            raise
        response = self._call("GET", f"/v1/tasks/{task.task_id}/result")
        return self._finished(self._task(response, (200, 409)))

    def _finished(self, task: Task) -> TaskFile:
        if not task.files:
            raise BackendError(f"mineru-api task {task.task_id} ({task.status}) has no file")
        file = task.files[0]
        if task.status in ("completed", "partial") and file.status == "completed":
            return file
        if task.status == "canceled":
            raise BackendError(f"mineru-api task {task.task_id} was cancelled")
        error = file.error or ErrorDetail(message=f"task ended as {task.status}")
        message = f"mineru-api could not parse the file ({error.code or error.type}): {error.message}"
        if error.code == "page_range_invalid" or error.param in OPTION_PARAMS:
            raise InvalidOption(message)
        raise BackendError(message)

    def cancel(self, task_id: str) -> None:
        """Best effort: a task we gave up on should not keep the GPU busy."""
        with contextlib.suppress(httpx.HTTPError):
            self.http.delete(f"/v1/tasks/{task_id}", timeout=5.0)

    def close(self) -> None:
        self.http.close()


def query_params(options: Mapping[str, Any], output_formats: list[str]) -> list[tuple[str, str]]:
    """The query string of a parse request: set options only, `output_formats` repeated."""
    params = [(key, str(value)) for key, value in options.items() if value not in (None, "")]
    return params + [("output_formats", fmt) for fmt in output_formats]
