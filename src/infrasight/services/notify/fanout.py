"""The ``notify`` effect: facts -> notification events -> one delivery per matching subscription.

Applied by the job runner in the transaction that deletes the effect rows, so every fact is
turned into its event and deliveries exactly once. Each event carries a snapshot (asset,
element, evidence, link) so a text sent hours later says what was true when it happened.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.phrases import Phrase, phrase, phrase_list
from infrasight.jobs.runner import JobContext
from infrasight.notify.kinds import BAND_SEVERITY
from infrasight.storage.models import (
    AlarmEventRecord,
    AlarmRecord,
    AlarmRule,
    Asset,
    Channel,
    Element,
    Hazard,
    HazardEvidenceLink,
    HazardTransitionRecord,
    NotificationDelivery,
    NotificationEvent,
    NotificationSubscription,
    SlaEscalation,
    User,
    WorkOrder,
    WorkOrderEvent,
)

__all__ = ["apply_notify", "merge_notify", "subscribers"]

_ALARM_KINDS = {
    "raised": "alarm.raised",
    "re_raised": "alarm.raised",
    "no_data": "alarm.raised",
    "escalated": "alarm.escalated",
    "cleared": "alarm.cleared",
}
_HAZARD_ACTIONS = {"open": "hazard.opened", "reopen": "hazard.reopened"}


def merge_notify(arguments: list[dict[str, Any]]) -> dict[str, Any]:
    """The facts of every row, in the order they were written."""
    return {"facts": [fact for a in arguments for fact in a["facts"]]}


def _link(context: JobContext, path: str) -> str:
    return context.settings.public_url.rstrip("/") + path


def _asset_element(
    session: Session, asset_id: int | None, element_id: int | None
) -> tuple[int | None, str, str]:
    element = session.get(Element, element_id) if element_id is not None else None
    if element is not None and asset_id is None:
        asset_id = element.asset_id
    asset = session.get(Asset, asset_id) if asset_id is not None else None
    return asset_id, (asset.name if asset else ""), (element.name if element else "")


def _alarm_place(session: Session, alarm: AlarmRecord) -> tuple[int | None, str, str]:
    keys: list[str] = []
    if alarm.rule_id is not None:
        rule = session.get(AlarmRule, alarm.rule_id)
        keys = list(rule.definition.get("channels", [])) if rule else []
    else:
        keys = [alarm.key.split("/")[0]]
    channel = session.scalars(
        select(Channel)
        .where(Channel.organization_id == alarm.organization_id, Channel.key.in_(keys))
        .order_by(Channel.id)
    ).first()
    if channel is None or channel.element_id is None:
        return None, "", ""
    return _asset_element(session, None, channel.element_id)


def _hazard_snapshot(context: JobContext, session: Session, hazard: Hazard) -> dict[str, Any]:
    asset_id, asset, element = _asset_element(session, hazard.asset_id, hazard.element_id)
    refs = session.scalars(
        select(HazardEvidenceLink.ref)
        .where(HazardEvidenceLink.hazard_id == hazard.id)
        .order_by(HazardEvidenceLink.id)
        .limit(3)
    ).all()
    return {
        "asset_id": asset_id,
        "asset": asset,
        "element": element,
        "severity": BAND_SEVERITY.get(hazard.risk_band, 0),
        "subject": f"{hazard.mechanism} (hazard {hazard.id})",
        # the subject as a message key and parameters: read in each recipient's language
        "subject_message": phrase(
            "{mechanism!t} (hazard {id})", mechanism=hazard.mechanism, id=str(hazard.id)
        ).as_dict(),
        "evidence": list(refs),
        "risk_band": hazard.risk_band,
        "link": _link(context, f"/api/v1/hazards/{hazard.id}"),
    }


def _work_order_snapshot(context: JobContext, session: Session, wo: WorkOrder) -> dict[str, Any]:
    hazard = session.get(Hazard, wo.hazard_id) if wo.hazard_id is not None else None
    snap = _hazard_snapshot(context, session, hazard) if hazard else {}
    asset_id, asset, element = _asset_element(
        session, wo.asset_id, hazard.element_id if hazard else None
    )
    assignee = session.get(User, wo.assignee_id) if wo.assignee_id is not None else None
    return {
        **snap,
        "asset_id": asset_id,
        "asset": asset,
        "element": element,
        "subject": f"{wo.title} (work order {wo.id})",
        "subject_message": phrase_list(
            Phrase.from_dict(wo.title_message) or phrase("{note}", note=wo.title),
            phrase("(work order {id})", id=str(wo.id)),
            join=" ",
        ).as_dict(),
        "assignee": assignee.email if assignee else "",
        "due_at": wo.due_at.isoformat(),
        "status": wo.status,
        "link": _link(context, f"/api/v1/work-orders/{wo.id}"),
    }


def _alarm_snapshot(context: JobContext, session: Session, alarm: AlarmRecord) -> dict[str, Any]:
    asset_id, asset, element = _alarm_place(session, alarm)
    return {
        "asset_id": asset_id,
        "asset": asset,
        "element": element,
        "severity": alarm.severity,
        "subject": f"{alarm.key} ({alarm.level_name})",
        "subject_message": phrase(
            "{key} ({level!t})", key=alarm.key, level=alarm.level_name
        ).as_dict(),
        "link": _link(context, f"/api/v1/alarms/{alarm.id}"),
    }


def _event(
    context: JobContext, session: Session, fact: dict[str, Any]
) -> tuple[str, str, int, dict[str, Any]] | None:
    """(kind, subject type, subject id, payload) of a fact, or None when nobody hears of it."""
    kind_of = fact["t"]
    if kind_of == "alarm_event":
        ev = session.get(AlarmEventRecord, int(fact["id"]))
        if ev is None:
            return None
        kind = _ALARM_KINDS.get(ev.kind)
        if ev.kind == "level_changed":
            before = session.scalar(
                select(AlarmEventRecord.level)
                .where(AlarmEventRecord.alarm_id == ev.alarm_id, AlarmEventRecord.id < ev.id)
                .order_by(AlarmEventRecord.id.desc())
                .limit(1)
            )
            kind = "alarm.escalated" if before is not None and ev.level > before else None
        alarm = session.get(AlarmRecord, ev.alarm_id)
        if kind is None or alarm is None:
            return None
        payload = _alarm_snapshot(context, session, alarm)
        payload |= {"severity": ev.severity, "level": ev.level_name, "note": ev.note}
        payload |= {"note_message": ev.message} if ev.message else {}
        payload["evidence"] = [f"{ev.level_name} at {ev.time.isoformat()}"]
        payload["evidence_messages"] = [
            phrase("{level!t} at {time!d}", level=ev.level_name, time=ev.time.isoformat()).as_dict()
        ]
        return kind, "alarm", alarm.id, payload
    if kind_of == "hazard_transition":
        tr = session.get(HazardTransitionRecord, int(fact["id"]))
        kind = _HAZARD_ACTIONS.get(tr.action) if tr is not None else None
        hazard = session.get(Hazard, tr.hazard_id) if tr is not None else None
        if tr is None or kind is None or hazard is None:
            return None
        payload = _hazard_snapshot(context, session, hazard) | {"note": tr.note}
        payload |= {"note_message": tr.message} if tr.message else {}
        if "band" in fact:  # as it was when the transition was written
            payload["risk_band"] = fact["band"]
            payload["severity"] = BAND_SEVERITY.get(fact["band"], 0)
        return kind, "hazard", hazard.id, payload
    if kind_of == "hazard_band":
        hazard = session.get(Hazard, int(fact["id"]))
        rise = BAND_SEVERITY.get(fact["to"], 0) > BAND_SEVERITY.get(fact["from"], 0)
        if hazard is None or not rise:
            return None
        payload = _hazard_snapshot(context, session, hazard)
        payload["note"] = f"risk {fact['from']} -> {fact['to']}"
        payload["note_message"] = phrase(
            "risk {before!t} -> {after!t}", before=str(fact["from"]), after=str(fact["to"])
        ).as_dict()
        payload["risk_band"] = fact["to"]
        payload["severity"] = BAND_SEVERITY.get(fact["to"], 0)
        return "hazard.escalated", "hazard", hazard.id, payload
    if kind_of == "work_order_event":
        wev = session.get(WorkOrderEvent, int(fact["id"]))
        wo = session.get(WorkOrder, wev.work_order_id) if wev is not None else None
        if wev is None or wo is None:
            return None
        if wev.to_status == "assigned":
            kind = "work_order.assigned"
        elif wev.from_status == "verifying" and wev.to_status == "closed":
            kind = "work_order.verified"
        elif wev.from_status == "verifying" and wev.to_status == "reopened":
            kind = "work_order.verification_failed"
        else:
            return None
        payload = _work_order_snapshot(context, session, wo) | {"note": wev.note}
        payload |= {"note_message": wev.message} if wev.message else {}
        return kind, "work_order", wo.id, payload
    if kind_of == "sla":
        esc = session.get(SlaEscalation, int(fact["id"]))
        if esc is None:
            return None
        snapshot: dict[str, Any] = {}
        if esc.subject_type == "alarm" and (alarm := session.get(AlarmRecord, esc.subject_id)):
            snapshot = _alarm_snapshot(context, session, alarm)
        elif esc.subject_type == "hazard" and (hz := session.get(Hazard, esc.subject_id)):
            snapshot = _hazard_snapshot(context, session, hz)
        elif esc.subject_type == "work_order" and (wo := session.get(WorkOrder, esc.subject_id)):
            snapshot = _work_order_snapshot(context, session, wo)
        if not snapshot:
            return None
        payload = snapshot | {"step": esc.step, "sla_rule": esc.rule, "severity": esc.severity}
        return esc.event, esc.subject_type, esc.subject_id, payload
    return None


def subscribers(
    session: Session, organization_id: int, kind: str, severity: int, asset_id: int | None
) -> list[NotificationSubscription]:
    """The organisation's enabled subscriptions whose filters let this event through."""
    rows = session.scalars(
        select(NotificationSubscription)
        .where(
            NotificationSubscription.organization_id == organization_id,
            NotificationSubscription.enabled,
        )
        .order_by(NotificationSubscription.id)
    ).all()
    return [
        s
        for s in rows
        if (not s.event_kinds or kind in s.event_kinds)
        and severity >= s.min_severity
        and (not s.asset_ids or asset_id in s.asset_ids)
    ]


