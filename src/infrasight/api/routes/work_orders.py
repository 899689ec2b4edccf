"""Remediation and work orders: recommendations for a hazard, work-order CRUD, lifecycle
transitions (409 naming the allowed states) and comments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import select

from infrasight.api.deps import CallerDep, LocaleDep, SessionDep
from infrasight.api.routes.common import ReadModel, RequestModel
from infrasight.core.domain import Action
from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.locales.phrases import evidence_translator, localised_detail
from infrasight.reasoning.remediation import Activity, load_catalogue
from infrasight.reasoning.work_orders import WorkOrderStatus, allowed_targets
from infrasight.services.remediation import hazard_recommendations
from infrasight.services.work_orders import (
    add_comment,
    create_work_order,
    get_work_order,
    is_crew,
    require,
    transition_work_order,
    update_work_order,
)
from infrasight.storage.models import WorkOrder, WorkOrderComment, WorkOrderEvent

router = APIRouter(tags=["work orders"])


class WorkOrderRead(ReadModel):
    id: int
    asset_id: int
    hazard_id: int | None
    title: str
    action_id: str
    action_rank: int
    choice_reason: str
    status: str
    assignee_id: int | None
    urgency_days: int
    due_at: datetime
    created_by: str
    created_at: datetime
    updated_at: datetime
    title_message: dict[str, Any] | None = Field(
        default=None,
        description="the title the system composed, as a message key and parameters (the title "
        "itself is in the reader's language)",
    )


def _read(wo: WorkOrder, locale: str) -> WorkOrderRead:
    """The work order with the title the system composed in ``locale`` (a person's as written)."""
    out = WorkOrderRead.model_validate(wo)
    if wo.title_message is None:
        return out
    title = localised_detail(wo.title_message, wo.title, evidence_translator(locale))
    return out.model_copy(update={"title": title})


class WorkOrderCreate(RequestModel):
    hazard_id: int
    action: str | None = Field(default=None, max_length=60)
    reason: str = Field(default="", max_length=2000)
    title: str = Field(default="", max_length=200)
    draft: bool = False
    assignee_id: int | None = None


class WorkOrderPatch(RequestModel):
    assignee_id: int | None = None
    due_at: datetime | None = None


class TransitionIn(RequestModel):
    to: WorkOrderStatus
    note: str = Field(default="", max_length=2000)


class CommentIn(RequestModel):
    body: str = Field(min_length=1, max_length=10000)


def _detail(session: SessionDep, wo: WorkOrder, locale: str) -> dict[str, Any]:
    """The work order with its events (the system's notes in ``locale``; ``message`` keeps
    their key and numbers), comments and the states it may move to."""
    t = evidence_translator(locale)
    events = session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id == wo.id)
        .order_by(WorkOrderEvent.id)
    ).all()
    comments = session.scalars(
        select(WorkOrderComment)
        .where(WorkOrderComment.work_order_id == wo.id)
        .order_by(WorkOrderComment.id)
    ).all()
    return {
        **_read(wo, locale).model_dump(mode="json"),
        "events": [
            {
                "kind": e.kind,
                "from": e.from_status,
                "action": e.action,
                "to": e.to_status,
                "note": localised_detail(e.message, e.note, t),
                "message": e.message,
                "details": e.details,
                "actor": e.actor,
                "at": e.at.isoformat(),
            }
            for e in events
        ],
        "comments": [
            {"id": c.id, "author": c.author, "body": c.body, "at": c.created_at.isoformat()}
            for c in comments
        ],
        "allowed_transitions": [str(s) for s in allowed_targets(WorkOrderStatus(wo.status))],
    }


def _translated(item: dict[str, Any], locale: str) -> dict[str, Any]:
    """A recommendation with its name and effect (data-catalogue texts) in ``locale``."""
    t = evidence_translator(locale)
    return item | {k: t.optional(str(item[k])) for k in ("name", "effect") if item.get(k)}


