"""Verify a work order's repair from the measurements after its completion, then close it (and
resolve its hazard) or reopen it (and the hazard) with the evidence.

The method comes from ``reasoning/verification/rules.toml`` (by action, else mechanism): tracked
cracks re-inspected (``services/defect_tracking``), readings of the hazard's channels back within
the alarm rules' limits and settled, or the repaired channel's sensor health. The engineer who
runs the verification signs it off. A work order may close only after a passed verification.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.domain import Action
from infrasight.core.errors import ConflictError
from infrasight.core.phrases import N_, Phrase, phrase, phrase_list
from infrasight.reasoning.hazards import TRANSITIONS as HAZARD_TRANSITIONS
from infrasight.reasoning.hazards import HazardAction, HazardStatus
from infrasight.reasoning.hazards import apply_action as apply_hazard_action
from infrasight.reasoning.verification import (
    Check,
    CrackObservation,
    Method,
    Outcome,
    VerificationRule,
    VerificationRules,
    combine,
    judge_crack,
    judge_readings,
    load_verification_rules,
)
from infrasight.reasoning.work_orders import WorkOrderAction, WorkOrderStatus, apply_action
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.services.hazard_transitions import record_hazard_transition
from infrasight.services.work_orders import get_work_order
from infrasight.storage.models import (
    AlarmRule,
    Channel,
    Defect,
    DefectSighting,
    DefectTrack,
    Hazard,
    HazardEvidenceLink,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderVerification,
)
from infrasight.storage.readings import fetch_series

__all__ = [
    "completion_time",
    "has_passed_verification",
    "reopen_on_recurrence",
    "verify_work_order",
]

_log = logging.getLogger(__name__)
_CHANNEL_REF = re.compile(r"^channel:([^\[]+)")
_DEFECT_REF = re.compile(r"^defect:(\d+)")
DAY_US = 86_400_000_000


def completion_time(session: Session, wo: WorkOrder) -> datetime | None:
    """When the work order last moved to ``completed``."""
    return session.scalar(
        select(WorkOrderEvent.at)
        .where(
            WorkOrderEvent.work_order_id == wo.id,
            WorkOrderEvent.to_status == str(WorkOrderStatus.COMPLETED),
        )
        .order_by(WorkOrderEvent.id.desc())
        .limit(1)
    )


def has_passed_verification(session: Session, work_order_id: int) -> bool:
    """Whether the newest verification of the work order passed."""
    outcome = session.scalar(
        select(WorkOrderVerification.outcome)
        .where(WorkOrderVerification.work_order_id == work_order_id)
        .order_by(WorkOrderVerification.id.desc())
        .limit(1)
    )
    return outcome == str(Outcome.PASSED)


def _evidence_refs(session: Session, hazard: Hazard | None) -> list[str]:
    if hazard is None:
        return []
    return list(
        session.scalars(
            select(HazardEvidenceLink.ref)
            .where(HazardEvidenceLink.hazard_id == hazard.id)
            .order_by(HazardEvidenceLink.id)
        )
    )


def _width(defect: Defect | None) -> tuple[float | None, float | None]:
    q = None if defect is None else defect.measurements.get("width_max")
    if defect is None or defect.measurements.get("unit") != "mm" or not isinstance(q, dict):
        return None, None
    return float(q["value"]), float(q.get("std") or 0.0)


def _crack_checks(
    session: Session,
    hazard: Hazard | None,
    done: datetime,
    rule: VerificationRule,
    period_days: float,
) -> list[Check]:
    defect_ids = [
        int(m.group(1)) for r in _evidence_refs(session, hazard) if (m := _DEFECT_REF.match(r))
    ]
    track_ids: list[int] = []
    if defect_ids:
        track_ids = sorted(
            set(
                session.scalars(
                    select(DefectSighting.track_id).where(DefectSighting.defect_id.in_(defect_ids))
                )
            )
        )
    elif hazard is not None and hazard.element_id is not None:
        track_ids = list(
            session.scalars(
                select(DefectTrack.id)
                .where(DefectTrack.element_id == hazard.element_id)
                .where(DefectTrack.first_seen_at <= done)
                .order_by(DefectTrack.id)
            )
        )
    if not track_ids:
        return [
            Check(
                test=N_("tracked defects"),
                ref=f"hazard:{hazard.id if hazard else '-'}",
                outcome=Outcome.PENDING,
                phrase=phrase(
                    "no tracked defect of the hazard's element was seen before completion"
                ),
            )
        ]
    checks = []
    for track_id in track_ids:
        before: CrackObservation | None = None
        after: list[CrackObservation] = []
        rows = session.execute(
            select(DefectSighting)
            .where(DefectSighting.track_id == track_id)
            .order_by(DefectSighting.time, DefectSighting.id)
        ).scalars()
        for s in rows:
            defect = session.get(Defect, s.defect_id) if s.defect_id else None
            w, w_std = _width(defect)
            obs = CrackObservation(
                days=(s.time - done).total_seconds() / 86400.0,
                detected=defect is not None,
                width=w,
                width_std=w_std,
            )
            if s.time <= done:
                before = obs if obs.detected else before
            else:
                after.append(obs)
        checks.append(
            judge_crack(f"defect_track:{track_id}", before, after, rule, period_days=period_days)
        )
    return checks


def _channels(session: Session, organization_id: int, hazard: Hazard | None) -> list[Channel]:
    keys = [m.group(1) for r in _evidence_refs(session, hazard) if (m := _CHANNEL_REF.match(r))]
    q = select(Channel).where(Channel.organization_id == organization_id)
    if keys:
        rows = session.scalars(q.where(Channel.key.in_(keys)).order_by(Channel.id)).all()
    elif hazard is not None and hazard.element_id is not None:
        rows = session.scalars(
            q.where(Channel.element_id == hazard.element_id).order_by(Channel.id)
        ).all()
    else:
        rows = []
    return [c for c in rows if not c.key.endswith(".anomaly")]


def _limits(session: Session, channel: Channel) -> tuple[float | None, float | None]:
    """The first level's value limits of the enabled rules watching ``channel``."""
    lower: float | None = None
    upper: float | None = None
    rules = session.scalars(
        select(AlarmRule).where(
            AlarmRule.organization_id == channel.organization_id, AlarmRule.enabled.is_(True)
        )
    )
    for rule in rules:
        d = rule.definition
        if channel.key not in d.get("channels", []) or not d.get("levels"):
            continue
        for lim in d["levels"][0].get("limits", []):
            if lim.get("quantity") != "value":
                continue
            if lim.get("upper") is not None:
                up = float(lim["upper"])
                upper = up if upper is None else min(upper, up)
            if lim.get("lower") is not None:
                lo = float(lim["lower"])
                lower = lo if lower is None else max(lower, lo)
    return lower, upper


