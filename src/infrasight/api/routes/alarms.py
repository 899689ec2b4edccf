"""Alarm rules (graded limits declared as data) and the alarms they raise."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import func, select

from infrasight.api.deps import CallerDep, LocaleDep, SessionDep
from infrasight.api.routes.common import (
    DbId,
    IsoTime,
    Limit,
    Offset,
    Page,
    ReadModel,
    RequestModel,
    flush_or_conflict,
    get_owned,
    page_of,
    reject_nulls,
)
from infrasight.core.domain import Action
from infrasight.core.timeparse import datetime_to_us
from infrasight.locales import Translator
from infrasight.locales.phrases import evidence_translator, localised_detail
from infrasight.locales.rules import rule_summary
from infrasight.services.alarms import (
    acknowledge_alarm,
    check_rule_channels,
    clear_alarm,
    evaluate_rule_row,
    parse_rule_definition,
    rule_definition,
)
from infrasight.services.audit import record_audit
from infrasight.storage.models import AlarmEventRecord, AlarmRecord, AlarmRule

router = APIRouter(tags=["alarms"])

_EXAMPLE: dict[str, Any] = {
    "id": "P2-settlement",
    "channels": ["VD-P2-SETTLE"],
    "levels": [
        {"name": "amber", "severity": 1, "limits": [{"quantity": "value", "upper": 3.0}]},
        {
            "name": "red",
            "severity": 2,
            "limits": [{"quantity": "value", "upper": 5.0}, {"quantity": "rate", "upper": 0.5}],
        },
    ],
    "persistence_count": 3,
}


class RuleCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"definition": _EXAMPLE, "escalate_after_s": 1800}]}
    )

    definition: dict[str, Any] = Field(
        description="Rule as data (see infrasight.signals.rules)", examples=[_EXAMPLE]
    )
    enabled: StrictBool = True
    escalate_after_s: StrictFloat | None = Field(default=None, gt=0)


class RuleUpdate(RequestModel):
    definition: dict[str, Any] | SkipJsonSchema[None] = None
    enabled: StrictBool | SkipJsonSchema[None] = None
    escalate_after_s: StrictFloat | None = Field(default=None, gt=0)


class RuleRead(ReadModel):
    id: int
    key: str
    definition: dict[str, Any]
    enabled: bool
    escalate_after_s: float | None
    created_at: datetime
    updated_at: datetime
    summary: str = Field(
        default="",
        description="channels and levels with their limits in one line, in the reader's "
        "language (``VD-SETTLE: amber value > 3``)",
    )


def _summarised(rule: RuleRead, locale: str) -> RuleRead:
    return rule.model_copy(update={"summary": rule_summary(rule.definition, locale)})


class EvaluateRequest(RequestModel):
    since: IsoTime | None = Field(default=None, description="Re-evaluate from this time")


class EvaluateResult(BaseModel):
    transitions: int


class AlarmEventRead(ReadModel):
    kind: str
    time: datetime
    actor: str
    from_status: str | None
    to_status: str
    level: int
    level_name: str
    severity: int
    note: str = Field(description="what happened (the system's notes in the reader's language)")
    message: dict[str, Any] | None = Field(
        default=None, description="the system's note as a message key and parameters, where stored"
    )


class AlarmRead(ReadModel):
    id: int
    rule_id: DbId | None
    category: str = Field(description="rule, maintenance (a faulty gauge) or structural")
    device_id: DbId | None
    key: str
    status: str
    level: int
    level_name: str
    severity: int
    raised_at: datetime
    updated_at: datetime
    note: str = Field(
        default="",
        description="what was seen: fault class, since when, evidence (in the reader's language)",
    )
    note_message: dict[str, Any] | None = Field(
        default=None, description="the note as a message key and parameters, where stored"
    )
    last_event: AlarmEventRead | None = Field(
        default=None, description="the newest transition (in the list; the detail has them all)"
    )


class AlarmDetail(AlarmRead):
    events: list[AlarmEventRead]


class AlarmAction(RequestModel):
    note: str = Field(default="", max_length=2000)


@router.post("/rules", status_code=status.HTTP_201_CREATED)
def create_rule(body: RuleCreate, session: SessionDep, caller: CallerDep) -> RuleRead:
    """Create an alarm rule (thresholds, rates, no-data checks on channels) from its definition; it
    is evaluated on every new batch.
    """
    caller.require(Action.CONFIGURE)
    rule = parse_rule_definition(body.definition)
    check_rule_channels(session, caller.organization_id, rule)
    row = AlarmRule(
        organization_id=caller.organization_id,
        key=rule.id,
        definition=rule_definition(rule),
        enabled=body.enabled,
        escalate_after_s=body.escalate_after_s,
    )
    session.add(row)
    flush_or_conflict(session, f"rule {rule.id!r}")
    record_audit(session, caller, "create", "rule", row.id, {"key": rule.id})
    session.commit()
    return RuleRead.model_validate(row)


@router.get("/rules")
def list_rules(
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[RuleRead]:
    """The organisation's alarm rules, each with its ``summary`` in the language
    ``Accept-Language`` asks for (else the caller's own)."""
    caller.require(Action.READ)
    query = (
        select(AlarmRule)
        .where(AlarmRule.organization_id == caller.organization_id)
        .order_by(AlarmRule.id)
    )
    found = page_of(session, query, limit, offset, RuleRead)
    return found.model_copy(update={"items": [_summarised(r, locale) for r in found.items]})


@router.get("/rules/{rule_id}")
def get_rule(rule_id: DbId, session: SessionDep, caller: CallerDep, locale: LocaleDep) -> RuleRead:
    """One alarm rule with its definition and ``summary`` (in the reader's language)."""
    caller.require(Action.READ)
    row = get_owned(session, AlarmRule, rule_id, caller.organization_id)
    return _summarised(RuleRead.model_validate(row), locale)


@router.patch("/rules/{rule_id}")
def update_rule(
    rule_id: DbId, body: RuleUpdate, session: SessionDep, caller: CallerDep
) -> RuleRead:
    """Change a rule; a new definition restarts its evaluation from the next batch."""
    caller.require(Action.CONFIGURE)
    row = get_owned(session, AlarmRule, rule_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, frozenset({"escalate_after_s"}))
    if changes.get("definition") is not None:
        rule = parse_rule_definition(changes["definition"])
        if rule.id != row.key:
            from infrasight.core.errors import InvalidInputError

            raise InvalidInputError(f"the rule id must stay {row.key!r}", field="definition.id")
        check_rule_channels(session, caller.organization_id, rule)
        row.definition = rule_definition(rule)
        row.state = {}
    if changes.get("enabled") is not None:
        row.enabled = changes["enabled"]
    if "escalate_after_s" in changes:
        row.escalate_after_s = changes["escalate_after_s"]
    record_audit(session, caller, "update", "rule", row.id, {"changed": sorted(changes)})
    session.commit()
    return RuleRead.model_validate(row)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    """Delete an alarm rule together with its alarms and their transitions."""
    caller.require(Action.DELETE)
    row = get_owned(session, AlarmRule, rule_id, caller.organization_id)
    alarms = session.scalars(select(AlarmRecord).where(AlarmRecord.rule_id == rule_id)).all()
    for alarm in alarms:
        for event in session.scalars(
            select(AlarmEventRecord).where(AlarmEventRecord.alarm_id == alarm.id)
        ):
            session.delete(event)
        session.delete(alarm)
    session.flush()
    session.delete(row)
    record_audit(session, caller, "delete", "rule", rule_id, {"key": row.key})
    session.commit()


@router.post("/rules/{rule_id}/evaluate")
def evaluate_rule_now(
    rule_id: DbId, body: EvaluateRequest, session: SessionDep, caller: CallerDep
) -> EvaluateResult:
    """Evaluate the rule on stored readings: from ``since`` (restarting its state), or new ones."""
    caller.require(Action.CONFIGURE)
    row = get_owned(session, AlarmRule, rule_id, caller.organization_id)
    from_us = None
    if body.since is not None:
        row.state = {}
        from_us = datetime_to_us(body.since)
    count = evaluate_rule_row(session, row, from_us=from_us)
    record_audit(session, caller, "evaluate", "rule", row.id, {"transitions": count})
    session.commit()
    return EvaluateResult(transitions=count)


@router.get("/alarms")
def list_alarms(
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
    status: str | None = None,
    category: str | None = None,
    rule_id: DbId | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AlarmRead]:
    """Alarms, most severe and most recent first; notes in the language ``Accept-Language`` asks
    for (else the caller's own)."""
    caller.require(Action.READ)
    query = (
        select(AlarmRecord)
        .where(AlarmRecord.organization_id == caller.organization_id)
        .order_by(AlarmRecord.severity.desc(), AlarmRecord.raised_at.desc())
    )
    if status is not None:
        query = query.where(AlarmRecord.status == status)
    if category is not None:
        query = query.where(AlarmRecord.category == category)
    if rule_id is not None:
        query = query.where(AlarmRecord.rule_id == rule_id)
    page = page_of(session, query, limit, offset, AlarmRead)
    t = evidence_translator(locale)
    newest = _newest_events(session, [a.id for a in page.items], t)
    items = [
        _localised(a, t).model_copy(update={"last_event": newest.get(a.id)}) for a in page.items
    ]
    return page.model_copy(update={"items": items})


def _localised(alarm: AlarmRead, t: Translator) -> AlarmRead:
    """The alarm with its note (a sensor fault's class, onset and evidence) in ``t``'s locale."""
    if alarm.note_message is None:
        return alarm
    return alarm.model_copy(update={"note": localised_detail(alarm.note_message, alarm.note, t)})


def _event(record: AlarmEventRecord, t: Translator) -> AlarmEventRead:
    """A stored transition with the system's note in ``t``'s locale."""
    return AlarmEventRead.model_validate(record).model_copy(
        update={"note": localised_detail(record.message, record.note, t)}
    )


def _newest_events(session: SessionDep, ids: list[int], t: Translator) -> dict[int, AlarmEventRead]:
    """The newest transition of each alarm in ``ids`` (one query)."""
    if not ids:
        return {}
    newest = (
        select(func.max(AlarmEventRecord.id))
        .where(AlarmEventRecord.alarm_id.in_(ids))
        .group_by(AlarmEventRecord.alarm_id)
    )
    rows = session.scalars(select(AlarmEventRecord).where(AlarmEventRecord.id.in_(newest)))
    return {r.alarm_id: _event(r, t) for r in rows}


def _detail(session: SessionDep, record: AlarmRecord, locale: str) -> AlarmDetail:
    events = session.scalars(
        select(AlarmEventRecord)
        .where(AlarmEventRecord.alarm_id == record.id)
        .order_by(AlarmEventRecord.id)
    )
    t = evidence_translator(locale)
    alarm = _localised(AlarmRead.model_validate(record), t)
    shown = [_event(e, t) for e in events]
    return AlarmDetail(
        **alarm.model_dump(exclude={"last_event"}),
        last_event=shown[-1] if shown else None,
        events=shown,
    )


@router.get("/alarms/{alarm_id}")
def get_alarm(
    alarm_id: DbId, session: SessionDep, caller: CallerDep, locale: LocaleDep
) -> AlarmDetail:
    """One alarm with its transitions (raised, escalated, acknowledged, cleared); the system's
    notes in the language ``Accept-Language`` asks for (else the caller's own)."""
    caller.require(Action.READ)
    record = get_owned(session, AlarmRecord, alarm_id, caller.organization_id)
    return _detail(session, record, locale)


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge(
    alarm_id: DbId, body: AlarmAction, session: SessionDep, caller: CallerDep, locale: LocaleDep
) -> AlarmDetail:
    """Acknowledge an alarm (the action body carries the note); it stays open until cleared."""
    caller.require(Action.FIELD_WORK)
    record = acknowledge_alarm(session, caller.organization_id, alarm_id, caller.name, body.note)
    session.commit()
    return _detail(session, record, locale)


@router.post("/alarms/{alarm_id}/clear")
def clear(
    alarm_id: DbId, body: AlarmAction, session: SessionDep, caller: CallerDep, locale: LocaleDep
) -> AlarmDetail:
    """Clear an alarm (the action body carries the note)."""
    caller.require(Action.CONFIGURE)
    record = clear_alarm(session, caller.organization_id, alarm_id, caller.name, body.note)
    session.commit()
    return _detail(session, record, locale)