@router.get("/hazards/{hazard_id}/recommendations")
def get_recommendations(
    hazard_id: int,
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
    activity: Activity | None = None,
    exposure: list[str] | None = Query(default=None),
) -> dict[str, Any]:
    """Remediation actions for the hazard's top cause, ranked, with urgency and sources.
    ``activity`` and ``exposure`` (repeatable; ``none`` for none) override what is read from
    its evidence and element. Names and effects in the language ``Accept-Language`` asks for
    (else the caller's own); ids and sources as written."""
    caller.require(Action.READ)
    recs = hazard_recommendations(
        session,
        caller.organization_id,
        hazard_id,
        load_catalogue(),
        activity=activity,
        exposure=None if exposure is None else frozenset(exposure) - {"none"},
    )
    return {
        "hazard_id": hazard_id,
        "mechanism": recs.mechanism,
        "risk_band": recs.band,
        "activity": str(recs.activity),
        "activity_inferred": recs.activity_inferred,
        "exposure": sorted(recs.exposure),
        "recommendations": [_translated(r.as_dict(), locale) for r in recs.recommendations],
    }


@router.post("/work-orders", status_code=201)
def post_work_order(
    body: WorkOrderCreate, session: SessionDep, caller: CallerDep, locale: LocaleDep
) -> dict[str, Any]:
    """Create a work order for a hazard (the top recommendation unless ``action`` names another,
    which needs a ``reason``); the hazard moves to mitigating when its lifecycle allows it."""
    caller.require(Action.CONFIGURE)
    try:
        wo = create_work_order(
            session,
            caller,
            load_catalogue(),
            hazard_id=body.hazard_id,
            action=body.action,
            reason=body.reason,
            title=body.title,
            draft=body.draft,
            assignee_id=body.assignee_id,
        )
    except NotFoundError as err:  # a reference in the body: bad input naming the field
        raise InvalidInputError(f"hazard_id: {err}", field="hazard_id") from err
    out = _detail(session, wo, locale)
    session.commit()
    return out


@router.get("/work-orders")
def list_work_orders(
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
    status: WorkOrderStatus | None = None,
    asset_id: int | None = None,
    hazard_id: int | None = None,
) -> list[WorkOrderRead]:
    """Work orders of the organisation (a crew member's own only), soonest due first; titles the
    system composed in the language ``Accept-Language`` asks for (else the caller's own)."""
    require(caller, Action.READ)
    q = select(WorkOrder).where(WorkOrder.organization_id == caller.organization_id)
    if is_crew(caller):
        q = q.where(WorkOrder.assignee_id == caller.user_id)
    if status is not None:
        q = q.where(WorkOrder.status == str(status))
    if asset_id is not None:
        q = q.where(WorkOrder.asset_id == asset_id)
    if hazard_id is not None:
        q = q.where(WorkOrder.hazard_id == hazard_id)
    rows = session.scalars(q.order_by(WorkOrder.due_at, WorkOrder.id)).all()
    return [_read(w, locale) for w in rows]


@router.get("/work-orders/{work_order_id}")
def get_one(
    work_order_id: int, session: SessionDep, caller: CallerDep, locale: LocaleDep
) -> dict[str, Any]:
    """A work order with its events (every transition: who, when, note) and comments; the
    system's notes in the language ``Accept-Language`` asks for (else the caller's own)."""
    require(caller, Action.READ)
    return _detail(session, get_work_order(session, caller, work_order_id), locale)


@router.patch("/work-orders/{work_order_id}")
def patch_work_order(
    work_order_id: int,
    body: WorkOrderPatch,
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
) -> dict[str, Any]:
    """Change the assignee or the due date (audited)."""
    caller.require(Action.CONFIGURE)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("due_at") is not None and changes["due_at"].tzinfo is None:
        changes["due_at"] = changes["due_at"].replace(tzinfo=UTC)
    wo = update_work_order(session, caller, work_order_id, changes)
    out = _detail(session, wo, locale)
    session.commit()
    return out


@router.post("/work-orders/{work_order_id}/transitions")
def post_transition(
    work_order_id: int,
    body: TransitionIn,
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
) -> dict[str, Any]:
    """Move a work order (409 naming the allowed states when the lifecycle table forbids it;
    cancelling or reopening needs a reason in ``note``)."""
    wo = transition_work_order(session, caller, work_order_id, str(body.to), body.note)
    out = _detail(session, wo, locale)
    session.commit()
    return out


@router.post("/work-orders/{work_order_id}/comments", status_code=201)
def post_comment(
    work_order_id: int, body: CommentIn, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """Comment on a work order (inspector and above; crew on their own)."""
    c = add_comment(session, caller, work_order_id, body.body)
    out = {"id": c.id, "author": c.author, "body": c.body, "at": c.created_at.isoformat()}
    session.commit()
    return out
