"""Trend models, prediction intervals, time-to-limit and crack growth."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.signals import (
    InputDataError,
    NotEnoughDataError,
    crack_growth_rate,
    fit_trend,
    time_to_limit,
)

DAY = 86400.0


def test_robust_linear_ignores_outliers_and_intervals_cover() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(200) * DAY
    y = 1.0 + 0.01 * t / DAY + rng.normal(0, 0.05, t.size)
    y[[20, 90, 150]] += 5.0
    m = fit_trend(t, y)
    assert m.slope_per_s * DAY == pytest.approx(0.01, rel=0.03)
    assert m.residual_scale == pytest.approx(0.05, rel=0.2)
    # coverage of the 90 % interval on fresh data from the same process
    tf = t[-1] + np.arange(1, 51) * DAY
    fc = m.predict(tf, level=0.9)
    truth = 1.0 + 0.01 * tf / DAY + rng.normal(0, 0.05, (400, tf.size))
    inside = np.mean((truth >= fc.lower) & (truth <= fc.upper))
    assert inside == pytest.approx(0.9, abs=0.04)


def test_time_to_limit_and_probability() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(100) * DAY
    y = 0.2 + 0.002 * t / DAY + rng.normal(0, 0.005, t.size)
    m = fit_trend(t, y)
    r = time_to_limit(m, 0.5, horizon_s=200 * DAY)
    # expected crossing: (0.5 - 0.398) / 0.002 = 51 days after the last reading
    assert r.eta_s is not None and r.eta_s / DAY == pytest.approx(51.0, abs=3.0)
    assert r.eta_early_s is not None and r.eta_late_s is not None
    assert r.eta_early_s < r.eta_s < r.eta_late_s
    assert r.probability > 0.99
    short = time_to_limit(m, 0.5, horizon_s=10 * DAY)
    assert short.eta_s is None and short.probability < 0.01
    at = time_to_limit(m, 0.5, horizon_s=51 * DAY)
    assert at.probability == pytest.approx(0.5, abs=0.2)
    down = time_to_limit(m, 0.0, horizon_s=100 * DAY)
    assert down.eta_s is None and down.probability < 1e-6


def test_exponential_and_seasonal() -> None:
    rng = np.random.default_rng(2)
    t = np.arange(120) * DAY
    y = 0.1 * np.exp(0.02 * t / DAY) * np.exp(rng.normal(0, 0.01, t.size))
    m = fit_trend(t, y, kind="exponential")
    assert m.slope_per_s * DAY == pytest.approx(0.02, rel=0.02)
    fc = m.predict([t[-1] + 10 * DAY])
    assert fc.mean[0] == pytest.approx(0.1 * np.exp(0.02 * 129), rel=0.03)
    assert fc.lower[0] < fc.mean[0] < fc.upper[0]
    th = np.arange(24 * 30) * 3600.0
    ys = 5 + 1e-6 * th + 2 * np.sin(2 * np.pi * th / DAY + 0.4) + rng.normal(0, 0.1, th.size)
    ms = fit_trend(th, ys, kind="seasonal", period_s=DAY, harmonics=1)
    amp = np.hypot(ms.params[2], ms.params[3])
    assert amp == pytest.approx(2.0, rel=0.02)
    assert ms.residual_scale == pytest.approx(0.1, rel=0.15)


def test_crack_growth_rate() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 3 * 365.25 * DAY, 12))
    w = 0.30 + 0.05 * t / (365.25 * DAY) + rng.normal(0, 0.01, t.size)  # mm, 0.05 mm/yr
    g = crack_growth_rate(t, w)
    assert g.rate_per_year == pytest.approx(0.05, abs=0.01)
    assert g.ci_low < 0.05 < g.ci_high and g.probability_growing > 0.99
    flat = crack_growth_rate(t, 0.3 + rng.normal(0, 0.01, t.size))
    assert flat.ci_low < 0 < flat.ci_high and 0.01 < flat.probability_growing < 0.99


def test_bad_input() -> None:
    t = np.arange(10.0)
    with pytest.raises(NotEnoughDataError):
        fit_trend(t[:3], t[:3])
    with pytest.raises(InputDataError, match="strictly positive"):
        fit_trend(t, t - 5, kind="exponential")
    with pytest.raises(InputDataError, match="period_s"):
        fit_trend(t, t, kind="seasonal")
    with pytest.raises(InputDataError, match="duplicated"):
        fit_trend(np.r_[0.0, t[:-1]], t)
    with pytest.raises(NotEnoughDataError):
        crack_growth_rate([0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
    m = fit_trend(t, 2 * t)
    with pytest.raises(InputDataError, match="horizon"):
        time_to_limit(m, 1.0, horizon_s=0)
