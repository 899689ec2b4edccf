"""Bearer tokens for users and devices: issued once, stored as sha256, resolved per request.

User tokens are API tokens (``isu_``, for scripts, default 90 days) or login sessions (``iss_``,
default 12 hours); both expire and can be revoked. Device tokens (``isd_``) live until rotated,
or ``device_token_days`` when that setting is not 0.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.domain import Action, Role, role_allows
from infrasight.core.errors import AuthenticationError, PermissionDeniedError
from infrasight.storage.models import ApiToken, Device, User
from infrasight.storage.raw import fetch_rows, placeholder, result_processor

__all__ = [
    "IssuedToken",
    "Principal",
    "TokenKind",
    "device_token_expiry",
    "hash_token",
    "issue_token",
    "issue_user_token",
    "new_device_token",
    "resolve_token",
]

USER_TOKEN_PREFIX = "isu_"
SESSION_TOKEN_PREFIX = "iss_"
DEVICE_TOKEN_PREFIX = "isd_"
DEFAULT_TOKEN_DAYS = 90
LAST_USE_RESOLUTION = timedelta(minutes=1)
_DEVICE_BY_TOKEN = (
    "SELECT id, organization_id, name, is_active, token_expires_at FROM devices "
    "WHERE token_hash = {p}"
)


class TokenKind(StrEnum):
    """An API token (for scripts and integrations) or a login session's token."""

    API = "api"
    SESSION = "session"


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedToken:
    """A token just issued: the secret (shown once) and what is stored about it."""

    id: int
    token: str
    kind: TokenKind
    expires_at: datetime
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling: a user (with a role) or a device (ingest only)."""

    organization_id: int
    name: str
    role: Role | None = None
    user_id: int | None = None
    device_id: int | None = None
    token_id: int | None = None

    @property
    def is_device(self) -> bool:
        """True for a field terminal's token."""
        return self.device_id is not None

    def require(self, action: Action) -> None:
        """Raise :class:`PermissionDeniedError` unless this principal may perform ``action``."""
        if self.role is None:
            raise PermissionDeniedError(f"device tokens may not {action.value}; use a user token")
        if not role_allows(self.role, action):
            raise PermissionDeniedError(
                f"role {self.role.value!r} may not {action.value.replace('_', ' ')}"
            )


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_device_token() -> tuple[str, str]:
    """A new device token and its hash."""
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def device_token_expiry(days: int) -> datetime | None:
    """When a device token issued now expires (``days`` of 0: never)."""
    return datetime.now(UTC) + timedelta(days=days) if days > 0 else None


def issue_token(
    session: Session,
    user: User,
    *,
    lifetime: timedelta,
    kind: TokenKind = TokenKind.API,
    label: str = "",
) -> IssuedToken:
    """Create a token of ``user`` valid for ``lifetime``; return it (only its hash is stored)."""
    prefix = SESSION_TOKEN_PREFIX if kind is TokenKind.SESSION else USER_TOKEN_PREFIX
    token = prefix + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + lifetime
    row = ApiToken(
        user_id=user.id,
        token_hash=hash_token(token),
        label=label[:200],
        kind=kind.value,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return IssuedToken(id=row.id, token=token, kind=kind, expires_at=expires_at, label=row.label)


def issue_user_token(
    session: Session, user: User, label: str = "", *, days: float = DEFAULT_TOKEN_DAYS
) -> str:
    """Create an API token for ``user`` valid for ``days``; return it."""
    return issue_token(session, user, lifetime=timedelta(days=days), label=label).token


def resolve_token(session: Session, token: str, *, now: datetime | None = None) -> Principal:
    """The principal a bearer token stands for.

    A user token's ``last_used_at`` is updated at most once a minute in ``session``; the caller
    commits it.

    Raises
    ------
    AuthenticationError
        For an unknown, revoked or expired token, or a deactivated user or device.
    """
    now = now or datetime.now(UTC)
    digest = hash_token(token)
    if token.startswith(DEVICE_TOKEN_PREFIX):
        # The table's columns only, not the ORM object (nor its JSON configuration), in one
        # prepared statement on the driver: every reading a device posts passes here.
        rows = fetch_rows(
            session,
            _DEVICE_BY_TOKEN.format(p=placeholder(session)),
            (digest,),
        )
        if not rows or not rows[0][3]:
            raise AuthenticationError("unknown or revoked device token")
        device_id, organization_id, name, _active, raw_expiry = rows[0]
        expires_at = result_processor(session, Device.__table__.c.token_expires_at)(raw_expiry)
        if expires_at is not None and expires_at <= now:
            when = expires_at.isoformat(timespec="seconds")
            raise AuthenticationError(
                f"device token expired at {when}; rotate it (POST /devices/{device_id}/token)"
            )
        return Principal(
            organization_id=int(organization_id),
            name=f"device:{name}",
            device_id=int(device_id),
        )
    row = session.execute(
        select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == digest)
    ).one_or_none()
    if row is None:
        raise AuthenticationError("unknown API token")
    user, api_token = row
    is_session = api_token.kind == TokenKind.SESSION.value
    if api_token.revoked_at is not None and api_token.revoked_at <= now:
        raise AuthenticationError(
            "session ended (logged out); log in again"
            if is_session
            else "API token was revoked; issue a new one"
        )
    if api_token.expires_at is not None and api_token.expires_at <= now:
        when = api_token.expires_at.isoformat(timespec="seconds")
        raise AuthenticationError(
            f"session expired at {when}; log in again"
            if is_session
            else f"API token expired at {when}; issue a new one"
        )
    if not user.is_active:
        raise AuthenticationError("user is deactivated")
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USE_RESOLUTION:
        api_token.last_used_at = now
    return Principal(
        organization_id=user.organization_id,
        name=user.email,
        role=Role(user.role),
        user_id=user.id,
        token_id=api_token.id,
    )
