"""Record one lifecycle transition of a hazard: its new status, the transition row, and (for a
person's action) the audit entry. Every service that moves a hazard goes through here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from infrasight.reasoning.hazards import Transition
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.storage.models import Hazard, HazardTransitionRecord

__all__ = ["record_hazard_transition"]


def record_hazard_transition(
    session: Session,
    hazard: Hazard,
    transition: Transition,
    *,
    actor: str,
    audit_as: Principal | None = None,
) -> None:
    """Set ``hazard``'s status to the transition's target and add its transition row.

    ``actor`` names who moved it ("system" for automatic steps); with ``audit_as`` the step is
    also written to the audit log as ``hazard.<action>`` by that principal.
    """
    hazard.status = str(transition.to_status)
    session.add(
        HazardTransitionRecord(
            hazard_id=hazard.id,
            from_status=str(transition.from_status),
            action=str(transition.action),
            to_status=str(transition.to_status),
            note=transition.note,
            actor=actor,
            message=transition.phrase.as_dict() if transition.phrase is not None else None,
        )
    )
    if audit_as is not None:
        record_audit(
            session,
            audit_as,
            f"hazard.{transition.action}",
            "hazard",
            hazard.id,
            {
                "from": str(transition.from_status),
                "to": str(transition.to_status),
                "note": transition.note,
            },
        )
