"""Translate the domain's exceptions to HTTP responses, once, at the boundary."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from infrasight.core.errors import (
    AuthenticationError,
    ConflictError,
    InfraSightError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueueFullError,
    UnsupportedMediaTypeError,
)

__all__ = ["install_error_handlers"]

_STATUS: list[tuple[type[InfraSightError], int]] = [
    (PayloadTooLargeError, 413),
    (UnsupportedMediaTypeError, 415),
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (QueueFullError, 429),
]


def _status_of(error: InfraSightError) -> int:
    for error_type, status in _STATUS:
        if isinstance(error, error_type):
            return status
    return 500


async def _handle(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InfraSightError)
    status = _status_of(error)
    body: dict[str, object] = {"detail": str(error)}
    if isinstance(error, InvalidInputError) and error.field:
        body["field"] = error.field
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, QueueFullError):
        headers = {"Retry-After": str(error.retry_after_s)}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the translation on ``app``."""
    app.add_exception_handler(InfraSightError, _handle)
