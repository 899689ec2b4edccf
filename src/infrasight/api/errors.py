"""Translate errors to HTTP responses, once, at the boundary.

Every 4xx answer has one shape, :class:`ErrorBody` (``{"detail": str, "field": str | null}``):
the domain's own exceptions, FastAPI's request validation (path, query, form and body), unknown
routes (404) and wrong methods (405, with an ``Allow`` header listing every method of the path).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

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
from infrasight.locales.errors import error_message, error_translator, localise_message
from infrasight.services.user_locale import accepted_locale
from infrasight.storage.blobs import BlobStoreUnavailableError

__all__ = ["ErrorBody", "error_response", "install_error_handlers", "validation_field"]

_LOGGER = logging.getLogger(__name__)

_TYPE_TAG = re.compile(
    r"^(bool|int|float|str|bytes|dict|list|none|datetime|date|time|decimal|uuid|enum)$|[-\[(]"
)

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


class ErrorBody(BaseModel):
    """The body of every 4xx answer."""

    detail: str = Field(description="What is wrong, in words")
    field: str | None = Field(
        default=None,
        description="Where: a parameter, a body field (e.g. readings[3].value) or a header",
    )


def error_response(
    status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON answer of the one error shape."""
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse({"detail": detail, "field": field}, status_code=status, headers=headers)


def _status_of(error: InfraSightError) -> int:
    for error_type, status in _STATUS:
        if isinstance(error, error_type):
            return status
    return 500


def _locale(request: Request) -> str | None:
    """The caller's language: the route's locale (``LocaleDep``) or else ``Accept-Language``;
    None (English) otherwise."""
    return getattr(request.state, "locale", None) or accepted_locale(
        request.headers.get("accept-language", "")
    )


def _said(request: Request, error: InfraSightError) -> str:
    """The error in the caller's language (:func:`infrasight.locales.errors.error_message`):
    its phrase, else its message's template from the ``errors`` catalogue; English otherwise."""
    return error_message(error, _locale(request))


def _say(request: Request, message: str) -> str:
    """A message the handlers write themselves, in the caller's language."""
    locale = _locale(request)
    return message if locale is None else localise_message(message, error_translator(locale))


async def _handle_domain(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InfraSightError)
    status = _status_of(error)
    field = error.field if isinstance(error, InvalidInputError) else None
    headers = None
    if isinstance(error, QueueFullError):
        headers = {"Retry-After": str(error.retry_after_s)}
    return error_response(status, _said(request, error), field, headers)


def validation_field(location: Sequence[Any]) -> str | None:
    """``("body", "readings", 3, "value")`` -> ``"readings[3].value"``; the source is dropped."""
    parts = list(location)
    if parts and parts[0] in ("path", "query", "header", "cookie", "body"):
        parts = parts[1:]
    # pydantic names the member of a union that failed (``is_active.bool``): not a field
    parts = [
        p for i, p in enumerate(parts) if i == 0 or not (isinstance(p, str) and _TYPE_TAG.search(p))
    ]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or None


async def _handle_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    if not problems:  # pragma: no cover - FastAPI always lists at least one
        return error_response(422, "invalid request")
    first = problems[0]
    location = first.get("loc", ())
    cause = (first.get("ctx") or {}).get("error")
    # a model-level check that names its field (InvalidInputError) reports that field
    if isinstance(cause, InvalidInputError) and cause.field:
        location = (*location, *cause.field.split("."))
    field = validation_field(location)
    message = str(first.get("msg", "invalid value"))
    if isinstance(cause, InvalidInputError):
        message = cause.detail
    if first.get("type") == "missing" and field is None and location[:1] == ("body",):
        message = "a request body is required"
    elif field is not None:
        message = f"{field}: {message}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return error_response(422, _say(request, message), field)


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route whose path matches the request's (routes of one path are
    registered one per method, so Starlette's own 405 names only the first)."""
    path = request.url.path
    methods: set[str] = set()
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    if path in paths:  # a literal path (``/users/me``) is its own resource
        methods |= {method.upper() for method in paths[path]}
    else:
        for template, operations in paths.items():
            if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path):
                methods |= {method.upper() for method in operations}
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if isinstance(route_methods, set) and getattr(route, "path", None) == path:
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _handle_http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
        detail = f"method {request.method} is not allowed here; allowed: {headers['Allow']}"
    elif error.status_code == 404 and error.detail == "Not Found":
        detail = f"no such endpoint: {request.url.path}"
    elif error.status_code == 400:
        # FastAPI's "error parsing the body" (not JSON, or not a form): bad input, like the rest.
        return error_response(422, _say(request, f"body: {error.detail}"), "body")
    else:
        detail = str(error.detail)
    return error_response(error.status_code, _say(request, detail), None, headers)


async def _handle_out_of_range(request: Request, error: Exception) -> JSONResponse:
    """A number the database cannot hold (e.g. an id beyond 64 bits) is bad input, not a 500."""
    _LOGGER.info("out-of-range number rejected: %s", error)
    return error_response(
        422, _say(request, "a number is out of range (ids and offsets are 64-bit integers)")
    )


async def _handle_busy(request: Request, error: Exception) -> JSONResponse:
    """No database connection came free in time: the server is overloaded, not broken."""
    _LOGGER.warning("database connection pool exhausted: %s", error)
    return JSONResponse(
        {"detail": _say(request, "the server is busy; retry shortly"), "field": None},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _handle_blob_store_down(request: Request, error: Exception) -> JSONResponse:
    """The object store is down or unreachable: nothing was stored; the client may retry."""
    _LOGGER.error("blob store unavailable: %s", error)
    return JSONResponse(
        {
            "detail": _say(
                request, "the blob store (images and files) is unreachable; retry shortly"
            ),
            "field": None,
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _handle_disconnect(request: Request, _error: Exception) -> JSONResponse:
    """The client went away while sending its body: nothing was stored, nobody to answer."""
    _LOGGER.info("client disconnected during %s %s", request.method, request.url.path)
    return error_response(
        400, _say(request, "the client disconnected before the body was complete"), "body"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the translations on ``app``."""
    app.add_exception_handler(InfraSightError, _handle_domain)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(OverflowError, _handle_out_of_range)
    app.add_exception_handler(DataError, _handle_out_of_range)
    app.add_exception_handler(PoolTimeoutError, _handle_busy)
    app.add_exception_handler(BlobStoreUnavailableError, _handle_blob_store_down)
    app.add_exception_handler(ClientDisconnect, _handle_disconnect)
