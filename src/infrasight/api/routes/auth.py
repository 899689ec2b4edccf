"""Login and logout: e-mail and password for a short-lived session token (and cookie)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from infrasight.api.deps import (
    SESSION_COOKIE,
    CallerDep,
    LimiterDep,
    PlatformDep,
    SessionDep,
    client_address,
    too_many_attempts,
)
from infrasight.api.routes.common import RequestModel
from infrasight.core.domain import Role
from infrasight.core.errors import PermissionDeniedError
from infrasight.services.accounts import revoke_tokens
from infrasight.services.audit import record_audit
from infrasight.services.login import login
from infrasight.services.passwords import MAX_PASSWORD_LENGTH
from infrasight.services.throttle import TooManyAttemptsError
from infrasight.storage.models import User

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(RequestModel):
    email: str = Field(min_length=1, max_length=320, examples=["admin@demo.infrasight.example"])
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    organization: str | None = Field(
        default=None,
        max_length=200,
        description="Needed only when the e-mail has accounts in several organisations",
    )


class LoginRead(BaseModel):
    token: str = Field(description="Session token: send it as 'Authorization: Bearer <token>'")
    token_type: str = "bearer"
    expires_at: datetime
    user_id: int
    email: str
    role: Role
    organization_id: int
    organization: str


@router.post("/login")
def log_in(
    body: LoginRequest,
    request: Request,
    response: Response,
    platform: PlatformDep,
    session: SessionDep,
    limiter: LimiterDep,
) -> LoginRead:
    """Check e-mail and password; answer a session token and set it as an HttpOnly cookie.

    Wrong credentials answer 401; after too many failures from this address or for this
    e-mail, 429 with ``Retry-After``.
    """
    settings = platform.settings
    lifetime = timedelta(hours=settings.session_hours)
    try:
        result = login(
            session,
            limiter,
            email=body.email,
            password=body.password,
            organization=body.organization,
            client=client_address(request),
            lifetime=lifetime,
        )
    except TooManyAttemptsError as error:
        raise too_many_attempts(error) from error
    session.commit()
    response.set_cookie(
        SESSION_COOKIE,
        result.session.token,
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
    )
    user = result.user
    return LoginRead(
        token=result.session.token,
        expires_at=result.session.expires_at,
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        organization_id=user.organization_id,
        organization=result.organization,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def log_out(session: SessionDep, caller: CallerDep, response: Response) -> None:
    """End the session (or revoke the API token) this request authenticated with."""
    if caller.user_id is None or caller.token_id is None:
        raise PermissionDeniedError("device tokens do not log out; rotate them instead")
    user = session.get(User, caller.user_id)
    assert user is not None
    revoke_tokens(session, user, token_id=caller.token_id)
    record_audit(session, caller, "logout", "user", user.id, {"token_id": caller.token_id})
    session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
