"""Alarm rule definitions and the vectorised, incremental evaluator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from infrasight.signals import (
    InputDataError,
    Level,
    Limit,
    Rule,
    RuleDefinitionError,
    RuleState,
    evaluate_rule,
    rules_from_json,
    rules_to_json,
)


def _rule(**kw: object) -> Rule:
    base: dict[str, object] = {
        "id": "r1",
        "channels": ("a",),
        "levels": (
            Level(name="amber", severity=1, limits=(Limit(upper=10.0),)),
            Level(name="red", severity=2, limits=(Limit(upper=20.0, hysteresis=2.0),)),
        ),
    }
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": ""}, "rule.id"),
        ({"channels": ()}, "at least one channel"),
        ({"channels": ("a", "a")}, "duplicated channel"),
        ({"levels": ()}, "at least one level"),
        ({"combine": "xor"}, "combine"),
        ({"persistence_count": 0}, "persistence_count"),
        ({"persistence_s": -1.0}, "persistence_s"),
        ({"no_data_s": 0.0}, "no_data_s"),
        ({"rate_window_s": 0.0}, "rate_window_s"),
        (
            {
                "levels": (
                    Level(name="a", severity=2, limits=(Limit(upper=1.0),)),
                    Level(name="b", severity=1, limits=(Limit(upper=2.0),)),
                )
            },
            "severities must increase",
        ),
        (
            {"levels": (Level(name="a", severity=1, limits=(Limit(upper_pct=70.0),)),)},
            "control_value",
        ),
    ],
)
def test_rule_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RuleDefinitionError, match=message):
        _rule(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one of"),
        ({"upper": 1.0, "upper_pct": 50.0}, "either upper"),
        ({"upper": 1.0, "lower": 2.0}, "must be <"),
        ({"upper": 1.0, "hysteresis": -1.0}, "hysteresis"),
        ({"upper": float("nan")}, "finite"),
        ({"quantity": "speed", "upper": 1.0}, "quantity"),
    ],
)
def test_limit_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RuleDefinitionError, match=message):
        Limit(**kwargs)  # type: ignore[arg-type]


def test_json_round_trip_and_errors() -> None:
    r = _rule(control_value=50.0, no_data_s=600.0, combine="all", channels=("a", "b"))
    again = rules_from_json(rules_to_json([r]))
    assert again == (r,)
    with pytest.raises(RuleDefinitionError, match="not valid JSON"):
        rules_from_json("{")
    doc = json.loads(rules_to_json([r]))
    doc["rules"][0]["colour"] = "red"
    with pytest.raises(RuleDefinitionError, match="unknown field"):
        rules_from_json(json.dumps(doc))
    doc["rules"][0].pop("colour")
    doc["rules"][0]["levels"][0]["limits"][0]["uper"] = 3
    with pytest.raises(RuleDefinitionError, match=r"levels\[0\]\.limits\[0\]: unknown field"):
        rules_from_json(json.dumps(doc))
    with pytest.raises(RuleDefinitionError, match="duplicated rule id"):
        rules_from_json(rules_to_json([r, r]))


def test_levels_hysteresis_and_transitions() -> None:
    t = np.arange(8.0)
    v = np.array([0.0, 11.0, 21.0, 19.0, 17.9, 12.0, 9.0, 25.0])
    ev = evaluate_rule(_rule(), {"a": (t, v)})
    # 19 stays red (hysteresis 2 -> clears below 18), 17.9 drops to amber
    assert ev.levels.tolist() == [0, 1, 2, 2, 1, 1, 0, 2]
    assert [(x.time, x.from_level, x.to_level) for x in ev.transitions] == [
        (1.0, 0, 1),
        (2.0, 1, 2),
        (4.0, 2, 1),
        (6.0, 1, 0),
        (7.0, 0, 2),
    ]
    assert ev.transitions[1].level_name == "red"
    assert ev.transitions[1].values == {"a": 21.0}


def test_percent_of_control_and_lower_limits() -> None:
    r = Rule(
        id="pct",
        channels=("a",),
        control_value=200.0,
        levels=(
            Level(name="70%", severity=1, limits=(Limit(upper_pct=70.0, lower_pct=-70.0),)),
            Level(name="85%", severity=2, limits=(Limit(upper_pct=85.0, lower_pct=-85.0),)),
            Level(name="100%", severity=3, limits=(Limit(upper_pct=100.0, lower_pct=-100.0),)),
        ),
    )
    v = np.array([100.0, 141.0, 171.0, 201.0, -150.0, -180.0])
    ev = evaluate_rule(r, {"a": (np.arange(6.0), v)})
    assert ev.levels.tolist() == [0, 1, 2, 3, 1, 2]


def test_cumulative_change_and_rate_whichever_first() -> None:
    # GB 50497 style: cumulative settlement 30 mm or rate 3 mm/day
    r = Rule(
        id="settle",
        channels=("s",),
        baseline=0.0,
        rate_window_s=86400.0,
        rate_unit_s=86400.0,
        levels=(
            Level(
                name="alarm",
                severity=1,
                limits=(Limit(quantity="change", lower=-30.0), Limit(quantity="rate", lower=-3.0)),
            ),
        ),
    )
    day = 86400.0
    t = np.arange(10) * day
    slow = -np.arange(10) * 1.0  # 1 mm/day: neither limit
    assert evaluate_rule(r, {"s": (t, slow)}).levels.max() == 0
    fast = np.array([0, -1, -2, -6, -7, -8, -9, -10, -11, -12.0])  # 4 mm in a day at day 3
    assert evaluate_rule(r, {"s": (t, fast)}).levels.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    # a 10.5 mm jump on day 8 trips the rate limit, on day 9 the 30 mm cumulative limit holds
    creep = -np.arange(10) * 2.5 - np.r_[0, 0, 0, 0, 0, 0, 0, 0, 8, 8]
    lv = evaluate_rule(r, {"s": (t, creep)}).levels
    assert lv.tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]


def test_persistence_count_and_duration() -> None:
    r = _rule(persistence_count=3)
    v = np.array([11, 11, 0, 11, 11, 11, 11, 0.0])
    assert evaluate_rule(r, {"a": (np.arange(8.0), v)}).levels.tolist() == [
        0,
        0,
        0,
        0,
        0,
        1,
        1,
        0,
    ]
    r2 = _rule(persistence_s=2.5)
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    v2 = np.array([11.0, 11.0, 11.0, 11.0, 11.0])
    assert evaluate_rule(r2, {"a": (t, v2)}).levels.tolist() == [0, 0, 0, 1, 1]


def test_multichannel_and_or() -> None:
    lv = (Level(name="x", severity=1, limits=(Limit(upper=1.0),)),)
    ta = np.array([0.0, 2.0, 4.0])
    tb = np.array([1.0, 3.0])
    batch = {"a": (ta, np.array([2.0, 2.0, 0.0])), "b": (tb, np.array([0.0, 2.0]))}
    r_any = Rule(id="any", channels=("a", "b"), levels=lv, combine="any")
    r_all = Rule(id="all", channels=("a", "b"), levels=lv, combine="all")
    e_any = evaluate_rule(r_any, batch)
    e_all = evaluate_rule(r_all, batch)
    assert e_any.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert e_any.levels.tolist() == [1, 1, 1, 1, 1]
    assert e_all.levels.tolist() == [0, 0, 0, 1, 0]


def test_no_data_gap_and_now() -> None:
    r = _rule(no_data_s=10.0)
    t = np.array([0.0, 5.0, 30.0, 35.0])
    ev = evaluate_rule(r, {"a": (t, np.zeros(4))}, now=60.0)
    kinds = [(e.time, e.resumed) for e in ev.no_data]
    assert kinds == [(15.0, False), (30.0, True), (45.0, False)]
    ev2 = evaluate_rule(r, {"a": (np.array([70.0]), np.zeros(1))}, ev.state)
    assert [(e.time, e.resumed, e.silent_s) for e in ev2.no_data] == [(70.0, True, 35.0)]


def test_batches_equal_single_call_and_state_json() -> None:
    rng = np.random.default_rng(3)
    r = Rule(
        id="big",
        channels=("a",),
        persistence_count=3,
        rate_window_s=50.0,
        rate_unit_s=1.0,
        levels=(
            Level(name="amber", severity=1, limits=(Limit(upper=1.0, hysteresis=0.3),)),
            Level(
                name="red",
                severity=2,
                limits=(Limit(upper=2.0), Limit(quantity="rate", upper=0.05)),
            ),
        ),
    )
    n = 5000
    t = np.cumsum(rng.uniform(0.5, 1.5, n))
    v = np.cumsum(rng.normal(0, 0.05, n)) + np.sin(t / 200)
    v[rng.choice(n, 30)] = np.nan
    whole = evaluate_rule(r, {"a": (t, v)})
    state: RuleState | None = None
    levels = []
    trans = []
    for part in np.array_split(np.arange(n), 13):
        ev = evaluate_rule(r, {"a": (t[part], v[part])}, state)
        state = RuleState.from_dict(json.loads(json.dumps(ev.state.to_dict())))
        levels.append(ev.levels)
        trans += ev.transitions
    assert np.array_equal(np.concatenate(levels), whole.levels)
    assert trans == list(whole.transitions)
    assert len(whole.transitions) > 4


def test_evaluator_input_errors() -> None:
    r = _rule()
    with pytest.raises(InputDataError, match="duplicated timestamp at index 1"):
        evaluate_rule(r, {"a": (np.array([0.0, 0.0]), np.zeros(2))})
    with pytest.raises(InputDataError, match="out-of-order"):
        evaluate_rule(r, {"a": (np.array([1.0, 0.0]), np.zeros(2))})
    with pytest.raises(InputDataError, match="does not read"):
        evaluate_rule(r, {"zz": (np.array([1.0]), np.zeros(1))})
    ev = evaluate_rule(r, {"a": (np.array([5.0]), np.zeros(1))})
    with pytest.raises(InputDataError, match="not after the previous reading"):
        evaluate_rule(r, {"a": (np.array([5.0]), np.zeros(1))}, ev.state)
    with pytest.raises(InputDataError, match="belongs to rule"):
        evaluate_rule(_rule(id="other"), {"a": (np.array([9.0]), np.zeros(1))}, ev.state)
    with pytest.raises(InputDataError, match="malformed"):
        RuleState.from_dict({"rule_id": "x"})


def test_state_is_not_mutated() -> None:
    r = _rule()
    ev = evaluate_rule(r, {"a": (np.array([0.0]), np.array([15.0]))})
    before = ev.state.to_dict()
    evaluate_rule(r, {"a": (np.array([1.0]), np.array([0.0]))}, ev.state)
    assert ev.state.to_dict() == before


def test_multichannel_batches_with_duration_and_rate_equal_one_call() -> None:
    rng = np.random.default_rng(1)
    r = Rule(
        id="m",
        channels=("a", "b"),
        combine="all",
        persistence_s=30.0,
        persistence_count=2,
        rate_window_s=40.0,
        rate_unit_s=1.0,
        levels=(
            Level(name="x", severity=1, limits=(Limit(upper=0.5, hysteresis=0.2),)),
            Level(
                name="y",
                severity=2,
                limits=(Limit(quantity="rate", upper=0.02, lower=-0.02),),
            ),
        ),
    )
    ta = np.cumsum(rng.uniform(1, 20, 3000))
    tb = np.cumsum(rng.uniform(1, 25, 2500))
    va = np.sin(ta / 300) + rng.normal(0, 0.1, ta.size)
    vb = np.cos(tb / 400) + rng.normal(0, 0.1, tb.size)
    whole = evaluate_rule(r, {"a": (ta, va), "b": (tb, vb)})
    edges = [*np.sort(rng.uniform(0, min(ta[-1], tb[-1]), 20)), np.inf]
    state: RuleState | None = None
    times, levels, trans = [], [], []
    lo = -np.inf
    for hi in edges:
        ma = (ta > lo) & (ta <= hi)
        mb = (tb > lo) & (tb <= hi)
        batch = {}
        if ma.any():
            batch["a"] = (ta[ma], va[ma])
        if mb.any():
            batch["b"] = (tb[mb], vb[mb])
        ev = evaluate_rule(r, batch, state)
        state = RuleState.from_dict(json.loads(json.dumps(ev.state.to_dict())))
        times.append(ev.times)
        levels.append(ev.levels)
        trans += ev.transitions
        lo = hi
    assert np.array_equal(np.concatenate(times), whole.times)
    assert np.array_equal(np.concatenate(levels), whole.levels)
    assert trans == list(whole.transitions) and len(trans) > 10
    assert all(set(t.values) == {"a", "b"} for t in trans[1:])


def test_state_survives_a_redefined_rule() -> None:
    r = _rule()
    ev = evaluate_rule(r, {"a": (np.array([0.0, 1.0]), np.array([25.0, 25.0]))})
    assert ev.state.level == 2
    r2 = _rule(levels=(Level(name="only", severity=1, limits=(Limit(upper=30.0),)),))
    ev2 = evaluate_rule(r2, {"a": (np.array([2.0]), np.array([25.0]))}, ev.state)
    assert ev2.levels.tolist() == [0]
    assert [(t.from_level, t.to_level) for t in ev2.transitions] == [(1, 0)]
