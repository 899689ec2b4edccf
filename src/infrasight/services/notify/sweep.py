"""The SLA sweep: escalate unacknowledged alarms, unattended hazards and late work orders.

Periodic (the server runs it beside the alarm sweep; ``infrasight notify sweep`` and
``POST /notifications/sweep`` run it by hand). For each unattended item the policy
(``notify/sla.toml``) gives the step reached now; a step is recorded once (a unique row per
item, rule, clock start and step) with an audit event, so a second sweep in the same step
writes nothing. Each new step is a notification fact (``capture.py``) in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.notify.kinds import BAND_SEVERITY
from infrasight.notify.sla import SlaPolicy, SlaRule, due_step
from infrasight.storage.models import AlarmRecord, AuditEvent, Hazard, SlaEscalation, WorkOrder

__all__ = ["Escalation", "sweep_sla"]

_LOGGER = logging.getLogger(__name__)
SWEEP_ACTOR = "system:sla-sweep"


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """One escalation step recorded by a sweep."""

    organization_id: int
    subject_type: str
    subject_id: int
    rule: str
    event: str
    step: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Item:
    organization_id: int
    subject_type: str
    subject_id: int
    status: str
    severity: int
    start: datetime
    due: datetime | None


def _items(session: Session, policy: SlaPolicy) -> Iterator[_Item]:
    subjects = {r.subject for r in policy.rules}
    if "alarm" in subjects:
        statuses = {s for r in policy.rules if r.subject == "alarm" for s in r.statuses}
        for a in session.scalars(select(AlarmRecord).where(AlarmRecord.status.in_(statuses))):
            yield _Item(
                organization_id=a.organization_id,
                subject_type="alarm",
                subject_id=a.id,
                status=a.status,
                severity=a.severity,
                start=a.raised_at,
                due=None,
            )
    if "hazard" in subjects:
        statuses = {s for r in policy.rules if r.subject == "hazard" for s in r.statuses}
        for h in session.scalars(select(Hazard).where(Hazard.status.in_(statuses))):
            yield _Item(
                organization_id=h.organization_id,
                subject_type="hazard",
                subject_id=h.id,
                status=h.status,
                severity=BAND_SEVERITY.get(h.risk_band, 0),
                start=h.created_at,
                due=None,
            )
    if "work_order" in subjects:
        statuses = {s for r in policy.rules if r.subject == "work_order" for s in r.statuses}
        rows = session.execute(
            select(WorkOrder, Hazard.risk_band)
            .outerjoin(Hazard, Hazard.id == WorkOrder.hazard_id)
            .where(WorkOrder.status.in_(statuses))
        ).all()
        for wo, band in rows:
            yield _Item(
                organization_id=wo.organization_id,
                subject_type="work_order",
                subject_id=wo.id,
                status=wo.status,
                severity=BAND_SEVERITY.get(band or "", 0),
                start=wo.created_at,
                due=wo.due_at,
            )


def _record(
    session: Session, item: _Item, rule: SlaRule, anchor_s: int, step: int
) -> Escalation | None:
    seen = session.scalar(
        select(SlaEscalation.id).where(
            SlaEscalation.organization_id == item.organization_id,
            SlaEscalation.subject_type == item.subject_type,
            SlaEscalation.subject_id == item.subject_id,
            SlaEscalation.rule == rule.id,
            SlaEscalation.anchor_s == anchor_s,
            SlaEscalation.step == step,
        )
    )
    if seen is not None:
        return None
    session.add(
        SlaEscalation(
            organization_id=item.organization_id,
            subject_type=item.subject_type,
            subject_id=item.subject_id,
            rule=rule.id,
            anchor_s=anchor_s,
            step=step,
            event=rule.event,
            severity=item.severity,
        )
    )
    session.add(
        AuditEvent(
            organization_id=item.organization_id,
            actor=SWEEP_ACTOR,
            action="sla.escalate",
            entity=item.subject_type,
            entity_id=item.subject_id,
            details={"rule": rule.id, "event": rule.event, "step": step, "status": item.status},
        )
    )
    return Escalation(
        organization_id=item.organization_id,
        subject_type=item.subject_type,
        subject_id=item.subject_id,
        rule=rule.id,
        event=rule.event,
        step=step,
    )


def sweep_sla(session: Session, policy: SlaPolicy, now: datetime) -> list[Escalation]:
    """Record, in ``session``, every escalation step reached at ``now`` and not yet recorded.

    Only the step reached now is recorded (a sweep that did not run for a while sends one
    reminder, not the missed ones).
    """
    out: list[Escalation] = []
    now_s = now.timestamp()
    for item in list(_items(session, policy)):
        for rule in policy.rules_for(item.subject_type, item.status, item.severity):
            anchor = item.due if rule.clock == "due" else item.start
            if anchor is None:
                continue
            anchor_s = int(anchor.timestamp())
            step = due_step(rule, anchor_s=anchor_s, now_s=now_s)
            if step == 0:
                continue
            done = _record(session, item, rule, anchor_s, step)
            if done is not None:
                out.append(done)
    session.flush()
    if out:
        _LOGGER.info("SLA sweep: %d escalation(s)", len(out))
    return out
