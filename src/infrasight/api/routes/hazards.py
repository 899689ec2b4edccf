"""Hazards: list, detail (causes, evidence, transitions), lifecycle transitions, update."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import select

from infrasight.api.deps import CallerDep, LocaleDep, SessionDep
from infrasight.api.routes.common import ReadModel, RequestModel, get_owned
from infrasight.core.domain import Action
from infrasight.locales import Translator
from infrasight.locales.phrases import evidence_translator, localised_detail, localised_test
from infrasight.reasoning.hazards import HazardStatus, allowed_targets
from infrasight.services.hazards import transition_hazard, update_hazards
from infrasight.storage.models import Asset, Hazard, HazardEvidenceLink, HazardTransitionRecord

router = APIRouter(tags=["hazards"])


class HazardRead(ReadModel):
    id: int
    asset_id: int
    element_id: int | None
    mechanism: str
    hazard_kind: str
    status: str
    confidence: float
    likelihood: int
    consequence: int
    risk: int
    risk_band: str
    merged_into_id: int | None = None
    created_at: datetime
    updated_at: datetime


class HazardTransitionIn(RequestModel):
    to: HazardStatus
    note: str = Field(default="", max_length=2000)


def _localised(item: object, t: Translator) -> object:
    """A stored evidence item (a cause's) with its test label and detail in ``t``'s locale."""
    if not isinstance(item, dict):
        return item
    detail = str(item.get("detail", ""))
    return {
        **item,
        "test": localised_test(item.get("test_message"), str(item.get("test", "")), t),
        "detail": localised_detail(item.get("message"), detail, t),
    }


def _causes(causes: list[dict[str, Any]], t: Translator) -> list[dict[str, Any]]:
    return [
        {
            **c,
            **({"name": t.optional(str(c["name"]))} if c.get("name") else {}),
            "evidence_for": [_localised(e, t) for e in c.get("evidence_for", [])],
            "evidence_against": [_localised(e, t) for e in c.get("evidence_against", [])],
        }
        for c in causes
    ]


def _prediction(prediction: dict[str, Any], t: Translator) -> dict[str, Any]:
    """The stored prediction with its sentences (risk basis, next event) in ``t``'s locale."""
    out = dict(prediction)
    if "risk_basis" in out:
        out["risk_basis"] = localised_detail(
            out.get("risk_basis_message"), str(out["risk_basis"]), t
        )
    upcoming = out.get("next")
    if isinstance(upcoming, dict) and "event" in upcoming:
        event = localised_detail(upcoming.get("event_message"), str(upcoming["event"]), t)
        out["next"] = {**upcoming, "event": event}
    return out


def _note(tr: HazardTransitionRecord, t: Translator) -> str:
    if tr.message is not None:
        return localised_detail(tr.message, tr.note, t)
    return t.optional(tr.note) if tr.actor == "system" and tr.note else tr.note


def _detail(session: SessionDep, hazard: Hazard, locale: str) -> dict[str, Any]:
    """The hazard with its causes, evidence (details in ``locale``; ``message`` holds the
    sentence's key and parameters where stored) and transitions."""
    t = evidence_translator(locale)
    evidence = session.scalars(
        select(HazardEvidenceLink)
        .where(HazardEvidenceLink.hazard_id == hazard.id)
        .order_by(HazardEvidenceLink.id)
    ).all()
    transitions = session.scalars(
        select(HazardTransitionRecord)
        .where(HazardTransitionRecord.hazard_id == hazard.id)
        .order_by(HazardTransitionRecord.id)
    ).all()
    return {
        **HazardRead.model_validate(hazard).model_dump(mode="json"),
        "causes": _causes(hazard.causes, t),
        "prediction": _prediction(hazard.prediction or {}, t),
        "evidence": [
            {
                "kind": e.kind,
                "ref": e.ref,
                "test": localised_test(e.test_message, e.test, t),
                "detail": localised_detail(e.message, e.detail, t),
                "value": e.value,
                "unit": e.unit,
                "message": e.message,
                "test_message": e.test_message,
            }
            for e in evidence
        ],
        "transitions": [
            {
                "from": tr.from_status,
                "action": tr.action,
                "to": tr.to_status,
                # the system's notes in the reader's language (a phrase where stored, else a
                # fixed note from the catalogue); a person's as written
                "note": _note(tr, t),
                "message": tr.message,
                "actor": tr.actor,
                "at": tr.at.isoformat(),
            }
            for tr in transitions
        ],
        "allowed_transitions": [str(s) for s in allowed_targets(HazardStatus(hazard.status))],
    }


@router.get("/hazards")
def list_hazards(
    session: SessionDep,
    caller: CallerDep,
    asset_id: int | None = None,
    status: HazardStatus | None = None,
    min_risk: Annotated[int | None, Query(ge=1, le=25)] = None,
) -> list[HazardRead]:
    """Hazards of the organisation, highest risk first."""
    caller.require(Action.READ)
    q = select(Hazard).where(Hazard.organization_id == caller.organization_id)
    if asset_id is not None:
        q = q.where(Hazard.asset_id == asset_id)
    if status is not None:
        q = q.where(Hazard.status == str(status))
    if min_risk is not None:
        q = q.where(Hazard.risk >= min_risk)
    rows = session.scalars(q.order_by(Hazard.risk.desc(), Hazard.id)).all()
    return [HazardRead.model_validate(h) for h in rows]


@router.get("/hazards/{hazard_id}")
def get_hazard(
    hazard_id: int, session: SessionDep, caller: CallerDep, locale: LocaleDep
) -> dict[str, Any]:
    """A hazard with its ranked causes (evidence for and against), evidence and transitions.

    Evidence details are in the language ``Accept-Language`` prefers (en, zh-Hant, zh-Hans),
    else the caller's own; ``message`` gives each one's message key and parameters."""
    caller.require(Action.READ)
    hazard = get_owned(session, Hazard, hazard_id, caller.organization_id)
    return _detail(session, hazard, locale)


@router.post("/hazards/{hazard_id}/transitions")
def post_transition(
    hazard_id: int,
    body: HazardTransitionIn,
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
) -> dict[str, Any]:
    """Move a hazard (409 naming the allowed states when the lifecycle table forbids it)."""
    caller.require(Action.FIELD_WORK)
    hazard = transition_hazard(session, caller, hazard_id, str(body.to), body.note)
    out = _detail(session, hazard, locale)
    session.commit()
    return out


@router.post("/assets/{asset_id}/hazards/update")
def post_update(asset_id: int, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    """Derive the asset's hazards from its stored evidence now (idempotent)."""
    caller.require(Action.CONFIGURE)
    get_owned(session, Asset, asset_id, caller.organization_id)
    ids = update_hazards(session, caller.organization_id, asset_id)
    session.commit()
    return {"asset_id": asset_id, "hazards": ids}
