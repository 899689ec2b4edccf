"""Signing in with e-mail and password: login sessions and password changes, rate-limited.

A login checks the failure limiter before the password, so a blocked client learns nothing; an
unknown e-mail costs the same verification time as a wrong password and answers the same 401.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from infrasight.core.domain import Role
from infrasight.core.errors import AuthenticationError, InvalidInputError
from infrasight.services.accounts import revoke_tokens, set_password
from infrasight.services.audit import record_audit
from infrasight.services.auth import IssuedToken, Principal, TokenKind, issue_token
from infrasight.services.passwords import (
    hash_password,
    needs_rehash,
    verify_password,
    waste_a_verification,
)
from infrasight.services.throttle import FailureLimiter, TooManyAttemptsError
from infrasight.storage.models import ApiToken, Organization, User

__all__ = ["SESSION_RETENTION", "LoginResult", "change_password", "login"]

_LOGGER = logging.getLogger(__name__)
SESSION_RETENTION = timedelta(days=30)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginResult:
    """A successful login: who, and the new session token."""

    user: User
    organization: str
    session: IssuedToken


def _limiter_keys(client: str, email: str) -> list[str]:
    return [f"ip:{client}", f"email:{email.strip().lower()[:320]}"]


def _authenticate(session: Session, email: str, password: str, organization: str | None) -> User:
    query = select(User).where(User.email == email, User.password_hash.is_not(None))
    if organization is not None:
        query = query.join(Organization, Organization.id == User.organization_id).where(
            Organization.name == organization.strip()
        )
    candidates = session.scalars(query.order_by(User.id)).all()
    if not candidates:
        waste_a_verification()
        raise AuthenticationError("wrong e-mail or password")
    matches = [u for u in candidates if verify_password(u.password_hash or "", password)]
    if not matches:
        raise AuthenticationError("wrong e-mail or password")
    if len(matches) > 1:
        raise InvalidInputError(
            "this e-mail address has accounts in several organisations: name one",
            field="organization",
        )
    user = matches[0]
    if not user.is_active:
        raise AuthenticationError("user is deactivated")
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    return user


def _forget_old_sessions(session: Session, user: User) -> None:
    """Delete the user's sessions that ended over ``SESSION_RETENTION`` ago (keeps the table
    small; the audit trail keeps the logins)."""
    cutoff = datetime.now(UTC) - SESSION_RETENTION
    session.execute(
        delete(ApiToken).where(
            ApiToken.user_id == user.id,
            ApiToken.kind == TokenKind.SESSION.value,
            or_(ApiToken.expires_at < cutoff, ApiToken.revoked_at < cutoff),
        )
    )


def login(
    session: Session,
    limiter: FailureLimiter,
    *,
    email: str,
    password: str,
    organization: str | None,
    client: str,
    lifetime: timedelta,
) -> LoginResult:
    """Check e-mail and password and open a login session; the caller commits.

    Raises
    ------
    TooManyAttemptsError
        When this client address or e-mail failed too often recently (checked first, so a
        blocked client learns nothing about the password).
    AuthenticationError
        For a wrong e-mail or password, or a deactivated user.
    """
    email = email.strip().lower()
    keys = _limiter_keys(client, email)
    wait = limiter.retry_after(keys)
    if wait:
        raise TooManyAttemptsError(wait)
    try:
        user = _authenticate(session, email, password, organization)
    except AuthenticationError as error:
        wait = limiter.record_failure(keys)
        _LOGGER.info("failed login from %s", client)
        if wait:
            raise TooManyAttemptsError(wait) from error
        raise
    limiter.clear(keys[1:])
    _forget_old_sessions(session, user)
    issued = issue_token(session, user, lifetime=lifetime, kind=TokenKind.SESSION, label="login")
    actor = Principal(
        organization_id=user.organization_id, name=user.email, role=Role(user.role), user_id=user.id
    )
    record_audit(session, actor, "login", "user", user.id, {"client": client})
    org = session.get(Organization, user.organization_id)
    assert org is not None
    return LoginResult(user=user, organization=org.name, session=issued)


def change_password(
    session: Session,
    caller: Principal,
    user: User,
    *,
    new_password: str,
    old_password: str | None,
    min_length: int,
    limiter: FailureLimiter,
    client: str,
) -> None:
    """Set ``user``'s password: oneself with the old one (if any), an admin for anyone.

    The user's other login sessions end. A wrong old password counts as a failed login.
    """
    if user.id == caller.user_id and user.password_hash is not None:
        keys = _limiter_keys(client, user.email)
        wait = limiter.retry_after(keys)
        if wait:
            raise TooManyAttemptsError(wait)
        if old_password is None:
            raise InvalidInputError("give your current password", field="old_password")
        if not verify_password(user.password_hash, old_password):
            wait = limiter.record_failure(keys)
            if wait:
                raise TooManyAttemptsError(wait)
            raise InvalidInputError("is not your current password", field="old_password")
    set_password(session, user, new_password, min_length=min_length, field="new_password")
    revoke_tokens(session, user, kind=TokenKind.SESSION, keep=caller.token_id)
    record_audit(session, caller, "set_password", "user", user.id)
