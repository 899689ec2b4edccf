"""Users, their API tokens, and the organisation's audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from infrasight.api.deps import (
    CallerDep,
    LimiterDep,
    PlatformDep,
    SessionDep,
    client_address,
    too_many_attempts,
)
from infrasight.api.routes.common import (
    Limit,
    Offset,
    Page,
    ReadModel,
    RequestModel,
    get_owned,
    page_of,
)
from infrasight.core.domain import Action, Role
from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.services.accounts import create_user, revoke_tokens, update_user
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal, issue_token
from infrasight.services.login import change_password
from infrasight.services.passwords import MAX_PASSWORD_LENGTH
from infrasight.services.throttle import TooManyAttemptsError
from infrasight.services.user_locale import set_user_locale
from infrasight.storage.models import ApiToken, AuditEvent, Organization, User

router = APIRouter(tags=["users"])


class UserCreate(RequestModel):
    email: str = Field(min_length=3, max_length=320)
    role: Role
    name: str = Field(default="", max_length=200)
    password: str | None = Field(
        default=None,
        max_length=MAX_PASSWORD_LENGTH,
        description="Optional; lets the user log in with e-mail and password",
    )


class UserUpdate(RequestModel):
    role: Role | None = None
    name: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None


UserLocale = Literal["en", "zh-Hant", "zh-Hans"]


class UserRead(ReadModel):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    locale: UserLocale | None = Field(
        default=None, description="The user's language; null: the default (English)"
    )
    has_password: bool = Field(description="Whether the user can log in with a password")
    created_at: datetime


class Me(UserRead):
    organization_id: int
    organization: str


class UserWithToken(UserRead):
    token: str = Field(description="A new API token; shown only once")


class MeUpdate(RequestModel):
    locale: UserLocale | None = Field(
        description="Your language for the web app, reports and notifications; null: the default"
    )


class PasswordChange(RequestModel):
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    old_password: str | None = Field(
        default=None,
        max_length=MAX_PASSWORD_LENGTH,
        description="Your current password (needed when changing your own, once set)",
    )


class TokenCreate(RequestModel):
    label: str = Field(default="", max_length=200)
    expires_in_days: int | None = Field(
        default=None, ge=1, description="Lifetime in days (default and maximum are settings)"
    )


class TokenCreated(BaseModel):
    id: int
    token: str = Field(description="The secret; shown only once")
    label: str
    expires_at: datetime


class TokenRead(ReadModel):
    id: int
    kind: str = Field(description="'api' or 'session'")
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Last use, to the minute")
    revoked_at: datetime | None


class AuditRead(ReadModel):
    id: int
    actor: str
    action: str
    entity: str
    entity_id: int | None
    details: dict[str, Any]
    at: datetime


@router.get("/users/me")
def me(session: SessionDep, caller: CallerDep) -> Me:
    """The caller: user or device, organisation and role."""
    caller.require(Action.READ)
    assert caller.user_id is not None
    user = session.get(User, caller.user_id)
    org = session.get(Organization, caller.organization_id)
    assert user is not None and org is not None
    return Me(
        **UserRead.model_validate(user).model_dump(),
        organization_id=org.id,
        organization=org.name,
    )


@router.patch("/users/me")
def patch_me(body: MeUpdate, session: SessionDep, caller: CallerDep) -> Me:
    """Change your own settings: ``locale`` (en, zh-Hant, zh-Hans, or null for the default)."""
    caller.require(Action.READ)
    if caller.user_id is None:
        raise InvalidInputError("only a user has settings, not a device", field="locale")
    user = session.get(User, caller.user_id)
    assert user is not None
    if set_user_locale(user, body.locale):
        record_audit(session, caller, "update", "user", user.id, {"changed": ["locale"]})
        session.commit()
    return me(session, caller)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def add_user(
    body: UserCreate, session: SessionDep, caller: CallerDep, platform: PlatformDep
) -> UserWithToken:
    """Create a user of the caller's organisation with a first API token (and a password).

    E-mail addresses are unique per organisation: an address used in another organisation
    is accepted like a new one, so nothing is revealed about other organisations.
    """
    caller.require(Action.ADMINISTER)
    org = session.get(Organization, caller.organization_id)
    assert org is not None
    settings = platform.settings
    user, token = create_user(
        session,
        org,
        body.email,
        body.role,
        body.name,
        password=body.password,
        min_password_length=settings.password_min_length,
        token_days=settings.token_days,
    )
    details = {"role": body.role.value, "password": body.password is not None}
    record_audit(session, caller, "create", "user", user.id, details)
    session.commit()
    return UserWithToken(**UserRead.model_validate(user).model_dump(), token=token)


@router.get("/users")
def list_users(
    session: SessionDep, caller: CallerDep, limit: Limit = 100, offset: Offset = 0
) -> Page[UserRead]:
    """The users of the caller's organisation. Admins only."""
    caller.require(Action.ADMINISTER)
    query = select(User).where(User.organization_id == caller.organization_id).order_by(User.id)
    return page_of(session, query, limit, offset, UserRead)


