"""Temperature compensation with lag."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.signals import (
    InputDataError,
    NotEnoughDataError,
    driver_values,
    fit_compensation,
)


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(0, 20 * 86400, 600.0)
    temp = 10 + 8 * np.sin(2 * np.pi * t / 86400) + 3 * np.sin(2 * np.pi * t / (9 * 86400))
    lag = 3 * 3600.0
    strain = 50.0 - 4.0 * np.interp(t - lag, t, temp) + rng.normal(0, 0.5, t.size)
    return t, temp, strain, rng.normal(size=3)


def test_recovers_coefficient_and_lag() -> None:
    t, temp, y, _ = _data()
    m = fit_compensation(
        t, y, {"temperature": (t, temp)}, reference=(0, 10 * 86400), max_lag_s=6 * 3600, n_lags=25
    )
    assert m.lags_s[0] == pytest.approx(3 * 3600, abs=900)
    assert m.coefficients[0] == pytest.approx(-4.0, rel=0.02)
    assert m.intercept == pytest.approx(50.0, abs=0.5)
    assert m.residual_scale == pytest.approx(0.5, rel=0.15)
    assert m.r2 > 0.99


def test_residual_reveals_offset_hidden_by_temperature() -> None:
    t, temp, y, _ = _data(1)
    y = y.copy()
    y[t > 15 * 86400] += 3.0  # 3 um/m permanent offset, well inside the thermal swing
    m = fit_compensation(
        t, y, {"temperature": (t, temp)}, reference=(0, 10 * 86400), max_lag_s=6 * 3600
    )
    z = m.zscores(t, y, {"temperature": (t, temp)})
    before = z[(t > 10 * 86400) & (t < 15 * 86400)]
    after = z[t > 15.2 * 86400]
    assert abs(np.median(before)) < 0.5
    assert np.median(after) > 4.0


def test_errors() -> None:
    t, temp, y, _ = _data()
    with pytest.raises(InputDataError, match="at least one driver"):
        fit_compensation(t, y, {})
    with pytest.raises(NotEnoughDataError, match="constant"):
        fit_compensation(t, y, {"T": (t, np.ones_like(t))})
    with pytest.raises(NotEnoughDataError):
        fit_compensation(t, y, {"T": (t + 1e9, temp)})
    m = fit_compensation(t, y, {"T": (t, temp)})
    with pytest.raises(InputDataError, match="needs driver"):
        m.predict(t, {"X": (t, temp)})


def test_driver_values_lag_and_window() -> None:
    t = np.arange(0.0, 86400.0, 60.0)
    temp = 2.0 + t / 3600.0  # +1 degC per hour
    at = np.array([36000.0, 72000.0])
    inst = driver_values(at, (t, temp), lag_s=7200.0)
    assert inst == pytest.approx(2.0 + (at - 7200.0) / 3600.0)
    # mean of a linear ramp over [t - 3 h - 6 h, t - 3 h] is its value at t - 6 h
    avg = driver_values(at, (t, temp), lag_s=3 * 3600.0, window_s=6 * 3600.0)
    assert avg == pytest.approx(2.0 + (at - 6 * 3600.0) / 3600.0)
    assert np.isnan(driver_values([1000.0], (t, temp), window_s=3600.0)[0])
    with pytest.raises(InputDataError):
        driver_values(at, (t, temp), lag_s=-1.0)
