"""Alarm rules in the platform: every stored reading batch is evaluated, transitions persisted.

The numbers come from :mod:`infrasight.signals` (pure, vectorised); this service loads the new
readings of each affected rule, feeds them to :func:`~infrasight.signals.evaluate_rule` with the
rule's stored state, advances the alarms through their lifecycle and stores every transition.
Evaluation runs off the request path on one worker thread (so a rule's batches stay in order);
without workers it runs inline, which the CLI and deterministic tests use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import ConflictError, InvalidInputError
from infrasight.core.events import ReadingBatchStored
from infrasight.services.anomaly_scoring import score_channels
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
        alarm, events = apply_transition(
            current_alarm(session, row.organization_id, rule.id), transition
        )
        persist_alarm(session, row.organization_id, alarm, events, rule_id=row.id)
        count += 1
    for event in result.no_data:
        key = f"{rule.id}/{event.channel}/no_data"
        alarm, events = apply_no_data(current_alarm(session, row.organization_id, key), event)
        persist_alarm(session, row.organization_id, alarm, events, rule_id=row.id)
        count += 1
    row.state = result.state.to_dict()
    return count


class AlarmEngine:
    """After each stored reading batch: anomaly scores, then the organisation's rules."""

    def __init__(
        self,
        database: Database,
        *,
        background: bool,
        score_anomalies: bool = True,
        quiet_s: float = 0.25,
        max_delay_s: float = 5.0,
    ) -> None:
        self.database = database
        self.score_anomalies = score_anomalies
        self.quiet_s = quiet_s
        self.max_delay_s = max_delay_s
        self._last_event = self._first_pending = 0.0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rules") if background else None
        self._lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: dict[int, ReadingBatchStored] = {}
        self._drain_scheduled = False

    def on_batch(self, event: ReadingBatchStored) -> None:
        """Event-bus listener: evaluate now (inline) or on the rules thread.

        In the background, batches are merged per organisation and evaluated once ingestion
        pauses for ``quiet_s`` (or at the latest ``max_delay_s`` after the first one), so a burst
        of requests costs one evaluation and does not slow the requests themselves.
        """
        if self._pool is None:
            self.evaluate_batch(event)
            return
        with self._pending_lock:
            now = time.monotonic()
            self._last_event = now
            pending = self._pending.get(event.organization_id)
            if pending is None:
                if not self._pending:
                    self._first_pending = now
                self._pending[event.organization_id] = event
            else:
                self._pending[event.organization_id] = ReadingBatchStored(
                    organization_id=event.organization_id,
                    channel_ids=tuple(sorted(set(pending.channel_ids) | set(event.channel_ids))),
                    start_us=min(pending.start_us, event.start_us),
                    end_us=max(pending.end_us, event.end_us),
                    accepted=pending.accepted + event.accepted,
                )
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self._pool.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._pending_lock:
                now = time.monotonic()
                quiet = now - self._last_event
                age = now - self._first_pending
                if quiet >= self.quiet_s or age >= self.max_delay_s:
                    events = list(self._pending.values())
                    self._pending.clear()
                    self._drain_scheduled = False
                    break
                wait = min(self.quiet_s - quiet, self.max_delay_s - age)
            time.sleep(max(wait, 0.005))
        for event in events:
            try:
                self.evaluate_batch(event)
            except Exception:
                _LOGGER.exception(
                    "rule evaluation failed for a batch of organisation %s", event.organization_id
                )

    def evaluate_batch(self, event: ReadingBatchStored) -> int:
        from infrasight.services.sensor_health import assess_sensor_health

        """Score the batch's channels, then evaluate every enabled rule reading one of them."""
        with self._lock, self.database.transaction() as session:
            keys = set(
                session.scalars(select(Channel.key).where(Channel.id.in_(event.channel_ids)))
            )
            if self.score_anomalies:
                scored = score_channels(session, event.channel_ids, event.start_us)
                keys |= {derived for derived, _peak in scored.values()}
                assess_sensor_health(
                    session,
                    event.organization_id,
                    {channel_id: peak for channel_id, (_key, peak) in scored.items()},
                )
            rows = session.scalars(
                select(AlarmRule)
                .where(AlarmRule.organization_id == event.organization_id, AlarmRule.enabled)
                .order_by(AlarmRule.id)
                .with_for_update()
            ).all()
            count = 0
            for row in rows:
                if not keys & set(row.definition.get("channels", [])):
                    continue
                count += evaluate_rule_row(session, row, from_us=event.start_us)
            return count

    def sweep(self, now: float | None = None) -> int:
        """Periodic work: no-data checks and escalation of unacknowledged alarms."""
        now = datetime.now(UTC).timestamp() if now is None else now
        count = 0
        with self._lock, self.database.transaction() as session:
            for row in session.scalars(select(AlarmRule).where(AlarmRule.enabled)).all():
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

    def wait_idle(self) -> None:
        """Block until queued evaluations finished (tests, shutdown)."""
        if self._pool is not None:
            self._pool.submit(lambda: None).result()
            with self._pending_lock:
                pending = bool(self._pending)
            if pending:
                self._pool.submit(lambda: None).result()

    def shutdown(self) -> None:
        """Finish queued evaluations and stop the thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)


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
