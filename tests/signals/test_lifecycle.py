"""Alarm lifecycle state machine."""

from __future__ import annotations

import pytest

from infrasight.signals import (
    Alarm,
    AlarmStatus,
    LevelTransition,
    LifecycleError,
    NoDataEvent,
    acknowledge,
    apply_no_data,
    apply_transition,
    check_escalation,
    clear_manually,
)


def _tr(time: float, frm: int, to: int) -> LevelTransition:
    names = {0: "normal", 1: "amber", 2: "red"}
    return LevelTransition(
        rule_id="r",
        time=time,
        from_level=frm,
        to_level=to,
        level_name=names[to],
        severity=to,
        values={"a": 1.5},
    )


def test_raise_ack_clear_reraise() -> None:
    a, ev = apply_transition(None, _tr(10.0, 0, 1))
    assert a is not None and a.status is AlarmStatus.ACTIVE and a.level_name == "amber"
    assert [(e.kind, e.actor, e.time) for e in ev] == [("raised", "rule-engine", 10.0)]
    a, e_ack = acknowledge(a, actor="alice", time=20.0, note="on it")
    assert a.status is AlarmStatus.ACKNOWLEDGED and a.acknowledged_by == "alice"
    assert e_ack.from_status is AlarmStatus.ACTIVE and e_ack.note == "on it"
    with pytest.raises(LifecycleError, match="not active"):
        acknowledge(a, actor="bob", time=21.0)
    # a higher grade needs a new acknowledgement
    a2, ev2 = apply_transition(a, _tr(30.0, 1, 2))
    assert a2 is not None and a2.status is AlarmStatus.ACTIVE and a2.level == 2
    assert ev2[0].kind == "level_changed"
    a3, ev3 = apply_transition(a2, _tr(40.0, 2, 0))
    assert a3 is not None and a3.status is AlarmStatus.CLEARED and a3.cleared_at == 40.0
    assert ev3[0].kind == "cleared"
    a4, ev4 = apply_transition(a3, _tr(50.0, 0, 1))
    assert a4 is not None and a4.raise_count == 2 and ev4[0].kind == "re_raised"
    assert Alarm.from_dict(a4.to_dict()) == a4


def test_lower_grade_keeps_acknowledgement() -> None:
    a, _ = apply_transition(None, _tr(0.0, 0, 2))
    assert a is not None
    a, _ = acknowledge(a, actor="alice", time=1.0)
    a2, ev = apply_transition(a, _tr(2.0, 2, 1))
    assert a2 is not None and a2.status is AlarmStatus.ACKNOWLEDGED and a2.level == 1
    assert ev[0].kind == "level_changed"


def test_escalation_is_rate_independent() -> None:
    a, _ = apply_transition(None, _tr(100.0, 0, 1))
    assert a is not None
    same, none = check_escalation(a, now=159.0, escalate_after_s=60.0)
    assert none == [] and same.escalation == 0
    once, ev = check_escalation(a, now=230.0, escalate_after_s=60.0)
    assert once.escalation == 2 and [e.time for e in ev] == [160.0, 220.0]
    step1, _ = check_escalation(a, now=170.0, escalate_after_s=60.0)
    step2, ev2 = check_escalation(step1, now=230.0, escalate_after_s=60.0)
    assert step2.escalation == 2 and [e.time for e in ev2] == [220.0]
    acked, _ = acknowledge(step2, actor="bob", time=231.0)
    assert acked.escalation == 0
    assert check_escalation(acked, now=1e6, escalate_after_s=60.0)[1] == []
    with pytest.raises(LifecycleError):
        check_escalation(a, now=1.0, escalate_after_s=0.0)


def test_no_data_alarm_and_manual_clear() -> None:
    ev = NoDataEvent(rule_id="r", channel="a", time=5.0, resumed=False, silent_s=10.0)
    a, events = apply_no_data(None, ev)
    assert a is not None and a.key == "r/a/no_data" and events[0].kind == "no_data"
    back = NoDataEvent(rule_id="r", channel="a", time=9.0, resumed=True, silent_s=14.0)
    a2, events2 = apply_no_data(a, back)
    assert a2 is not None and a2.status is AlarmStatus.CLEARED
    assert events2[0].kind == "data_resumed"
    a3, _ = apply_transition(None, _tr(1.0, 0, 1))
    assert a3 is not None
    c, e = clear_manually(a3, actor="crew", time=2.0, note="gauge replaced")
    assert c.status is AlarmStatus.CLEARED and e.actor == "crew"
    with pytest.raises(LifecycleError, match="already cleared"):
        clear_manually(c, actor="crew", time=3.0)
    with pytest.raises(LifecycleError, match="does not belong"):
        apply_transition(a, _tr(1.0, 0, 1))
    with pytest.raises(LifecycleError, match="before the raise"):
        acknowledge(a3, actor="x", time=0.0)
