"""Verification rules as data and the pure judges: a crack sealed or not, readings settled or
not, row by row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infrasight.core.errors import InvalidInputError
from infrasight.reasoning.errors import DefinitionError
from infrasight.reasoning.remediation import load_catalogue
from infrasight.reasoning.verification import (
    Check,
    CrackObservation,
    Method,
    Outcome,
    combine,
    judge_crack,
    judge_readings,
    load_verification_rules,
)

RULES = load_verification_rules()
CRACK = RULES.by_method[Method.REINSPECTION]
READ = RULES.by_method[Method.READINGS]


def test_every_catalogue_action_has_a_method() -> None:
    for action in load_catalogue().actions:
        rule = RULES.for_work(action.id, "")
        assert rule.method in set(Method)
    assert RULES.for_work("epoxy_injection", "").method is Method.REINSPECTION
    assert RULES.for_work("jacking_underpinning", "").method is Method.READINGS
    assert RULES.for_work("sensor_repair", "").method is Method.SENSOR_HEALTH
    assert RULES.for_work("custom", "settlement").method is Method.READINGS
    with pytest.raises(InvalidInputError) as err:
        RULES.for_work("custom", "unknown")
    assert err.value.field == "action_id"


@pytest.mark.parametrize(("period", "ok"), [(1, True), (365, True), (0.5, False), (366, False)])
def test_period_range(period: float, ok: bool) -> None:
    if ok:
        assert RULES.check_period(period) == period
    else:
        with pytest.raises(InvalidInputError) as err:
            RULES.check_period(period)
        assert err.value.field == "period_days"


def test_malformed_rules(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('[limits]\nmin_period_days = 1\nmax_period_days = 9\n[[method]]\nid = "x"\n')
    with pytest.raises(DefinitionError):
        load_verification_rules(bad)


def _obs(days: float, width: float | None, std: float = 0.02) -> CrackObservation:
    return CrackObservation(days=days, detected=width is not None, width=width, width_std=std)


BEFORE = _obs(-5, 0.40)


@pytest.mark.parametrize(
    ("after", "outcome", "words"),
    [
        ([], Outcome.PENDING, "0 re-inspection"),
        ([_obs(200, None)], Outcome.PENDING, "0 re-inspection"),  # outside the 90 d period
        ([_obs(3, None)], Outcome.PASSED, "not detected"),
        ([_obs(3, 0.10)], Outcome.PASSED, "width reduced to 0.100"),
        ([_obs(3, 0.38)], Outcome.FAILED, "still detected"),  # within 2 sigma of 0.40
        ([_obs(3, None), _obs(40, 0.2)], Outcome.FAILED, "detected again"),
        ([_obs(3, 0.10), _obs(40, 0.30)], Outcome.FAILED, "width grew by 0.200"),
        ([_obs(3, 0.10), _obs(40, 0.12)], Outcome.PASSED, "2 re-inspection"),
        ([_obs(3, None), _obs(120, 0.3)], Outcome.PASSED, "1 re-inspection"),  # after the period
    ],
)
def test_judge_crack(after: list[CrackObservation], outcome: Outcome, words: str) -> None:
    check = judge_crack("defect_track:1", BEFORE, after, CRACK, period_days=90)
    assert check.outcome is outcome and words in check.detail
    assert check.ref == "defect_track:1"


def test_judge_crack_without_a_width_before_needs_it_gone() -> None:
    assert judge_crack("t", None, [_obs(1, 0.1)], CRACK, period_days=90).outcome is Outcome.FAILED
    assert judge_crack("t", None, [_obs(1, None)], CRACK, period_days=90).outcome is Outcome.PASSED


def _readings(slope: float, days: float = 20.0, level: float = 3.0) -> tuple[np.ndarray, ...]:
    t = np.arange(0, days, 1 / 24)
    rng = np.random.default_rng(1)
    return t, level + slope * t + 0.01 * rng.standard_normal(t.size)


def _by_test(checks: list[Check]) -> dict[str, Check]:
    return {c.test: c for c in checks}


def test_judge_readings_settled_passes() -> None:
    t, v = _readings(0.0)
    checks = _by_test(
        judge_readings("channel:S", t, v, READ, period_days=14, upper=4.0, anomaly_max_seen=0.1)
    )
    assert set(checks) == {
        "readings cover the period",
        "within limits",
        "settled (no trend)",
        "no anomaly",
    }
    assert combine(list(checks.values())) is Outcome.PASSED
    assert abs(checks["settled (no trend)"].value or 0) < 0.002


def test_judge_readings_continuing_fails_on_trend_and_limits() -> None:
    t, v = _readings(0.1)
    checks = _by_test(judge_readings("channel:S", t, v, READ, period_days=14, upper=4.0))
    assert checks["settled (no trend)"].outcome is Outcome.FAILED
    assert checks["settled (no trend)"].value == pytest.approx(0.1, rel=0.02)
    assert checks["within limits"].outcome is Outcome.FAILED
    assert checks["within limits"].detail.endswith("; no lower limit, at most 4")
    lower = _by_test(judge_readings("channel:S", t, v, READ, period_days=14, lower=-1.0))
    assert lower["within limits"].detail.endswith("; no upper limit, at least -1")
    assert lower["within limits"].outcome is Outcome.PASSED
    assert combine(list(checks.values())) is Outcome.FAILED


def test_judge_readings_waits_for_the_period_and_flags_anomalies() -> None:
    t, v = _readings(0.0, days=10)
    (only,) = judge_readings("channel:S", t, v, READ, period_days=14)
    assert only.outcome is Outcome.PENDING and "of 14 days" in only.detail
    t, v = _readings(0.0)
    checks = _by_test(judge_readings("c", t, v, READ, period_days=14, anomaly_max_seen=0.9))
    assert checks["no anomaly"].outcome is Outcome.FAILED
    assert "within limits" not in checks  # no rule watches the channel
    before = np.concatenate([[-3.0, -2.0], t])  # readings before completion are not judged
    vals = np.concatenate([[99.0, 99.0], v])
    checks = _by_test(judge_readings("c", before, vals, READ, period_days=14, upper=4.0))
    assert checks["within limits"].outcome is Outcome.PASSED


def test_combine() -> None:
    p = Check(test="a", ref="r", outcome=Outcome.PASSED, detail="")
    f = Check(test="a", ref="r", outcome=Outcome.FAILED, detail="")
    w = Check(test="a", ref="r", outcome=Outcome.PENDING, detail="")
    assert combine([]) is Outcome.PENDING
    assert combine([p, p]) is Outcome.PASSED
    assert combine([p, w]) is Outcome.PENDING
    assert combine([w, f, p]) is Outcome.FAILED
