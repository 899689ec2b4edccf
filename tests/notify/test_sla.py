"""Service levels: the step reached at a moment (table-driven), rule choice, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrasight.notify.sla import SlaError, SlaRule, due_step, load_sla

RULE = SlaRule(
    id="r",
    subject="alarm",
    event="alarm.unacknowledged",
    statuses=frozenset({"active"}),
    min_severity=0,
    first_after_h=1.0,
    repeat_every_h=2.0,
    max_steps=3,
)


@pytest.mark.parametrize(
    ("hours", "step"),
    [(0.0, 0), (0.99, 0), (1.0, 1), (2.99, 1), (3.0, 2), (5.0, 3), (100.0, 3), (-5.0, 0)],
)
def test_due_step(hours: float, step: int) -> None:
    assert due_step(RULE, anchor_s=1000.0, now_s=1000.0 + hours * 3600) == step


def test_packaged_policy_picks_the_severe_ladder_first() -> None:
    policy = load_sla()
    severe = policy.rules_for("alarm", "active", 4)
    assert [r.id for r in severe] == ["alarm_unacknowledged_severe"]
    assert [r.id for r in policy.rules_for("alarm", "active", 1)] == ["alarm_unacknowledged"]
    assert policy.rules_for("alarm", "acknowledged", 4) == []
    work = {r.id for r in policy.rules_for("work_order", "assigned", 0)}
    assert work == {"work_order_overdue", "work_order_not_started"}
    assert [r.id for r in policy.rules_for("work_order", "in_progress", 0)] == [
        "work_order_overdue"
    ]


_GOOD = """
[[rules]]
id = "a"
subject = "alarm"
event = "alarm.unacknowledged"
statuses = ["active"]
first_after_h = 1
repeat_every_h = 1
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "not valid TOML"),
        (_GOOD.replace('subject = "alarm"', 'subject = "bridge"'), "subject must be one of"),
        (_GOOD.replace("alarm.unacknowledged", "alarm.exploded"), "is not an event kind"),
        (_GOOD.replace("repeat_every_h = 1", "repeat_every_h = 0"), "repeat_every_h must be > 0"),
        (_GOOD.replace("first_after_h = 1", "first_after_h = -1"), "first_after_h must be >= 0"),
        (_GOOD.replace('statuses = ["active"]', ""), "missing field 'statuses'"),
        (_GOOD + 'clock = "due"\n', "clock must be"),
        (_GOOD + _GOOD, "unique"),
    ],
)
def test_bad_sla_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sla.toml"
    path.write_text(text)
    with pytest.raises(SlaError, match=message):
        load_sla(path)


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"
    path.write_text(_GOOD)
    policy = load_sla(path)
    assert [r.id for r in policy.rules] == ["a"]
    assert policy.rules[0].max_steps == 1
