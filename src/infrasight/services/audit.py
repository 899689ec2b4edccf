"""Audit trail: an immutable record of who changed what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from infrasight.services.auth import Principal
from infrasight.storage.models import AuditEvent

__all__ = ["record_audit"]


def record_audit(
    session: Session,
    principal: Principal,
    action: str,
    entity: str,
    entity_id: int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the session's transaction (committed with the change)."""
    session.add(
        AuditEvent(
            organization_id=principal.organization_id,
            actor=principal.name,
            action=action,
            entity=entity,
            entity_id=entity_id,
            details=details or {},
        )
    )
