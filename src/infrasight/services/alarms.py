"""Alarm rules in the platform: every stored reading batch is evaluated, transitions persisted.

The numbers come from :mod:`infrasight.signals` (pure, vectorised); this service loads the new
readings of each affected rule, feeds them to :func:`~infrasight.signals.evaluate_rule` with the
rule's stored state, advances the alarms through their lifecycle and stores every transition.
Evaluation is an effect of the stored readings (``services/reading_effects.py``): a durable row
written with the readings and applied, with the rule's new state, in one transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import ConflictError, InvalidInputError
from infrasight.services.anomaly_scoring import score_channel_keys, score_channels
from infrasight.signals import (
    Alarm,
    AlarmEvent,
    LifecycleError,
    Rule,
    RuleDefinitionError,
    RuleState,
    acknowledge,
    apply_no_data,
    apply_transition,
    check_escalation,
    clear_manually,
    evaluate_rule,
)
from infrasight.signals.rules import rule_from_dict, rule_to_dict
from infrasight.storage.db import Database
from infrasight.storage.models import AlarmEventRecord, AlarmRecord, AlarmRule, Channel
from infrasight.storage.readings import fetch_series

__all__ = [
    "AlarmEngine",
    "acknowledge_alarm",
    "clear_alarm",
    "evaluate_stored_readings",
    "parse_rule_definition",
]

_LOGGER = logging.getLogger(__name__)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_rule_definition(definition: dict[str, Any]) -> Rule:
    """A validated rule; :class:`InvalidInputError` names what is wrong."""
    try:
        return rule_from_dict(definition)
    except RuleDefinitionError as err:
        raise InvalidInputError(str(err), field="definition") from err
    except (TypeError, ValueError, KeyError) as err:
        raise InvalidInputError(f"malformed rule: {err}", field="definition") from err


def check_rule_channels(session: Session, organization_id: int, rule: Rule) -> None:
    """Every channel the rule reads must exist in the organisation."""
    found = set(
        session.scalars(
            select(Channel.key).where(
                Channel.organization_id == organization_id,
                Channel.key.in_(rule.channels),
            )
        )
    )
    missing = sorted(set(rule.channels) - found)
    if missing:
        raise InvalidInputError(f"unknown channel(s) {missing}", field="definition.channels")


def rule_definition(rule: Rule) -> dict[str, Any]:
    """The JSON form stored in ``alarm_rules.definition``."""
    return rule_to_dict(rule)


def persist_alarm(
    session: Session,
    organization_id: int,
    alarm: Alarm | None,
    events: Iterable[AlarmEvent],
    *,
    rule_id: int | None = None,
    category: str = "rule",
    device_id: int | None = None,
) -> None:
    """Store an alarm's new state and the transitions that led to it."""
    events = list(events)
    if alarm is None:
        return
    record = session.scalars(
        select(AlarmRecord).where(
            AlarmRecord.organization_id == organization_id, AlarmRecord.key == alarm.key
        )
    ).one_or_none()
    if record is None:
        record = AlarmRecord(
            organization_id=organization_id,
            rule_id=rule_id,
            category=category,
            device_id=device_id,
            key=alarm.key,
            raised_at=_moment(alarm.raised_at),
        )
        session.add(record)
    record.status = alarm.status.value
    record.level = alarm.level
    record.level_name = alarm.level_name
    record.severity = alarm.severity
    record.raised_at = _moment(alarm.raised_at)
    record.state = alarm.to_dict()
    session.flush()
    for event in events:
        session.add(
            AlarmEventRecord(
                alarm_id=record.id,
                kind=event.kind,
                time=_moment(event.time),
                actor=event.actor,
                from_status=event.from_status.value if event.from_status else None,
                to_status=event.to_status.value,
                level=event.level,
                level_name=event.level_name,
                severity=event.severity,
                note=event.note,
                message=None if event.phrase is None else event.phrase.as_dict(),
            )
        )
    if events:
        _LOGGER.info("alarm %s: %s", alarm.key, ", ".join(e.kind for e in events))


