"""Organisations and users: the admin bootstrap used by the CLI and the demo."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infrasight.core.domain import Role
from infrasight.core.errors import ConflictError, InvalidInputError
from infrasight.services.auth import issue_user_token
from infrasight.storage.models import Organization, User

__all__ = ["create_user", "ensure_organization", "validate_email"]


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


def create_user(
    session: Session, organization: Organization, email: str, role: Role, name: str = ""
) -> tuple[User, str]:
    """Create a user with a first API token; return both (the token is not stored)."""
    email = validate_email(email)
    if session.scalar(select(func.count()).where(User.email == email)):
        raise ConflictError(f"a user with e-mail {email!r} already exists")
    user = User(organization_id=organization.id, email=email, role=role.value, name=name)
    session.add(user)
    session.flush()
    token = issue_user_token(session, user, label="created with the user")
    return user, token
