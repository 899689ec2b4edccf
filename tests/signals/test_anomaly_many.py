"""Scoring many channels at once gives each channel exactly what scoring it alone gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from infrasight.signals import anomaly
from infrasight.signals.anomaly import AnomalyState, score_online, score_online_many
from infrasight.signals.errors import InputDataError


def _fleet(rng: np.random.Generator, channels: int, length: int) -> list[tuple[Any, Any]]:
    """(times in s, values) of channels sampled every 1 s to 1 h, some with a daily cycle,
    gaps, a stuck stretch or a step."""
    fleet = []
    for c in range(channels):
        interval = [1.0, 60.0, 600.0, 3600.0][c % 4]
        t = 1.7e9 + np.arange(length) * interval
        x = 100.0 + rng.normal(size=length)
        if c % 3 == 0:
            x += 4.0 * np.sin(2 * np.pi * t / 86400.0)
        if c % 5 == 1:
            x[rng.integers(0, length, 6)] = np.nan
        if c % 7 == 2:
            start = int(rng.integers(0, length - 40))
            x[start : start + 30] = x[start]
        if c % 4 == 3:
            x[length // 2 :] += 6.0
        fleet.append((t, x))
    return fleet


def test_many_channels_score_as_each_alone() -> None:
    """40 channels in many rounds of uneven batches (1 to 600 readings, some channels with
    nothing new, some starting late): identical scores and states, bit for bit."""
    rng = np.random.default_rng(11)
    fleet = _fleet(rng, 40, 6000)
    alone: list[AnomalyState | None] = [None] * len(fleet)
    together: list[AnomalyState | None] = [None] * len(fleet)
    at = [0] * len(fleet)
    for round_ in range(45):
        batches = []
        for c, (t, x) in enumerate(fleet):
            late = c % 6 == 0 and round_ < 3  # a sixth of the fleet starts three rounds late
            k = 0 if late else int(rng.choice([0, 1, 1, 2, 3, 40, 600]))
            batches.append((x[at[c] : at[c] + k], t[at[c] : at[c] + k]))
            at[c] += k
        many = score_online_many([(x, together[c], t) for c, (x, t) in enumerate(batches)])
        for c, (x, t) in enumerate(batches):
            scores, alone[c] = score_online(x, alone[c], times=t)
            assert np.array_equal(many[c][0], scores), c
            together[c] = many[c][1]
            assert together[c].to_dict() == alone[c].to_dict(), c  # type: ignore[union-attr]
    assert min(at) > 1400  # the fleet reached its steady state (and periods were adopted)
    assert any(len(s.segments) > 1 for s in together if s is not None)


def test_a_steady_fleet_is_scored_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """30 channels with one new reading each cost one pass of the arithmetic, not 30."""
    rng = np.random.default_rng(3)
    states: list[AnomalyState | None] = [None] * 30
    history = rng.normal(size=(30, 1600))
    for c in range(30):
        _, states[c] = score_online(history[c], None, times=np.arange(1600.0))
    passes: list[int] = []
    original = anomaly._piece_scores

    def counted(x_all: Any, *args: Any) -> Any:
        passes.append(np.ndim(x_all))
        return original(x_all, *args)

    monkeypatch.setattr(anomaly, "_piece_scores", counted)
    spike = np.array([60.0])
    out = score_online_many(
        [(spike if c == 7 else rng.normal(size=1), states[c], [1600.0]) for c in range(30)]
    )
    assert passes == [2]
    assert out[7][0][0] > 0.9  # the spike on channel 7 ...
    assert max(out[c][0][0] for c in range(30) if c != 7) < 0.55  # ... and only there


def test_many_names_a_bad_batch() -> None:
    with pytest.raises(InputDataError, match="times: expected 2 values, got 1"):
        score_online_many([([1.0], None, [0.0]), ([1.0, 2.0], None, [0.0])])
    with pytest.raises(InputDataError, match="spike_margin"):
        score_online_many([([1.0], None, None)], spike_margin=0.0)
    assert score_online_many([]) == []


@pytest.mark.parametrize("seed", [1, 2])
def test_channels_of_different_ages_are_not_mixed(seed: int) -> None:
    """Channels one new reading apart in age, inside and past their warm-up and their first
    full record history, each score as alone (a shared pass would share their history
    lengths)."""
    rng = np.random.default_rng(seed)
    ages = [30, 60, 61, 900, 1400, 1401, 1700, 2100, 2342, 2343, 2344, 2600, 2600]
    states: list[AnomalyState | None] = []
    for age in ages:
        states.append(score_online(rng.normal(size=age), None, times=np.arange(float(age)))[1])
    new = [rng.normal(size=3) * (1 + 3 * (c % 2)) for c in range(len(ages))]
    times = [np.arange(3.0) + age for age in ages]
    many = score_online_many(list(zip(new, states, times, strict=True)))
    for c, age in enumerate(ages):
        scores, state = score_online(new[c], states[c], times=times[c])
        assert np.array_equal(many[c][0], scores), age
        assert many[c][1].to_dict() == state.to_dict(), age
