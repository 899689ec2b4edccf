"""Offline change points (PELT)."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.signals import (
    InputDataError,
    NotEnoughDataError,
    block_means,
    detect_change_points,
)


def test_mean_changes_found_with_shifts() -> None:
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(0, 1, 300), rng.normal(2, 1, 400), rng.normal(-1, 1, 300)])
    res = detect_change_points(y)
    assert res.indices.tolist() == pytest.approx([300, 700], abs=5)
    assert res.shifts == pytest.approx([2.0, -3.0], abs=0.3)


def test_variance_change_and_times() -> None:
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.normal(0, 1, 2000), rng.normal(0, 4, 2000)])
    t = 1000.0 + 0.5 * np.arange(y.size)
    res = detect_change_points(y, times=t, model="meanvar")
    assert res.indices.size == 1 and abs(int(res.indices[0]) - 2000) < 30
    assert res.times[0] == pytest.approx(2000.0, abs=15)
    assert res.segment_stds == pytest.approx([1.0, 4.0], rel=0.1)


def test_no_change_in_noise_and_long_series_aggregated() -> None:
    rng = np.random.default_rng(2)
    assert detect_change_points(rng.normal(size=3000)).indices.size == 0
    y = np.r_[rng.normal(size=30000), 1.0 + rng.normal(size=30000)]
    res = detect_change_points(y)
    assert res.indices.size == 1 and abs(int(res.indices[0]) - 30000) <= 30
    assert res.shifts[0] == pytest.approx(1.0, abs=0.05)


def test_errors_and_block_means() -> None:
    with pytest.raises(NotEnoughDataError):
        detect_change_points(np.arange(5.0))
    with pytest.raises(NotEnoughDataError, match="constant"):
        detect_change_points(np.ones(50), model="meanvar")
    with pytest.raises(InputDataError, match="model"):
        detect_change_points(np.arange(50.0), model="median")  # type: ignore[arg-type]
    with pytest.raises(InputDataError, match="duplicated"):
        detect_change_points(np.arange(20.0), times=np.r_[0, 0, np.arange(2, 20)])
    tb, vb = block_means(np.arange(10.0), np.r_[np.arange(9.0), np.nan], 3)
    assert tb.tolist() == [1.0, 4.0, 7.0] and vb.tolist() == [1.0, 4.0, 7.0]


def test_autocorrelated_noise_is_not_cut_into_pieces() -> None:
    from scipy.signal import lfilter

    rng = np.random.default_rng(3)
    y = lfilter([1.0], [1.0, -0.8], rng.normal(0, 1, 4000))  # AR(1) wander, sd ~1.7
    y[2000:] += 15.0
    res = detect_change_points(y)
    assert res.indices.tolist() == [2000]
    assert res.shifts[0] == pytest.approx(15.0, abs=1.0)