def _series(session: Session, channel_id: int, done_us: int) -> tuple[np.ndarray, np.ndarray]:
    t, v = fetch_series(session, channel_id, after_us=done_us)
    return (t - done_us) / DAY_US, v


def _reading_checks(
    session: Session,
    organization_id: int,
    hazard: Hazard | None,
    done: datetime,
    rule: VerificationRule,
    period_days: float,
) -> list[Check]:
    channels = _channels(session, organization_id, hazard)
    if not channels:
        return [
            Check(
                test=N_("channels"),
                ref=f"hazard:{hazard.id if hazard else '-'}",
                outcome=Outcome.PENDING,
                phrase=phrase("the hazard names no channel and its element has none"),
            )
        ]
    done_us = int(done.timestamp() * 1_000_000)
    checks: list[Check] = []
    for ch in channels:
        days, values = _series(session, ch.id, done_us)
        anomaly = session.scalar(select(Channel).where(Channel.key == f"{ch.key}.anomaly"))
        anomaly_max = None
        if anomaly is not None and days.size:
            a_days, a_vals = _series(session, anomaly.id, done_us)
            window = a_days >= float(days.max()) - period_days
            anomaly_max = float(a_vals[window].max()) if window.any() else None
        if rule.method is Method.SENSOR_HEALTH:
            checks.append(_health_check(ch, days, values, period_days))
            continue
        lower, upper = _limits(session, ch)
        checks.extend(
            judge_readings(
                f"channel:{ch.key}",
                days,
                values,
                rule,
                period_days=period_days,
                lower=lower,
                upper=upper,
                anomaly_max_seen=anomaly_max,
                unit=ch.unit,
            )
        )
    return checks


