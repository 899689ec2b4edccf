"""Request dependencies as ``Annotated`` aliases: the platform, a session, the caller.

A caller authenticates with ``Authorization: Bearer <token>`` (API, device or session token) or
with the session cookie that ``POST /auth/login`` sets for same-origin web pages. A bad token
counts as a failure of the client address; too many failures answer HTTP 429 with
``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from infrasight.core.errors import AuthenticationError, PermissionDeniedError
from infrasight.platform import Platform
from infrasight.services.auth import Principal, resolve_token
from infrasight.services.throttle import FailureLimiter, TooManyAttemptsError
from infrasight.services.user_locale import accepted_locale, locale_of

__all__ = [
    "SESSION_COOKIE",
    "CallerDep",
    "LimiterDep",
    "LocaleDep",
    "PlatformDep",
    "SessionDep",
    "authenticate_request",
    "authenticate_token",
    "bearer_token",
    "client_address",
    "parse_bearer",
    "presented_token",
    "too_many_attempts",
]

SESSION_COOKIE = "infrasight_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_platform(request: Request) -> Platform:
    """The platform the app was created with (``async``: no thread-pool hop for it)."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_session(platform: PlatformDep) -> Iterator[Session]:
    """A session per request; routes commit what they change."""
    with platform.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def app_limiter(request: Request) -> FailureLimiter:
    """The application's limiter of failed authentications."""
    limiter: FailureLimiter = request.app.state.auth_limiter
    return limiter


async def get_limiter(request: Request) -> FailureLimiter:
    """The application's limiter of failed authentications (a dependency: ``async``, so
    that FastAPI does not hop to the thread pool for it)."""
    return app_limiter(request)


LimiterDep = Annotated[FailureLimiter, Depends(get_limiter)]


def client_address(request: Request) -> str:
    """The client's address (behind a proxy, run uvicorn with ``--proxy-headers``)."""
    return request.client.host if request.client else "unknown"


def too_many_attempts(error: TooManyAttemptsError) -> HTTPException:
    """HTTP 429 with ``Retry-After`` for a blocked client."""
    return HTTPException(
        status_code=429, detail=str(error), headers={"Retry-After": str(error.retry_after_s)}
    )


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when absent or malformed."""
    return parse_bearer(request.headers.get("authorization"))


def parse_bearer(header: str | None) -> str:
    """The token of an ``Authorization`` header's value ``Bearer <token>``; 401 when absent or
    malformed."""
    if not header:
        raise AuthenticationError("missing Authorization header (expected 'Bearer <token>')")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("malformed Authorization header (expected 'Bearer <token>')")
    return token.strip()


def presented_token(request: Request) -> tuple[str, bool]:
    """The bearer token, else the session cookie; and whether it came from the cookie."""
    if request.headers.get("authorization") is None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return cookie, True
    return bearer_token(request), False


def _check_same_origin(request: Request) -> None:
    """Refuse a state-changing request that a cookie authenticates from another origin."""
    origin = request.headers.get("origin")
    if request.method in _SAFE_METHODS or origin is None:
        return
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise PermissionDeniedError(
            "a session cookie is accepted only from the same origin; "
            "use an Authorization header for cross-origin calls"
        )


def _authenticate(session: Session, request: Request) -> Principal:
    token, from_cookie = presented_token(request)
    if from_cookie:
        _check_same_origin(request)
    return authenticate_token(session, token, app_limiter(request), client_address(request))


def authenticate_token(
    session: Session, token: str, limiter: FailureLimiter, client: str
) -> Principal:
    """The caller a presented token stands for; a bad token counts as a failure of ``client``
    (HTTP 429 with ``Retry-After`` once it has too many). Commits the token's last use."""
    try:
        caller = resolve_token(session, token)
    except AuthenticationError as error:
        wait = limiter.record_failure([f"ip:{client}"])
        if wait:
            raise too_many_attempts(TooManyAttemptsError(wait)) from error
        raise
    if session.dirty:
        session.commit()  # the token's last use
    return caller


def authenticate_request(request: Request, platform: Platform) -> Principal:
    """The caller of ``request``, checked in a session of its own (before a body is read)."""
    with platform.database.session() as session:
        return _authenticate(session, request)


def get_caller(request: Request, session: SessionDep) -> Principal:
    """The authenticated user or device."""
    return _authenticate(session, request)


CallerDep = Annotated[Principal, Depends(get_caller)]


def get_locale(request: Request, session: SessionDep, caller: CallerDep) -> str:
    """The language of the texts an answer holds (evidence sentences): the one
    ``Accept-Language`` prefers when it names a shipped locale, else the caller's own (kept on
    the request, so an error the route raises is said in it too)."""
    locale = accepted_locale(request.headers.get("accept-language", "")) or locale_of(
        session, caller.user_id
    )
    request.state.locale = locale
    return locale


LocaleDep = Annotated[str, Depends(get_locale)]
