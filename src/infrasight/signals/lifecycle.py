"""Alarm lifecycle: a pure state machine the platform persists.

Statuses: ``active`` -> ``acknowledged`` -> ``cleared``. A cleared alarm whose condition comes back
is *re-raised* (same alarm, ``raise_count`` + 1). An active alarm left unacknowledged for
``escalate_after_s`` seconds is *escalated* (``escalation`` + 1, repeated every period).
Every function returns the new :class:`Alarm` and the :class:`AlarmEvent` s describing what happened
(who/what and when) so the platform can store them as audit records; nothing is mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from infrasight.core.phrases import N_, Phrase, phrase, phrase_list
from infrasight.signals.errors import LifecycleError
from infrasight.signals.evaluate import LevelTransition, NoDataEvent

__all__ = [
    "RULE_ENGINE",
    "Alarm",
    "AlarmEvent",
    "AlarmStatus",
    "acknowledge",
    "apply_no_data",
    "apply_transition",
    "check_escalation",
    "clear_manually",
]

RULE_ENGINE = "rule-engine"


class AlarmStatus(StrEnum):
    """Lifecycle status of an alarm."""

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """Current state of one alarm (one per rule, or per rule and channel for no-data alarms).

    Attributes
    ----------
    key : str
        Alarm identity, e.g. the rule id or ``"<rule>/<channel>/no_data"``.
    level, level_name, severity : int, str, int
        Current grade (0 / ``normal`` once the condition cleared).
    status : AlarmStatus
    raised_at, acknowledged_at, cleared_at : float or None
        Times in seconds.
    acknowledged_by : str or None
    raise_count : int
        1 at the first raise, +1 at every re-raise.
    escalation : int
        Number of escalations since the last raise or acknowledgement.
    note : str
        What the raiser saw, for people (e.g. a sensor fault's class, onset and evidence).
    note_message : dict or None
        ``note`` as a phrase's key and parameters (``core.phrases``), rendered per locale by the
        adapters; None for a rule's alarm or a note without one.
    """

    key: str
    level: int
    level_name: str
    severity: int
    status: AlarmStatus
    raised_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    cleared_at: float | None = None
    raise_count: int = 1
    escalation: int = 0
    note: str = ""
    note_message: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.raise_count < 1:
            raise ValueError("raise_count must be >= 1")
        if self.escalation < 0:
            raise ValueError("escalation must be >= 0")
        if self.status is AlarmStatus.ACKNOWLEDGED and self.acknowledged_by is None:
            raise ValueError("an acknowledged alarm needs acknowledged_by")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "key": self.key,
            "level": self.level,
            "level_name": self.level_name,
            "severity": self.severity,
            "status": self.status.value,
            "raised_at": self.raised_at,
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
            "cleared_at": self.cleared_at,
            "raise_count": self.raise_count,
            "escalation": self.escalation,
            "note": self.note,
            **({"note_message": self.note_message} if self.note_message is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alarm:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**d, "status": AlarmStatus(d["status"])})


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmEvent:
    """One lifecycle transition, ready to be stored as an audit event.

    ``kind`` is one of ``raised``, ``re_raised``, ``level_changed``, ``acknowledged``,
    ``cleared``, ``escalated``, ``no_data``, ``data_resumed``. ``note`` is in English;
    ``phrase``, when the system wrote the note, is the same sentence as a message key and
    parameters (rendered in the reader's language by the adapters).
    """

    key: str
    kind: str
    time: float
    actor: str
    from_status: AlarmStatus | None
    to_status: AlarmStatus
    level: int
    level_name: str
    severity: int
    note: str = ""
    phrase: Phrase | None = None

    def __post_init__(self) -> None:
        if not self.actor:
            raise ValueError("an alarm event needs an actor")


def _event(
    alarm: Alarm,
    kind: str,
    time: float,
    actor: str,
    before: AlarmStatus | None,
    note: str | Phrase = "",
) -> AlarmEvent:
    said = note if isinstance(note, Phrase) else None
    return AlarmEvent(
        key=alarm.key,
        kind=kind,
        time=time,
        actor=actor,
        from_status=before,
        to_status=alarm.status,
        level=alarm.level,
        level_name=alarm.level_name,
        severity=alarm.severity,
        note=note.english() if isinstance(note, Phrase) else note,
        phrase=said,
    )


def _condition(
    alarm: Alarm | None,
    key: str,
    level: int,
    name: str,
    severity: int,
    time: float,
    actor: str,
    note: str | Phrase,
) -> tuple[Alarm | None, list[AlarmEvent]]:
    if level == 0:
        if alarm is None or alarm.status is AlarmStatus.CLEARED:
            return alarm, []
        before = alarm.status
        new = replace(
            alarm,
            status=AlarmStatus.CLEARED,
            cleared_at=time,
            level=0,
            level_name=N_("normal"),
            severity=0,
        )
        return new, [_event(new, "cleared", time, actor, before, note)]
    if alarm is None:
        new = Alarm(
            key=key,
            level=level,
            level_name=name,
            severity=severity,
            status=AlarmStatus.ACTIVE,
            raised_at=time,
        )
        return new, [_event(new, "raised", time, actor, None, note)]
    if alarm.status is AlarmStatus.CLEARED:
        new = Alarm(
            key=key,
            level=level,
            level_name=name,
            severity=severity,
            status=AlarmStatus.ACTIVE,
            raised_at=time,
            raise_count=alarm.raise_count + 1,
        )
        return new, [_event(new, "re_raised", time, actor, AlarmStatus.CLEARED, note)]
    if level == alarm.level:
        return alarm, []
    before = alarm.status
    if level > alarm.level:
        # a higher grade needs a new acknowledgement
        new = replace(
            alarm,
            level=level,
            level_name=name,
            severity=severity,
            status=AlarmStatus.ACTIVE,
            acknowledged_at=None,
            acknowledged_by=None,
            raised_at=time,
            escalation=0,
        )
    else:
        new = replace(alarm, level=level, level_name=name, severity=severity)
    return new, [_event(new, "level_changed", time, actor, before, note)]


def apply_transition(
    alarm: Alarm | None, transition: LevelTransition, *, actor: str = RULE_ENGINE
) -> tuple[Alarm | None, list[AlarmEvent]]:
    """Advance a rule's alarm with a :class:`LevelTransition` from the evaluator.

    Parameters
    ----------
    alarm : Alarm or None
        Current alarm of the rule (``None`` if it never fired).
    transition : LevelTransition
    actor : str
        Who/what caused the change (default ``"rule-engine"``).

    Returns
    -------
    alarm : Alarm or None
    events : list of AlarmEvent
        ``raised``, ``re_raised``, ``level_changed`` or ``cleared``.
    """
    if alarm is not None and alarm.key != transition.rule_id:
        raise LifecycleError(f"alarm {alarm.key!r} does not belong to rule {transition.rule_id!r}")
    values = sorted(transition.values.items())
    vals = (
        phrase_list(*(phrase("{channel}={value:g}", channel=k, value=v) for k, v in values))
        if values
        else ""
    )
    return _condition(
        alarm,
        transition.rule_id,
        transition.to_level,
        transition.level_name,
        transition.severity,
        transition.time,
        actor,
        vals,
    )


def apply_no_data(
    alarm: Alarm | None, event: NoDataEvent, *, severity: int = 1, actor: str = RULE_ENGINE
) -> tuple[Alarm | None, list[AlarmEvent]]:
    """Advance the no-data alarm of a channel (alarm key ``<rule>/<channel>/no_data``)."""
    key = f"{event.rule_id}/{event.channel}/no_data"
    if alarm is not None and alarm.key != key:
        raise LifecycleError(f"alarm {alarm.key!r} is not the no-data alarm {key!r}")
    note = phrase("silent for {seconds:g} s", seconds=event.silent_s)
    new, events = _condition(
        alarm, key, 0 if event.resumed else 1, N_("no_data"), severity, event.time, actor, note
    )
    kind = "data_resumed" if event.resumed else "no_data"
    return new, [replace(e, kind=kind) for e in events]


def acknowledge(
    alarm: Alarm, *, actor: str, time: float, note: str = ""
) -> tuple[Alarm, AlarmEvent]:
    """A person acknowledges an active alarm.

    Raises
    ------
    LifecycleError
        If the alarm is not active (already acknowledged or cleared) or ``time`` is before it was
        raised.
    """
    if not actor:
        raise LifecycleError("acknowledge: actor must name who acknowledges")
    if alarm.status is not AlarmStatus.ACTIVE:
        raise LifecycleError(f"alarm {alarm.key!r} is {alarm.status.value}, not active")
    if time < alarm.raised_at:
        raise LifecycleError(f"acknowledge at {time} is before the raise at {alarm.raised_at}")
    new = replace(
        alarm,
        status=AlarmStatus.ACKNOWLEDGED,
        acknowledged_at=time,
        acknowledged_by=actor,
        escalation=0,
    )
    return new, _event(new, "acknowledged", time, actor, AlarmStatus.ACTIVE, note)


def clear_manually(
    alarm: Alarm, *, actor: str, time: float, note: str = ""
) -> tuple[Alarm, AlarmEvent]:
    """A person clears an alarm (e.g. after repair); the next exceedance re-raises it."""
    if alarm.status is AlarmStatus.CLEARED:
        raise LifecycleError(f"alarm {alarm.key!r} is already cleared")
    before = alarm.status
    new = replace(alarm, status=AlarmStatus.CLEARED, cleared_at=time)
    return new, _event(new, "cleared", time, actor, before, note)


def check_escalation(
    alarm: Alarm, *, now: float, escalate_after_s: float, actor: str = RULE_ENGINE
) -> tuple[Alarm, list[AlarmEvent]]:
    """Escalate an alarm left unacknowledged for ``escalate_after_s`` seconds (per period).

    Calling it at any rate gives the same result: the escalation count becomes
    ``floor((now - raised_at) / escalate_after_s)`` and one event is returned per step, stamped at
    the time the step was due.
    """
    if escalate_after_s <= 0:
        raise LifecycleError("escalate_after_s must be > 0")
    if alarm.status is not AlarmStatus.ACTIVE:
        return alarm, []
    due = int((now - alarm.raised_at) // escalate_after_s)
    events = []
    new = alarm
    for step in range(alarm.escalation + 1, due + 1):
        new = replace(new, escalation=step)
        t = alarm.raised_at + step * escalate_after_s
        events.append(
            _event(
                new,
                "escalated",
                t,
                actor,
                AlarmStatus.ACTIVE,
                phrase("unacknowledged for {seconds:g} s", seconds=step * escalate_after_s),
            )
        )
    return new, events
