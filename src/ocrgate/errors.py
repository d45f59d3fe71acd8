"""Typed errors: each carries a stable code, an HTTP status and a message fit for a person."""

from __future__ import annotations

from ocrgate.schema import ErrorInfo


class OCRGateError(Exception):
    code = "error"
    status = 500

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


class InvalidOption(InputError):
    code = "invalid_option"
    status = 422


class UnknownBackend(InputError):
    code = "unknown_backend"
    status = 404


class BackendUnavailable(OCRGateError):
    code = "backend_unavailable"
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


class Unauthorized(OCRGateError):
    code = "unauthorized"
    status = 401


class StorageError(OCRGateError):
    code = "storage_error"
    status = 507


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
        InvalidOption,
        UnknownBackend,
        BackendUnavailable,
        BackendError,
        Busy,
        Timeout,
        NotFound,
        Unauthorized,
        StorageError,
    )
}


def error_from_info(info: ErrorInfo) -> OCRGateError:
    """Rebuild a typed error from its wire form (worker -> gateway, gateway -> client)."""
    return ERRORS_BY_CODE.get(info.code, OCRGateError)(info.message)
