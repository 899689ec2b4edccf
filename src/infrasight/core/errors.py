"""A small exception hierarchy that tells the caller what to do.

Library and service code raise these; the HTTP layer translates each class to one status code
and the CLI to exit code 2 (bad input) or 1 (other failures), once, at the boundary.
"""

from __future__ import annotations

from infrasight.core.phrases import Phrase

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "InfraSightError",
    "InvalidInputError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "QueueFullError",
    "UnsupportedMediaTypeError",
]


class InfraSightError(Exception):
    """Base class of every error InfraSight raises on purpose."""


class InvalidInputError(InfraSightError, ValueError):
    """The caller sent something wrong; ``field`` names where, the message says what.

    Fix the input and send it again; nothing was written. ``phrase`` (optional) is the message
    as a message key and parameters (``core.phrases``), so the adapters can say it in the
    reader's language; ``message`` is its English.
    """

    def __init__(
        self, message: str = "", *, field: str | None = None, phrase: Phrase | None = None
    ) -> None:
        if not message and phrase is not None:
            message = phrase.english()
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message
        self.phrase = phrase


class NotFoundError(InfraSightError, LookupError):
    """The named object does not exist, or belongs to another organisation."""


class ConflictError(InfraSightError):
    """The request clashes with the current state (a duplicate name, dependent data)."""


class AuthenticationError(InfraSightError):
    """The bearer token is missing, malformed, unknown or revoked."""


class PermissionDeniedError(InfraSightError):
    """The caller is known but its role does not allow the action."""


class PayloadTooLargeError(InvalidInputError):
    """The request is larger than a configured limit (batch size, body size, image pixels)."""


class UnsupportedMediaTypeError(InvalidInputError):
    """The request body has a content type the endpoint does not accept."""


class QueueFullError(InfraSightError):
    """Too much work of the organisation is already waiting; retry after ``retry_after_s``."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
