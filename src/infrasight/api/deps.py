"""Request dependencies as ``Annotated`` aliases: the platform, a session, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from infrasight.core.errors import AuthenticationError
from infrasight.platform import Platform
from infrasight.services.auth import Principal, resolve_token

__all__ = ["CallerDep", "PlatformDep", "SessionDep", "bearer_token"]


def get_platform(request: Request) -> Platform:
    """The platform the app was created with."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_session(platform: PlatformDep) -> Iterator[Session]:
    """A session per request; routes commit what they change."""
    with platform.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when absent or malformed."""
    header = request.headers.get("authorization")
    if not header:
        raise AuthenticationError("missing Authorization header (expected 'Bearer <token>')")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("malformed Authorization header (expected 'Bearer <token>')")
    return token.strip()


def get_caller(request: Request, session: SessionDep) -> Principal:
    """The authenticated user or device."""
    return resolve_token(session, bearer_token(request))


CallerDep = Annotated[Principal, Depends(get_caller)]