def _health_check(ch: Channel, days: np.ndarray, values: np.ndarray, period_days: float) -> Check:
    from infrasight.signals import NotEnoughDataError
    from infrasight.signals.health import assess_channel

    ref = f"channel:{ch.key}"
    span = float(days.max()) if days.size else 0.0
    if span < period_days:
        return Check(
            test=N_("sensor health"),
            ref=ref,
            outcome=Outcome.PENDING,
            phrase=phrase(
                "{span:.1f} of {period:g} days of readings after completion",
                span=span,
                period=period_days,
            ),
        )
    try:
        finding = assess_channel(days * 86400.0, values)
    except NotEnoughDataError as err:
        return Check(test=N_("sensor health"), ref=ref, outcome=Outcome.PENDING, detail=str(err))
    ok = not finding.is_sensor_fault and str(finding.label) == "normal"
    return Check(
        test=N_("sensor health"),
        ref=ref,
        outcome=Outcome.PASSED if ok else Outcome.FAILED,
        detail=finding.evidence or str(finding.label),
        phrase=finding.phrase,
    )


def _hazard_step(
    session: Session, principal: Principal, hazard: Hazard, action: HazardAction, note: Phrase
) -> None:
    current = HazardStatus(hazard.status)
    if (current, action) not in HAZARD_TRANSITIONS:
        return
    record_hazard_transition(
        session,
        hazard,
        apply_hazard_action(current, action, note),
        actor=principal.name,
        audit_as=principal,
    )


#: Verification methods, as words the ``evidence`` domain translates.
METHOD_WORDS = (N_("reinspection"), N_("readings"), N_("sensor_health"))


def _move(
    session: Session,
    principal: Principal,
    wo: WorkOrder,
    action: WorkOrderAction,
    note: str | Phrase,
) -> None:
    tr = apply_action(WorkOrderStatus(wo.status), action, note)
    wo.status = str(tr.to_status)
    session.add(
        WorkOrderEvent(
            work_order_id=wo.id,
            kind="transition",
            from_status=str(tr.from_status),
            action=str(tr.action),
            to_status=str(tr.to_status),
            note=tr.note,
            actor=principal.name,
            message=None if tr.phrase is None else tr.phrase.as_dict(),
        )
    )
    record_audit(
        session,
        principal,
        f"work_order.{action}",
        "work_order",
        wo.id,
        {"from": str(tr.from_status), "to": str(tr.to_status), "note": tr.note},
    )


