"""Markov deterioration fit and crack-growth forecast."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

from infrasight.core.errors import InvalidInputError
from infrasight.reasoning.deterioration import (
    RatingPair,
    crack_forecast,
    fit_markov,
    forecast_state,
)
from infrasight.reasoning.errors import OutOfRangeError

TRUE_RATES = np.array([0.10, 0.07, 0.05])  # per year: CS1->CS2, CS2->CS3, CS3->CS4


def _q(rates: np.ndarray) -> np.ndarray:
    q = np.zeros((4, 4))
    for i, r in enumerate(rates):
        q[i, i], q[i, i + 1] = -r, r
    return q


def _history(seed: int, n: int = 500) -> list[RatingPair]:
    """``n`` element-pairs: start state uniform in CS1-CS3, intervals 1-3 years (varying),
    next state drawn from expm(Q dt)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = int(rng.integers(1, 4))
        dt = float(rng.uniform(1.0, 3.0))
        b = int(rng.choice(4, p=expm(_q(TRUE_RATES) * dt)[a - 1])) + 1
        out.append(RatingPair(from_state=a, to_state=b, years=dt))
    return out


def test_recovers_known_transition_matrix() -> None:
    fit = fit_markov(_history(0), 4)
    truth = expm(_q(TRUE_RATES))
    est = fit.transition_matrix(1.0)
    # every one-year transition probability within 0.03 (sampling sd with 500 pairs ~ 0.016)
    assert np.abs(est - truth).max() <= 0.03
    np.testing.assert_allclose(est.sum(axis=1), 1.0, atol=1e-12)
    lo, hi = fit.rate_interval()
    assert np.all(lo < TRUE_RATES) and np.all(hi > TRUE_RATES)
    plo, phi = fit.transition_interval(1.0, draws=200)
    assert np.all(plo <= est + 1e-12) and np.all(est <= phi + 1e-12)
    assert fit.n_pairs == 500 and fit.n_improvements == 0


def test_closed_form_matches_expm_including_equal_rates() -> None:
    from infrasight.reasoning.deterioration import _transition_matrices

    for rates in ([0.25, 0.15, 0.1], [0.2, 0.2, 0.2], [0.2, 0.20001, 0.1]):
        r = np.array(rates)
        mats = _transition_matrices(r, np.array([0.5, 2.0]))
        for m, t in zip(mats, (0.5, 2.0), strict=True):
            np.testing.assert_allclose(m, expm(_q(r) * t), atol=1e-10)


def test_forecast_state_probabilities() -> None:
    fit = fit_markov(_history(1), 4)
    f = forecast_state(fit, 2)
    q = fit.rates[1]
    # P(leave CS2 within d days) = 1 - exp(-q d / 365.25)
    assert f.probability_within[365] == pytest.approx(1 - math.exp(-q * 365 / 365.25), abs=1e-12)
    assert f.probability_within[30] == pytest.approx(1 - math.exp(-q * 30 / 365.25), abs=1e-12)
    assert f.expected_years_to_next == pytest.approx(1 / q)
    assert f.years_interval[0] < f.expected_years_to_next < f.years_interval[1]
    last = forecast_state(fit, 4)
    assert last.expected_years_to_next == math.inf and last.probability_within[365] == 0.0


def test_improvements_dropped_and_bad_input() -> None:
    pairs = [*_history(2, 100), RatingPair(from_state=3, to_state=1, years=2.0)]
    assert fit_markov(pairs, 4).n_improvements == 1
    with pytest.raises(OutOfRangeError) as info:
        fit_markov([RatingPair(from_state=5, to_state=5, years=1.0)], 4)
    assert info.value.field == "from_state"
    with pytest.raises(OutOfRangeError) as info:
        fit_markov([RatingPair(from_state=1, to_state=2, years=0.0)], 4)
    assert info.value.field == "years"
    with pytest.raises(InvalidInputError, match="no pair"):
        fit_markov([RatingPair(from_state=4, to_state=4, years=1.0)], 4)


def test_crack_forecast_linear_growth() -> None:
    # widths 0.20 + 0.10 mm/year, measured monthly for two years, tiny noise
    rng = np.random.default_rng(3)
    t = np.arange(25) * (365.25 * 86400 / 12)
    w = 0.20 + 0.10 * t / (365.25 * 86400) + rng.normal(0, 0.002, t.size)
    f = crack_forecast(t, w, 0.6)
    assert f.rate_mm_per_year == pytest.approx(0.10, abs=0.005)
    # now about 0.40 mm; 0.2 mm to go at 0.1 mm/year -> about 2 years
    assert f.years_to_limit == pytest.approx(2.0, abs=0.15)
    assert f.probability_within[30] < 0.01 and f.probability_within[365] < 0.01
    passed = crack_forecast(t, w, 0.3)
    assert passed.years_to_limit == 0.0 and passed.probability_within[30] == 1.0
    with pytest.raises(OutOfRangeError):
        crack_forecast(t, w, 0.0)
