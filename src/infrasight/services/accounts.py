"""Organisations and users: creation, passwords, tokens, and the lock-out guard.

E-mail addresses are unique within an organisation, not across organisations: the same person
may hold an account in two organisations, and creating a user never tells an organisation's
admin whether the address is known elsewhere (login: :mod:`infrasight.services.login`).

Every organisation keeps at least one active admin who can sign in (a password or a usable
API token): a change that would leave none is refused with :class:`ConflictError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infrasight.core.domain import Role
from infrasight.core.errors import ConflictError, InvalidInputError, NotFoundError
from infrasight.services.auth import DEFAULT_TOKEN_DAYS, Principal, TokenKind, issue_token
from infrasight.services.passwords import check_password_strength, hash_password
from infrasight.storage.models import ApiToken, Organization, User

__all__ = [
    "create_user",
    "ensure_organization",
    "find_user",
    "revoke_tokens",
    "set_password",
    "update_user",
    "validate_email",
]

_LOGGER = logging.getLogger(__name__)
DEFAULT_MIN_PASSWORD_LENGTH = 12


def validate_email(email: str) -> str:
    """A normalised e-mail address; raise :class:`InvalidInputError` if it is not one."""
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or " " in email or len(email) > 320:
        raise InvalidInputError(f"{email!r} is not an e-mail address", field="email")
    return email


def ensure_organization(session: Session, name: str) -> tuple[Organization, bool]:
    """The organisation called ``name``, created if needed; and whether it was created."""
    name = name.strip()
    if not name:
        raise InvalidInputError("organisation name is empty", field="org")
    org = session.scalars(select(Organization).where(Organization.name == name)).one_or_none()
    if org is not None:
        return org, False
    org = Organization(name=name)
    session.add(org)
    session.flush()
    return org, True


def find_user(session: Session, organization: str, email: str) -> User:
    """The user with ``email`` in the organisation called ``organization``."""
    user = session.scalars(
        select(User)
        .join(Organization, Organization.id == User.organization_id)
        .where(Organization.name == organization.strip(), User.email == validate_email(email))
    ).one_or_none()
    if user is None:
        raise NotFoundError(f"no user {email!r} in organisation {organization!r}")
    return user


def create_user(
    session: Session,
    organization: Organization,
    email: str,
    role: Role,
    name: str = "",
    *,
    password: str | None = None,
    min_password_length: int = DEFAULT_MIN_PASSWORD_LENGTH,
    token_days: float = DEFAULT_TOKEN_DAYS,
) -> tuple[User, str]:
    """Create a user (with a password if given) and a first API token; return both.

    Raises
    ------
    ConflictError
        When the organisation already has a user with this e-mail (other organisations are
        never consulted).
    InvalidInputError
        For a malformed e-mail or a password that breaks the strength rule (``password``).
    """
    email = validate_email(email)
    if password is not None:
        check_password_strength(password, min_length=min_password_length, email=email)
    taken = session.scalar(
        select(func.count()).where(User.organization_id == organization.id, User.email == email)
    )
    if taken:
        raise ConflictError(f"a user with e-mail {email!r} already exists in this organisation")
    user = User(
        organization_id=organization.id,
        email=email,
        role=role.value,
        name=name,
        password_hash=None if password is None else hash_password(password),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:  # the same address created at the same moment
        raise ConflictError(
            f"a user with e-mail {email!r} already exists in this organisation"
        ) from error
    issued = issue_token(
        session, user, lifetime=timedelta(days=token_days), label="created with the user"
    )
    return user, issued.token


def _can_sign_in(now: datetime) -> Any:
    usable_token = exists().where(
        ApiToken.user_id == User.id,
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
    )
    return or_(User.password_hash.is_not(None), usable_token)


def _active_admins(session: Session, organization_id: int, *, signing_in: bool = False) -> int:
    query = select(func.count()).where(
        User.organization_id == organization_id,
        User.role == Role.ADMIN.value,
        User.is_active.is_(True),
    )
    if signing_in:
        query = query.where(_can_sign_in(datetime.now(UTC)))
    return session.scalar(query) or 0


def _lock_organization(session: Session, organization_id: int) -> None:
    """Serialise changes that the lock-out guard checks (PostgreSQL row lock; SQLite has one
    writer anyway), so two admins demoting each other at once cannot both succeed."""
    session.execute(
        select(Organization.id).where(Organization.id == organization_id).with_for_update()
    )


def _guard_admin_access(session: Session, organization_id: int, why: str) -> None:
    """Raise :class:`ConflictError` (``why``) if no active admin could sign in any more."""
    session.flush()
    if _active_admins(session, organization_id, signing_in=True) == 0:
        raise ConflictError(why)


def revoke_tokens(
    session: Session,
    user: User,
    *,
    token_id: int | None = None,
    kind: TokenKind | None = None,
    keep: int | None = None,
) -> int:
    """Revoke the user's live tokens (one, one kind, or all but ``keep``); return how many."""
    _lock_organization(session, user.organization_id)
    query = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    if kind is not None:
        query = query.where(ApiToken.kind == kind.value)
    if keep is not None:
        query = query.where(ApiToken.id != keep)
    result = session.execute(query.values(revoked_at=datetime.now(UTC)))
    count: int = result.rowcount  # type: ignore[attr-defined]
    if user.role == Role.ADMIN.value and user.is_active:
        _guard_admin_access(
            session,
            user.organization_id,
            f"{user.email} is the organisation's last admin who can sign in and has no "
            f"password: set a password (PUT /users/{user.id}/password) or issue another token "
            "first",
        )
    return count


def update_user(
    session: Session, caller: Principal, user: User, changes: Mapping[str, Any]
) -> list[str]:
    """Apply ``changes`` (``role``, ``name``, ``is_active``); return the changed fields.

    Deactivating a user revokes every token they hold, so reactivation never revives a token
    issued before. The last active admin cannot be demoted or deactivated.
    """
    for field, value in changes.items():
        if value is None:
            raise InvalidInputError("may not be null", field=field)
    _lock_organization(session, user.organization_id)
    role = changes.get("role")
    loses_admin = role is not None and Role(role) is not Role.ADMIN
    if (
        user.role == Role.ADMIN.value
        and user.is_active
        and (loses_admin or changes.get("is_active") is False)
        and _active_admins(session, user.organization_id) <= 1
    ):
        who = "you are" if user.id == caller.user_id else f"{user.email} is"
        raise ConflictError(
            f"{who} the last active admin of the organisation: make another user admin first"
        )
    deactivating = user.is_active and changes.get("is_active") is False
    changed = []
    for field, value in changes.items():
        stored = value.value if isinstance(value, Role) else value
        if getattr(user, field) != stored:
            setattr(user, field, stored)
            changed.append(field)
    if deactivating:
        revoked = revoke_tokens(session, user)
        _LOGGER.info("user %s deactivated; %d tokens revoked", user.id, revoked)
    _guard_admin_access(
        session,
        user.organization_id,
        "no active admin of the organisation could sign in after this change",
    )
    return sorted(changed)


def set_password(
    session: Session, user: User, password: str, *, min_length: int, field: str = "password"
) -> None:
    """Check ``password`` against the strength rule and store its argon2id hash."""
    check_password_strength(password, min_length=min_length, email=user.email, field=field)
    user.password_hash = hash_password(password)
    session.flush()