def verify_work_order(
    session: Session,
    principal: Principal,
    work_order_id: int,
    *,
    period_days: float | None = None,
    note: str = "",
    rules: VerificationRules | None = None,
) -> WorkOrderVerification:
    """Judge a completed work order's repair from the data after it and act on the outcome.

    A completed work order moves to ``verifying`` first. Passed: the work order is closed
    (signed off by the caller) and its hazard resolved, both noting the verification. Failed:
    the work order is reopened and its hazard reopened (or, while mitigating, given the failed
    evidence), with the checks that failed. Pending: it stays ``verifying``. Every verification
    is stored with its checks.

    Raises
    ------
    NotFoundError
        No such work order in the caller's organisation.
    PermissionDeniedError
        Less than an engineer (the verification is a sign-off).
    ConflictError
        The work order is not completed or verifying.
    InvalidInputError
        ``period_days`` out of the rules' range (field ``period_days``).
    """
    wo = get_work_order(session, principal, work_order_id)
    principal.require(Action.CONFIGURE)
    cfg = rules if rules is not None else load_verification_rules()
    status = WorkOrderStatus(wo.status)
    if status not in (WorkOrderStatus.COMPLETED, WorkOrderStatus.VERIFYING):
        raise ConflictError(
            f"work order {wo.id} is {status}; only a completed or verifying work order is verified"
        )
    hazard = session.get(Hazard, wo.hazard_id) if wo.hazard_id is not None else None
    rule = cfg.for_work(wo.action_id, hazard.mechanism if hazard else "")
    period = cfg.check_period(rule.period_days if period_days is None else period_days)
    done = completion_time(session, wo) or wo.updated_at
    if rule.method is Method.REINSPECTION:
        checks = _crack_checks(session, hazard, done, rule, period)
    else:
        checks = _reading_checks(session, principal.organization_id, hazard, done, rule, period)
    outcome = combine(checks)
    if status is WorkOrderStatus.COMPLETED:
        _move(session, principal, wo, WorkOrderAction.VERIFY, "")
    record = WorkOrderVerification(
        work_order_id=wo.id,
        hazard_id=None if hazard is None else hazard.id,
        method=str(rule.method),
        outcome=str(outcome),
        period_days=period,
        evidence=[c.as_dict() for c in checks],
        note=note.strip(),
        decided_by=principal.name,
    )
    session.add(record)
    session.flush()
    failed = [c for c in checks if c.outcome is Outcome.FAILED]
    summary = "; ".join(f"{c.ref}: {c.detail}" for c in (failed or checks))[:1800]
    cited = failed or checks
    said = (
        phrase_list(*(c.phrase or phrase("{note}", note=c.detail) for c in cited)).as_dict()
        if cited
        else None
    )
    # the checks with their references, as the English summary reads ("ref: detail; ...")
    told = (
        phrase_list(
            *(
                phrase_list(
                    phrase("{note}", note=c.ref),
                    c.phrase or phrase("{note}", note=c.detail),
                    join=":",
                )
                for c in cited
            ),
            join=";",
        )
        if cited
        else None
    )
    details: dict[str, Any] = {
        "verification_id": record.id,
        "method": str(rule.method),
        "outcome": str(outcome),
        "source": rule.source,
    }
    session.add(
        WorkOrderEvent(
            work_order_id=wo.id,
            kind="verification",
            note=summary,
            details=details,
            actor=principal.name,
            message=None if told is None else told.as_dict(),
        )
    )
    record_audit(session, principal, "work_order.verification", "work_order", wo.id, details)
    if outcome is Outcome.PASSED:
        sign = (
            phrase(
                "verified ({method!t}) and signed off by {name}. {note}",
                method=str(rule.method),
                name=principal.name,
                note=note.strip(),
            )
            if note.strip()
            else phrase(
                "verified ({method!t}) and signed off by {name}",
                method=str(rule.method),
                name=principal.name,
            )
        )
        _move(session, principal, wo, WorkOrderAction.CLOSE, sign)
        if hazard is not None:
            ids = {"order": wo.id, "verification": record.id}
            _hazard_step(
                session,
                principal,
                hazard,
                HazardAction.ACKNOWLEDGE,
                phrase("work order {order}, verification {verification}", **ids),
            )
            _hazard_step(
                session,
                principal,
                hazard,
                HazardAction.RESOLVE,
                phrase("repair verified: work order {order}, verification {verification}", **ids),
            )
            session.add(
                HazardEvidenceLink(
                    hazard_id=hazard.id,
                    kind="verification",
                    ref=f"verification:{record.id}",
                    test=N_("repair verified"),
                    detail=summary,
                    message=said,
                )
            )
    elif outcome is Outcome.FAILED:
        reason = phrase("verification failed")
        _move(
            session,
            principal,
            wo,
            WorkOrderAction.REOPEN,
            reason if told is None else phrase_list(reason, told, join=":"),
        )
        if hazard is not None:
            current = HazardStatus(hazard.status)
            action = (
                HazardAction.REOPEN
                if current is HazardStatus.RESOLVED
                else HazardAction.NEW_EVIDENCE
            )
            _hazard_step(
                session,
                principal,
                hazard,
                action,
                phrase(
                    "repair not verified: work order {order}, verification {verification}",
                    order=wo.id,
                    verification=record.id,
                ),
            )
            session.add(
                HazardEvidenceLink(
                    hazard_id=hazard.id,
                    kind="verification",
                    ref=f"verification:{record.id}",
                    test=N_("repair verification failed"),
                    detail=summary,
                    message=said,
                )
            )
    session.flush()
    _log.info("work order %s verification %s: %s", wo.id, record.id, outcome)
    return record


def reopen_on_recurrence(session: Session, hazard: Hazard, note: str | Phrase) -> list[int]:
    """Reopen the hazard's closed work orders because the hazard came back (new evidence after
    it was resolved); returns their ids. Each reopening is a work-order event (``note``: a
    phrase, or English text) and an audit row by ``system``."""
    system = Principal(organization_id=hazard.organization_id, name="system")
    reopened = []
    rows = session.scalars(
        select(WorkOrder).where(
            WorkOrder.hazard_id == hazard.id, WorkOrder.status == str(WorkOrderStatus.CLOSED)
        )
    ).all()
    for wo in rows:
        _move(session, system, wo, WorkOrderAction.REOPEN, note)
        reopened.append(wo.id)
        _log.info("work order %s reopened: hazard %s recurred", wo.id, hazard.id)
    return reopened