def current_alarm(session: Session, organization_id: int, key: str) -> Alarm | None:
    record = session.scalars(
        select(AlarmRecord).where(
            AlarmRecord.organization_id == organization_id, AlarmRecord.key == key
        )
    ).one_or_none()
    return Alarm.from_dict(record.state) if record is not None else None


def evaluate_rule_row(
    session: Session, row: AlarmRule, *, from_us: int | None = None, now: float | None = None
) -> int:
    """Evaluate one stored rule on the readings it has not seen; return transitions stored."""
    rule = rule_from_dict(row.definition)
    state = RuleState.from_dict(row.state) if row.state else None
    ids = dict(
        session.execute(
            select(Channel.key, Channel.id).where(
                Channel.organization_id == row.organization_id, Channel.key.in_(rule.channels)
            )
        ).all()
    )
    batch: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, channel_id in ids.items():
        seen = state.channels.get(key) if state else None
        last = seen.last_time if seen and seen.last_time is not None else None
        after_us = round(last * 1e6) if last is not None else None
        stamps, values = fetch_series(session, channel_id, after_us=after_us, from_us=from_us)
        if stamps.size:
            batch[key] = (stamps / 1e6, values)
    if not batch and now is None:
        return 0
    result = evaluate_rule(rule, batch, state, now=now)
    count = 0
    for transition in result.transitions:
        if _recorded(session, row.organization_id, rule.id, transition.time, transition.to_level):
            continue
        alarm, events = apply_transition(
            current_alarm(session, row.organization_id, rule.id), transition
        )
        persist_alarm(session, row.organization_id, alarm, events, rule_id=row.id)
        count += 1
    for event in result.no_data:
        key = f"{rule.id}/{event.channel}/no_data"
        if _recorded(session, row.organization_id, key, event.time, 0 if event.resumed else 1):
            continue
        alarm, events = apply_no_data(current_alarm(session, row.organization_id, key), event)
        persist_alarm(session, row.organization_id, alarm, events, rule_id=row.id)
        count += 1
    row.state = result.state.to_dict()
    return count


def _recorded(session: Session, organization_id: int, key: str, time_s: float, level: int) -> bool:
    """Whether the alarm ``key`` already has an event at ``time_s`` reaching ``level``.

    Transitions come from stored readings, so one at the same time and level is the same
    transition evaluated again (a re-evaluation over an evaluated period): it is not stored twice.
    """
    alarm_id = session.scalar(
        select(AlarmRecord.id).where(
            AlarmRecord.organization_id == organization_id, AlarmRecord.key == key
        )
    )
    if alarm_id is None:
        return False
    times = session.scalars(
        select(AlarmEventRecord.time).where(
            AlarmEventRecord.alarm_id == alarm_id, AlarmEventRecord.level == level
        )
    ).all()
    return any(abs(_seconds(t) - time_s) < 1e-3 for t in times)


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def evaluate_stored_readings(
    session: Session,
    organization_id: int,
    spans: Mapping[int, tuple[int, int]],
    *,
    score_anomalies: bool,
    instants: Mapping[int, list[int]] | None = None,
) -> int:
    """The effects of stored readings, in the caller's transaction; return alarm transitions.

    ``spans`` maps each channel id to the first and last time (µs) of its new readings,
    ``instants`` to the instants its sensor health is judged at (none by default).
    Scores the channels' new readings, assesses the health of their sensors, then evaluates
    every enabled rule of the organisation reading one of them (or their scores). Each step
    reads from its own watermark (the scorer's last scored time per channel, each rule's last
    evaluated time per channel) or at instants defined by the stored readings (sensor health),
    and stores its results in the same transaction, so running it again changes nothing and a
    merged burst gives the same alarms as its batches one by one.
    """
    from infrasight.services.sensor_health import assess_sensor_health

    channel_ids = tuple(sorted(spans))
    start_us = min(first for first, _last in spans.values())
    keys = set(session.scalars(select(Channel.key).where(Channel.id.in_(channel_ids))))
    if score_anomalies:
        score_channels(session, channel_ids, start_us)  # what an earlier step left unscored
        keys |= score_channel_keys(session, channel_ids)
        assess_sensor_health(session, organization_id, instants or {})
    rows = session.scalars(
        select(AlarmRule)
        .where(AlarmRule.organization_id == organization_id, AlarmRule.enabled)
        .order_by(AlarmRule.id)
        .with_for_update()
    ).all()
    count = 0
    for row in rows:
        if not keys & set(row.definition.get("channels", [])):
            continue
        count += evaluate_rule_row(session, row, from_us=start_us)
    return count


