"""Bearer tokens for users and devices: issued once, stored as sha256, resolved per request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.domain import Action, Role, role_allows
from infrasight.core.errors import AuthenticationError, PermissionDeniedError
from infrasight.storage.models import ApiToken, Device, User

__all__ = ["Principal", "hash_token", "issue_user_token", "new_device_token", "resolve_token"]

USER_TOKEN_PREFIX = "isu_"
DEVICE_TOKEN_PREFIX = "isd_"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling: a user (with a role) or a device (ingest only)."""

    organization_id: int
    name: str
    role: Role | None = None
    user_id: int | None = None
    device_id: int | None = None

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


def issue_user_token(session: Session, user: User, label: str = "") -> str:
    """Create an API token for ``user``; return it (only its hash is stored)."""
    token = USER_TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label=label))
    return token


def resolve_token(session: Session, token: str) -> Principal:
    """The principal a bearer token stands for.

    Raises
    ------
    AuthenticationError
        For an unknown, revoked or inactive token.
    """
    digest = hash_token(token)
    if token.startswith(DEVICE_TOKEN_PREFIX):
        device = session.scalars(select(Device).where(Device.token_hash == digest)).one_or_none()
        if device is None or not device.is_active:
            raise AuthenticationError("unknown or revoked device token")
        return Principal(
            organization_id=device.organization_id,
            name=f"device:{device.name}",
            device_id=device.id,
        )
    row = session.execute(
        select(User, ApiToken.revoked_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == digest)
    ).one_or_none()
    if row is None:
        raise AuthenticationError("unknown API token")
    user, revoked_at = row
    if revoked_at is not None and revoked_at <= datetime.now(UTC):
        raise AuthenticationError("API token was revoked")
    if not user.is_active:
        raise AuthenticationError("user is deactivated")
    return Principal(
        organization_id=user.organization_id, name=user.email, role=Role(user.role), user_id=user.id
    )
