"""Work orders: create one for a hazard from a ranked recommendation, update, move it through
its lifecycle and comment on it. Every change is written as a work-order event (who, when,
note) and an audit event in the same transaction; a rejected request writes nothing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.domain import Action, Role
from infrasight.core.errors import ConflictError, InvalidInputError, NotFoundError
from infrasight.core.phrases import phrase
from infrasight.reasoning.hazards import TRANSITIONS as HAZARD_TRANSITIONS
from infrasight.reasoning.hazards import HazardAction, HazardStatus
from infrasight.reasoning.hazards import apply_action as apply_hazard_action
from infrasight.reasoning.remediation import RemediationCatalogue
from infrasight.reasoning.work_orders import (
    SUPERVISORY,
    WorkOrderAction,
    WorkOrderStatus,
    action_to,
    apply_action,
)
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.services.hazard_transitions import record_hazard_transition
from infrasight.services.remediation import hazard_recommendations
from infrasight.storage.models import (
    User,
    WorkOrder,
    WorkOrderComment,
    WorkOrderEvent,
    WorkOrderVerification,
    utcnow,
)

__all__ = [
    "CREW_ACTIONS",
    "add_comment",
    "colleagues",
    "create_work_order",
    "get_work_order",
    "require",
    "transition_work_order",
    "update_work_order",
]

_log = logging.getLogger(__name__)

CREW_ACTIONS: frozenset[Action] = frozenset({Action.READ, Action.FIELD_WORK})
"""What a crew member may do, and only on the work orders assigned to them."""


def is_crew(principal: Principal) -> bool:
    """Whether the caller is field maintenance (sees only their own work orders)."""
    return principal.role is Role.CREW


def require(principal: Principal, action: Action) -> None:
    """Check ``action`` on work orders: the role table, plus read and field work for crew.

    Raises
    ------
    PermissionDeniedError
        The caller may not.
    """
    if is_crew(principal) and action in CREW_ACTIONS:
        return
    principal.require(action)


def get_work_order(session: Session, principal: Principal, work_order_id: int) -> WorkOrder:
    """The work order with this id in the caller's organisation.

    Raises
    ------
    NotFoundError
        None there, or (for crew) not assigned to the caller.
    """
    wo = session.get(WorkOrder, work_order_id)
    hidden = is_crew(principal) and (wo is None or wo.assignee_id != principal.user_id)
    if wo is None or wo.organization_id != principal.organization_id or hidden:
        raise NotFoundError(f"work order {work_order_id} not found")
    return wo


def colleagues(session: Session, principal: Principal) -> dict[int, tuple[str, str]]:
    """The active users of the caller's organisation who may be assigned work orders, as
    ``{id: (name, role)}`` (to show assignees by name and to choose one).

    Raises
    ------
    PermissionDeniedError
        A caller who may not read work orders.
    """
    require(principal, Action.READ)
    rows = session.scalars(
        select(User)
        .where(User.organization_id == principal.organization_id, User.is_active.is_(True))
        .order_by(User.id)
    ).all()
    return {int(u.id): (u.name or u.email, u.role) for u in rows}


def _assignee(session: Session, principal: Principal, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.organization_id != principal.organization_id or not user.is_active:
        raise InvalidInputError(f"user {user_id} not found", field="assignee_id")
    return user


def _event(session: Session, principal: Principal, wo: WorkOrder, kind: str, **fields: Any) -> None:
    session.add(WorkOrderEvent(work_order_id=wo.id, kind=kind, actor=principal.name, **fields))
    kept = {k: v for k, v in fields.items() if k not in ("details", "message")}
    details = kept | fields.get("details", {})
    record_audit(session, principal, f"work_order.{kind}", "work_order", wo.id, details)


def create_work_order(
    session: Session,
    principal: Principal,
    catalogue: RemediationCatalogue,
    *,
    hazard_id: int,
    action: str | None = None,
    reason: str = "",
    title: str = "",
    draft: bool = False,
    assignee_id: int | None = None,
) -> WorkOrder:
    """Create a work order for a hazard with the top recommendation or a chosen one.

    The due date is now plus the chosen action's urgency. Choosing an action other than the
    top-ranked one needs a ``reason`` (recorded in the work order's first event and the audit
    log). The hazard moves to ``mitigating`` when its lifecycle allows it.

    Raises
    ------
    NotFoundError
        No such hazard in the caller's organisation.
    InvalidInputError
        No recommendation applies, ``action`` is not among the hazard's recommendations, a
        non-top choice has no reason, or the assignee is unknown; each names its field.
    """
    recs = hazard_recommendations(session, principal.organization_id, hazard_id, catalogue)
    ranked = recs.recommendations
    if not ranked:
        raise InvalidInputError(
            f"no remediation action applies to hazard {hazard_id} "
            f"({recs.mechanism}, {recs.activity}, {recs.band})",
            field="hazard_id",
        )
    chosen = ranked[0]
    if action is not None:
        match = [r for r in ranked if r.action.id == action]
        if not match:
            raise InvalidInputError(
                f"{action!r} is not recommended for this hazard; recommended: "
                + ", ".join(r.action.id for r in ranked),
                field="action",
            )
        chosen = match[0]
    if chosen.rank != 1 and not reason.strip():
        raise InvalidInputError(
            f"choosing {chosen.action.id!r} over {ranked[0].action.id!r} needs a reason",
            field="reason",
        )
    if assignee_id is not None:
        _assignee(session, principal, assignee_id)
    hazard = recs.hazard
    status = WorkOrderStatus.DRAFT if draft else WorkOrderStatus.OPEN
    now = utcnow()
    composed = phrase(
        "{action!c} ({mechanism!t})", action=chosen.action.name, mechanism=hazard.mechanism
    )
    wo = WorkOrder(
        organization_id=principal.organization_id,
        asset_id=hazard.asset_id,
        hazard_id=hazard.id,
        title=(title.strip() or composed.english())[:200],
        title_message=None if title.strip() else composed.as_dict(),
        action_id=chosen.action.id,
        action_rank=chosen.rank,
        choice_reason=reason.strip(),
        status=str(status),
        assignee_id=assignee_id,
        urgency_days=chosen.urgency_days,
        due_at=now + timedelta(days=chosen.urgency_days),
        created_by=principal.name,
    )
    session.add(wo)
    session.flush()
    _event(
        session,
        principal,
        wo,
        "created",
        to_status=str(status),
        note=reason.strip(),
        details={
            "hazard_id": hazard.id,
            "action": chosen.action.id,
            "rank": chosen.rank,
            "top": ranked[0].action.id,
            "urgency_days": chosen.urgency_days,
        },
    )
    current = HazardStatus(hazard.status)
    if (current, HazardAction.MITIGATE) in HAZARD_TRANSITIONS:
        record_hazard_transition(
            session,
            hazard,
            apply_hazard_action(
                current, HazardAction.MITIGATE, phrase("work order {order}", order=wo.id)
            ),
            actor=principal.name,
        )
    session.flush()
    _log.info("work order %s for hazard %s: %s", wo.id, hazard.id, chosen.action.id)
    return wo


def update_work_order(
    session: Session,
    principal: Principal,
    work_order_id: int,
    changes: dict[str, Any],
) -> WorkOrder:
    """Change the assignee (``assignee_id``, None to clear) or the due date (``due_at``).

    Raises
    ------
    NotFoundError
        No such work order in the caller's organisation.
    InvalidInputError
        Unknown assignee, or a change to a closed or cancelled work order.
    """
    wo = get_work_order(session, principal, work_order_id)
    if wo.status in (WorkOrderStatus.CLOSED, WorkOrderStatus.CANCELLED):
        raise InvalidInputError(f"work order {wo.id} is {wo.status}", field="status")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if "assignee_id" in changes and changes["assignee_id"] != wo.assignee_id:
        if changes["assignee_id"] is not None:
            _assignee(session, principal, int(changes["assignee_id"]))
        before["assignee_id"], after["assignee_id"] = wo.assignee_id, changes["assignee_id"]
        wo.assignee_id = changes["assignee_id"]
    if "due_at" in changes and changes["due_at"] is not None:
        due: datetime = changes["due_at"]
        before["due_at"], after["due_at"] = wo.due_at.isoformat(), due.isoformat()
        wo.due_at = due
    if after:
        _event(session, principal, wo, "updated", details={"before": before, "after": after})
    session.flush()
    return wo


def transition_work_order(
    session: Session, principal: Principal, work_order_id: int, to: str, note: str = ""
) -> WorkOrder:
    """Move a work order to state ``to`` by the lifecycle table (audited).

    Raises
    ------
    NotFoundError
        No such work order in the caller's organisation.
    InvalidInputError
        ``to`` is not a state, a cancel or reopen without a reason (field ``note``), or a move to
        ``assigned`` without an assignee (field ``assignee_id``).
    TransitionNotAllowedError
        The table forbids it (HTTP 409, naming the allowed states).
    PermissionDeniedError
        A supervisory move (assign, close, cancel, reopen, submit) by less than an engineer.
    ConflictError
        Closing without a passed verification (``services/verification``).
    """
    wo = get_work_order(session, principal, work_order_id)
    require(principal, Action.FIELD_WORK)
    try:
        target = WorkOrderStatus(to)
    except ValueError:
        raise InvalidInputError(
            f"{to!r} is not a state; states: {', '.join(s.value for s in WorkOrderStatus)}",
            field="to",
        ) from None
    action = action_to(WorkOrderStatus(wo.status), target)
    require(principal, Action.CONFIGURE if action in SUPERVISORY else Action.FIELD_WORK)
    tr = apply_action(WorkOrderStatus(wo.status), action, note)
    if action is WorkOrderAction.CLOSE:
        newest = session.scalar(
            select(WorkOrderVerification.outcome)
            .where(WorkOrderVerification.work_order_id == wo.id)
            .order_by(WorkOrderVerification.id.desc())
            .limit(1)
        )
        if newest != "passed":
            raise ConflictError(
                f"work order {wo.id} closes only after a passed verification "
                f"(POST /work-orders/{wo.id}/verify); newest: {newest or 'none'}"
            )
    if action is WorkOrderAction.ASSIGN and wo.assignee_id is None:
        raise InvalidInputError(
            "set an assignee (PATCH assignee_id) before assigning", field="assignee_id"
        )
    wo.status = str(tr.to_status)
    _event(
        session,
        principal,
        wo,
        "transition",
        from_status=str(tr.from_status),
        action=str(tr.action),
        to_status=str(tr.to_status),
        note=tr.note,
        message=None if tr.phrase is None else tr.phrase.as_dict(),
    )
    session.flush()
    return wo


def add_comment(
    session: Session, principal: Principal, work_order_id: int, body: str
) -> WorkOrderComment:
    """Add a comment to a work order.

    Raises
    ------
    NotFoundError
        No such work order in the caller's organisation (for crew: assigned to them).
    PermissionDeniedError
        A viewer.
    InvalidInputError
        An empty comment (field ``body``).
    """
    wo = get_work_order(session, principal, work_order_id)
    require(principal, Action.FIELD_WORK)
    if not body.strip():
        raise InvalidInputError("a comment needs text", field="body")
    comment = WorkOrderComment(work_order_id=wo.id, author=principal.name, body=body.strip())
    session.add(comment)
    session.flush()
    return comment