class AlarmEngine:
    """Periodic alarm work: no-data checks and escalations (``sweep``).

    ``lock`` is held while sweeping; the platform passes the lock its effect worker holds, so
    the sweep and the evaluation of stored readings never update a rule's state at once.
    """

    def __init__(self, database: Database, *, lock: threading.Lock | None = None) -> None:
        self.database = database
        self._lock = lock or threading.Lock()

    def sweep(self, now: float | None = None) -> int:
        """Periodic work: no-data checks and escalation of unacknowledged alarms."""
        now = datetime.now(UTC).timestamp() if now is None else now
        count = 0
        with self._lock, self.database.transaction() as session:
            rules = select(AlarmRule).where(AlarmRule.enabled).order_by(AlarmRule.id)
            # locked as the evaluation of stored readings locks them, which may run in another
            # process (Celery workers, several API processes)
            for row in session.scalars(rules.with_for_update()).all():
                if row.definition.get("no_data_s") is not None and row.state:
                    count += evaluate_rule_row(session, row, now=now)
                if row.escalate_after_s:
                    records = session.scalars(
                        select(AlarmRecord).where(
                            AlarmRecord.rule_id == row.id, AlarmRecord.status == "active"
                        )
                    ).all()
                    for record in records:
                        alarm, events = check_escalation(
                            Alarm.from_dict(record.state),
                            now=now,
                            escalate_after_s=row.escalate_after_s,
                        )
                        persist_alarm(session, row.organization_id, alarm, events, rule_id=row.id)
                        count += len(events)
        return count


def _record(session: Session, organization_id: int, alarm_id: int) -> AlarmRecord:
    from infrasight.core.errors import NotFoundError

    record = session.get(AlarmRecord, alarm_id)
    if record is None or record.organization_id != organization_id:
        raise NotFoundError(f"alarm {alarm_id} not found")
    return record


def _by_person(
    session: Session,
    organization_id: int,
    alarm_id: int,
    change: Callable[[Alarm, float], tuple[Alarm, AlarmEvent]],
) -> AlarmRecord:
    record = _record(session, organization_id, alarm_id)
    try:
        alarm, event = change(Alarm.from_dict(record.state), datetime.now(UTC).timestamp())
    except LifecycleError as err:
        raise ConflictError(str(err)) from err
    persist_alarm(session, organization_id, alarm, [event])
    return record


def acknowledge_alarm(
    session: Session, organization_id: int, alarm_id: int, actor: str, note: str
) -> AlarmRecord:
    """A person acknowledges an active alarm (409 when it is not active)."""
    return _by_person(
        session,
        organization_id,
        alarm_id,
        lambda alarm, now: acknowledge(alarm, actor=actor, time=now, note=note),
    )


def clear_alarm(
    session: Session, organization_id: int, alarm_id: int, actor: str, note: str
) -> AlarmRecord:
    """A person clears an alarm (e.g. after a repair); the next exceedance re-raises it."""
    return _by_person(
        session,
        organization_id,
        alarm_id,
        lambda alarm, now: clear_manually(alarm, actor=actor, time=now, note=note),
    )