@router.patch("/users/{user_id:int}")
def patch_user(user_id: int, body: UserUpdate, session: SessionDep, caller: CallerDep) -> UserRead:
    """Change a user's role, name or active state.

    Deactivating revokes every token of the user (reactivation revives none). The last active
    admin of the organisation cannot be demoted or deactivated (409).
    """
    caller.require(Action.ADMINISTER)
    user = get_owned(session, User, user_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    changed = update_user(session, caller, user, changes)
    details: dict[str, Any] = {"changed": changed}
    if "is_active" in changed:
        details["is_active"] = user.is_active
    if "role" in changed:
        details["role"] = user.role
    record_audit(session, caller, "update", "user", user.id, details)
    session.commit()
    return UserRead.model_validate(user)


def _self_or_admin(caller: Principal, user_id: int) -> None:
    if caller.user_id != user_id:
        caller.require(Action.ADMINISTER)
    else:
        caller.require(Action.READ)


@router.put("/users/{user_id:int}/password", status_code=status.HTTP_204_NO_CONTENT)
def put_password(
    user_id: int,
    body: PasswordChange,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    platform: PlatformDep,
    limiter: LimiterDep,
) -> None:
    """Set a password: your own (with ``old_password`` once you have one), or as an admin
    anyone's in your organisation. The user's other login sessions end."""
    _self_or_admin(caller, user_id)
    user = get_owned(session, User, user_id, caller.organization_id)
    try:
        change_password(
            session,
            caller,
            user,
            new_password=body.new_password,
            old_password=body.old_password,
            min_length=platform.settings.password_min_length,
            limiter=limiter,
            client=client_address(request),
        )
    except TooManyAttemptsError as error:
        raise too_many_attempts(error) from error
    session.commit()


@router.post("/users/{user_id:int}/tokens", status_code=status.HTTP_201_CREATED)
def new_token(
    user_id: int,
    session: SessionDep,
    caller: CallerDep,
    platform: PlatformDep,
    body: TokenCreate | None = None,
) -> TokenCreated:
    """Issue another API token (users may issue their own; admins anyone's).

    It expires after ``expires_in_days`` (default and maximum are deployment settings).
    """
    _self_or_admin(caller, user_id)
    user = get_owned(session, User, user_id, caller.organization_id)
    body = body or TokenCreate()
    settings = platform.settings
    days = settings.token_days if body.expires_in_days is None else body.expires_in_days
    if days > settings.token_max_days:
        raise InvalidInputError(
            f"may be at most {settings.token_max_days} days", field="expires_in_days"
        )
    issued = issue_token(
        session, user, lifetime=timedelta(days=days), label=body.label or f"issued by {caller.name}"
    )
    details = {"token_id": issued.id, "expires_at": issued.expires_at.isoformat()}
    record_audit(session, caller, "issue_token", "user", user.id, details)
    session.commit()
    return TokenCreated(
        id=issued.id, token=issued.token, label=issued.label, expires_at=issued.expires_at
    )


@router.get("/users/{user_id:int}/tokens")
def list_tokens(
    user_id: int, session: SessionDep, caller: CallerDep, limit: Limit = 100, offset: Offset = 0
) -> Page[TokenRead]:
    """A user's API and session tokens, newest first, with expiry and last use (never the
    secret)."""
    _self_or_admin(caller, user_id)
    get_owned(session, User, user_id, caller.organization_id)
    query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    return page_of(session, query, limit, offset, TokenRead)


@router.delete("/users/{user_id:int}/tokens", status_code=status.HTTP_204_NO_CONTENT)
def revoke_all_tokens(user_id: int, session: SessionDep, caller: CallerDep) -> None:
    """Revoke every API and session token of a user (yourself, or anyone as an admin).

    Refused (409) when it would leave no active admin able to sign in.
    """
    _self_or_admin(caller, user_id)
    user = get_owned(session, User, user_id, caller.organization_id)
    revoked = revoke_tokens(session, user)
    record_audit(session, caller, "revoke_tokens", "user", user_id, {"revoked": revoked})
    session.commit()


@router.delete("/users/{user_id:int}/tokens/{token_id:int}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(user_id: int, token_id: int, session: SessionDep, caller: CallerDep) -> None:
    """Revoke one token (its owner, or an admin); 409 when it is the last way in of the last
    admin."""
    _self_or_admin(caller, user_id)
    user = get_owned(session, User, user_id, caller.organization_id)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFoundError(f"token {token_id} not found")
    revoke_tokens(session, user, token_id=token_id)
    record_audit(session, caller, "revoke_token", "user", user_id, {"token_id": token_id})
    session.commit()


@router.get("/audit")
def audit_trail(
    session: SessionDep,
    caller: CallerDep,
    entity: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AuditRead]:
    """The organisation's audit trail (who changed what, when), newest first; paged."""
    caller.require(Action.CONFIGURE)
    query = (
        select(AuditEvent)
        .where(AuditEvent.organization_id == caller.organization_id)
        .order_by(AuditEvent.id.desc())
    )
    if entity is not None:
        query = query.where(AuditEvent.entity == entity)
    return page_of(session, query, limit, offset, AuditRead)
