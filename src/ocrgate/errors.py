"""Typed errors: each carries a stable code, an HTTP status and a message fit for a person."""

from __future__ import annotations

from ocrgate.schema import ErrorInfo


class OCRGateError(Exception):
    code = "error"
    status = 500
    #: the gateway's id of the request that failed (`X-Request-ID`), where the client got one
    request_id: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def info(self) -> ErrorInfo:
        return ErrorInfo(code=self.code, message=self.message)


class InputError(OCRGateError):
    """Something is wrong with what the client sent."""

    code = "bad_input"
    status = 400


class UnsupportedType(InputError):
    code = "unsupported_type"
    status = 415


class CorruptFile(InputError):
    code = "corrupt_file"
    status = 422


class PageUnreadable(CorruptFile):
    """One page of a document cannot be loaded or rendered; the document's other pages can.

    `index` is the page's index from 0 (None when rebuilt from its wire form). A subclass of
    CorruptFile, so code that does not yet handle pages one by one still refuses the request.
    """

    code = "page_unreadable"
    status = 422

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class EncryptedPDF(InputError):
    code = "encrypted_pdf"
    status = 422


class EmptyDocument(InputError):
    code = "empty_document"
    status = 422


class FileTooLarge(InputError):
    code = "file_too_large"
    status = 413


class ImageTooLarge(InputError):
    code = "image_too_large"
    status = 413


class TooManyPages(InputError):
    code = "too_many_pages"
    status = 413


class FieldTooLarge(InputError):
    """A form field other than the file is over `limits.max_field_bytes`."""

    code = "field_too_large"
    status = 413


class BodyTimeout(InputError):
    """The client stopped sending the request's body (`limits.body_idle_timeout_s` without a byte), or
    sent it too slowly (`limits.body_min_rate_bytes_s`)."""

    code = "request_timeout"
    status = 408


class InvalidOption(InputError):
    code = "invalid_option"
    status = 422


class UnknownBackend(InputError):
    code = "unknown_backend"
    status = 404


class InvalidRequest(InputError):
    """A request that does not fit its form: a field of the wrong type, a second file, a JSON body
    ocrgate cannot act on."""

    code = "invalid_request"
    status = 422


class URLNotAllowed(InputError):
    """A document URL outside the gateway's allow-list (`[gateway] fetch_url_prefixes`)."""

    code = "url_not_allowed"
    status = 403


class FetchFailed(InputError):
    """A document URL that could not be fetched: unreachable, not 2xx, or too slow."""

    code = "fetch_failed"
    status = 422


class BackendUnavailable(OCRGateError):
    code = "backend_unavailable"
    status = 503


class ShuttingDown(OCRGateError):
    """The gateway is stopping: a request that came after the stop began, or one still running when
    the stop's grace period (`[gateway] shutdown_grace_s`) ended. Worth retrying once it is back."""

    code = "shutting_down"
    status = 503


class BackendError(OCRGateError):
    code = "backend_error"
    status = 502


class Busy(OCRGateError):
    code = "busy"
    status = 429

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Timeout(OCRGateError):
    code = "timeout"
    status = 504


class NotFound(OCRGateError):
    code = "not_found"
    status = 404


class NotReady(OCRGateError):
    """What was asked for exists but is not finished yet (a running job's result as a file)."""

    code = "not_ready"
    status = 409


class Unauthorized(OCRGateError):
    code = "unauthorized"
    status = 401


class StorageError(OCRGateError):
    code = "storage_error"
    status = 507


class InternalError(OCRGateError):
    """A bug on our side, reported without its trace (the log has it)."""

    code = "internal_error"
    status = 500


ERRORS_BY_CODE: dict[str, type[OCRGateError]] = {
    cls.code: cls
    for cls in (
        InputError,
        UnsupportedType,
        CorruptFile,
        PageUnreadable,
        EncryptedPDF,
        EmptyDocument,
        FileTooLarge,
        ImageTooLarge,
        TooManyPages,
        FieldTooLarge,
        InvalidOption,
        InvalidRequest,
        UnknownBackend,
        URLNotAllowed,
        FetchFailed,
        BackendUnavailable,
        ShuttingDown,
        BackendError,
        Busy,
        Timeout,
        NotFound,
        NotReady,
        Unauthorized,
        StorageError,
        InternalError,
    )
}


def error_from_info(info: ErrorInfo) -> OCRGateError:
    """Rebuild a typed error from its wire form (worker -> gateway, gateway -> client)."""
    return ERRORS_BY_CODE.get(info.code, OCRGateError)(info.message)
