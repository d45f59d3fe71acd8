"""The error answers every route documents in OpenAPI."""

from __future__ import annotations

from typing import Any

from ocrgate.schema import ErrorResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 415, 422, 429, 502, 503, 504, 507)
}
