"""Users, their API tokens, and the organisation's audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from infrasight.api.deps import CallerDep, SessionDep
from infrasight.api.routes.common import Limit, Offset, Page, ReadModel, get_owned, page_of
from infrasight.core.domain import Action, Role
from infrasight.core.errors import InvalidInputError
from infrasight.services.accounts import create_user
from infrasight.services.audit import record_audit
from infrasight.services.auth import issue_user_token
from infrasight.storage.models import ApiToken, AuditEvent, Organization, User

router = APIRouter(tags=["users"])


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    role: Role
    name: str = Field(default="", max_length=200)


class UserUpdate(BaseModel):
    role: Role | None = None
    name: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None


class UserRead(ReadModel):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    created_at: datetime


class Me(UserRead):
    organization_id: int
    organization: str


class UserWithToken(UserRead):
    token: str = Field(description="A new API token; shown only once")


class TokenCreated(BaseModel):
    token: str


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


@router.post("/users", status_code=status.HTTP_201_CREATED)
def add_user(body: UserCreate, session: SessionDep, caller: CallerDep) -> UserWithToken:
    """Add a user to the caller's organisation; the answer carries the user's API token, shown only
    once. Admins only.
    """
    caller.require(Action.ADMINISTER)
    org = session.get(Organization, caller.organization_id)
    assert org is not None
    user, token = create_user(session, org, body.email, body.role, body.name)
    record_audit(session, caller, "create", "user", user.id, {"role": body.role.value})
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
def update_user(user_id: int, body: UserUpdate, session: SessionDep, caller: CallerDep) -> UserRead:
    """Change a user's role or deactivate them. Admins only."""
    caller.require(Action.ADMINISTER)
    user = get_owned(session, User, user_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    if user.id == caller.user_id and (
        changes.get("role") not in (None, Role.ADMIN) or changes.get("is_active") is False
    ):
        raise InvalidInputError("admins cannot demote or deactivate themselves", field="role")
    for name, value in changes.items():
        if value is None:
            raise InvalidInputError("may not be null", field=name)
        setattr(user, name, value.value if isinstance(value, Role) else value)
    record_audit(session, caller, "update", "user", user.id, {"changed": sorted(changes)})
    session.commit()
    return UserRead.model_validate(user)


@router.post("/users/{user_id:int}/tokens", status_code=status.HTTP_201_CREATED)
def new_token(user_id: int, session: SessionDep, caller: CallerDep) -> TokenCreated:
    """Issue another API token (users may issue their own; admins anyone's)."""
    if caller.user_id != user_id:
        caller.require(Action.ADMINISTER)
    else:
        caller.require(Action.READ)
    user = get_owned(session, User, user_id, caller.organization_id)
    token = issue_user_token(session, user, label=f"issued by {caller.name}")
    record_audit(session, caller, "issue_token", "user", user.id)
    session.commit()
    return TokenCreated(token=token)


@router.delete("/users/{user_id:int}/tokens", status_code=status.HTTP_204_NO_CONTENT)
def revoke_tokens(user_id: int, session: SessionDep, caller: CallerDep) -> None:
    """Revoke every API token of a user."""
    caller.require(Action.ADMINISTER)
    get_owned(session, User, user_id, caller.organization_id)
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    record_audit(session, caller, "revoke_tokens", "user", user_id)
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
