"""Online anomaly score."""

from __future__ import annotations

import json

import numpy as np
import pytest

from infrasight.signals import (
    AnomalyState,
    InputDataError,
    NotEnoughDataError,
    anomaly_scores,
    score_online,
    score_series,
)


def _series(n: int = 20000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 3.0 * np.sin(np.arange(n) / 300.0) + rng.normal(0.0, 1.0, n)


def test_spike_and_level_shift_detected_quiet_elsewhere() -> None:
    x = _series()
    x[5000] += 15.0
    x[12000:] += 8.0
    s = anomaly_scores(x)
    assert s.shape == x.shape and np.all((s >= 0) & (s <= 1))
    assert s[5000] > 0.9
    assert s[5001] < 0.5  # the reading after a spike is not blamed
    assert s[12000] > 0.7
    normal = np.r_[100:4990, 5010:11990]
    assert np.mean(s[normal] >= 0.5) < 1e-3
    assert np.quantile(s[normal], 0.99) < 0.3


def test_level_shift_in_noise_stays_flagged_then_adapts() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 1.0, 8000)
    x[4000:] += 8.0
    s = anomaly_scores(x)
    assert np.mean(s[4000:4100] > 0.5) > 0.9  # still flagged 100 readings later
    assert np.mean(s[6000:] >= 0.5) < 1e-3  # the new level became normal


def test_no_look_ahead() -> None:
    x = _series(6000)
    full = anomaly_scores(x)
    prefix = anomaly_scores(x[:3000])
    assert np.array_equal(full[:3000], prefix)


def test_batches_equal_one_call_through_json_state() -> None:
    x = _series(9000, seed=4)
    x[[700, 4321]] = np.nan
    whole = anomaly_scores(x)
    state: AnomalyState | None = None
    parts = []
    for chunk in np.array_split(x, 23):
        s, st = score_online(chunk, state)
        state = AnomalyState.from_dict(json.loads(json.dumps(st.to_dict())))
        parts.append(s)
    assert np.array_equal(np.concatenate(parts), whole)
    assert state is not None and state.n_seen == x.size and len(state.tail) <= 64 * 16 + 21


@pytest.mark.parametrize(("gain", "offset"), [(1e-6, 0.0), (1e4, -3e5), (-2.0, 7.0)])
def test_unit_free(gain: float, offset: float) -> None:
    x = _series(5000, seed=2)
    x[2500] += 10
    a = anomaly_scores(x)
    b = anomaly_scores(gain * x + offset)
    assert np.allclose(a, b, atol=1e-6)


def test_missing_readings_and_warm_up() -> None:
    s = anomaly_scores([1.0, 2.0, np.nan, 3.0] + [3.0] * 30)
    assert s[2] == 1.0
    assert np.all(s[:2] == 0.0)
    assert np.all(anomaly_scores([np.nan] * 5) == 1.0)
    const = anomaly_scores(np.full(100, 4.2))
    assert np.all(const == 0.0)
    step = anomaly_scores(np.r_[np.full(100, 4.2), 4.3])
    assert step[-1] > 0.99


def test_score_series_rejects_bad_time() -> None:
    with pytest.raises(InputDataError, match="duplicated timestamp"):
        score_series([0, 1, 1], [1.0, 2.0, 3.0])
    with pytest.raises(InputDataError, match="out-of-order"):
        score_series([0, 2, 1], [1.0, 2.0, 3.0])
    with pytest.raises(NotEnoughDataError):
        score_series([0, 1], [np.nan, np.nan])
    with pytest.raises(InputDataError, match="malformed"):
        AnomalyState.from_dict({"n_seen": 1, "tail": [1.0, 2.0], "last_finite": 1.0})


@pytest.mark.parametrize(
    ("name", "max_false_alarm"),
    # a wandering level that leaves the range of the last 1,024 readings is scored as novel:
    # random walks and step walks keep a few % of such readings
    [("t3", 0.01), ("sparse_steps", 0.05), ("counts", 0.002), ("random_walk", 0.03)],
)
def test_unseen_kinds_of_series_rarely_alarm(name: str, max_false_alarm: float) -> None:
    rng = np.random.default_rng(11)
    n = 8000
    x = {
        "t3": rng.standard_t(3, n),
        "sparse_steps": np.cumsum(rng.choice([0.0] * 9 + [1.0, -1.0], n)),
        "counts": rng.poisson(3, n).astype(float),
        "random_walk": np.cumsum(rng.normal(0, 1, n)),
    }[name]
    s = anomaly_scores(x)
    assert np.mean(s[100:] >= 0.5) <= max_false_alarm
    y = x.copy()
    y[6000] += 15 * np.std(np.diff(x[:5000]))
    assert anomaly_scores(y)[6000] > 0.9


def test_stuck_gauge_is_flagged_after_16_readings() -> None:
    rng = np.random.default_rng(0)
    n = 6000
    x = 10 + 5 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 0.5, n)
    x[4000:4300] = x[3999]
    s = anomaly_scores(x)
    assert np.all(s[4000:4010] < 0.5)  # too early to tell
    assert np.all(s[4020:4300] >= 0.5)
    assert np.mean(s[:4000] >= 0.5) == 0.0