def apply_notify(
    context: JobContext, session: Session, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Effect handler: store each fact's event and a pending delivery per matching subscription."""
    events = deliveries = 0
    for fact in arguments["facts"]:
        found = _event(context, session, fact)
        if found is None:
            continue
        kind, subject_type, subject_id, payload = found
        org = _organization(session, subject_type, subject_id)
        if org is None:
            continue
        event = NotificationEvent(
            organization_id=org,
            kind=kind,
            severity=int(payload.get("severity") or 0),
            asset_id=payload.get("asset_id"),
            subject_type=subject_type,
            subject_id=subject_id,
            payload=payload,
        )
        session.add(event)
        session.flush()
        events += 1
        for sub in subscribers(session, org, kind, event.severity, event.asset_id):
            session.add(
                NotificationDelivery(organization_id=org, event_id=event.id, subscription_id=sub.id)
            )
            deliveries += 1
    session.flush()
    return {"events": events, "deliveries": deliveries}


def _organization(session: Session, subject_type: str, subject_id: int) -> int | None:
    row: AlarmRecord | Hazard | WorkOrder | None
    if subject_type == "alarm":
        row = session.get(AlarmRecord, subject_id)
    elif subject_type == "hazard":
        row = session.get(Hazard, subject_id)
    else:
        row = session.get(WorkOrder, subject_id)
    return int(row.organization_id) if row is not None else None
