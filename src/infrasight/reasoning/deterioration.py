"""Deterioration: a continuous-time Markov chain over condition states fitted to inspection
history, and crack growth from measured widths.

An element in state ``i`` moves to ``i + 1`` at rate ``q_i`` per year (the last state absorbs);
over an interval ``t`` the transition matrix is ``P(t) = expm(Q t)``, so pairs of ratings taken
at any interval, including those that skip a state, enter the likelihood exactly
(Kalbfleisch & Lawless 1985, J. Am. Stat. Assoc. 80(392):863-871; Kallen & van Noortwijk 2006,
Reliab. Eng. Syst. Saf. 91(12)). The rates are maximum-likelihood estimates; their uncertainty
comes from the observed Fisher information (inverse Hessian of the log-likelihood in log-rates).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.linalg import expm
from scipy.optimize import minimize
from scipy.stats import t as student

from infrasight.core.errors import InvalidInputError
from infrasight.reasoning.errors import OutOfRangeError
from infrasight.signals.forecast import crack_growth_rate

__all__ = [
    "CrackForecast",
    "MarkovFit",
    "RatingPair",
    "StateForecast",
    "crack_forecast",
    "fit_markov",
    "forecast_state",
]

FloatArray = npt.NDArray[np.float64]
YEAR_DAYS = 365.25


@dataclass(frozen=True, slots=True, kw_only=True)
class RatingPair:
    """Two successive ratings of one element and the time between them."""

    from_state: int
    to_state: int
    years: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkovFit:
    """A fitted deterioration chain.

    Attributes
    ----------
    n_states : int
    rates : ndarray, shape (n_states - 1,)
        Transition intensities ``q_i`` (per year) from state ``i + 1`` to ``i + 2``.
    cov_log_rates : ndarray, shape (n_states - 1, n_states - 1)
        Covariance of ``log q`` (inverse observed Fisher information).
    n_pairs : int
        Pairs used (improvements excluded).
    n_improvements : int
        Pairs dropped because the rating improved (repair or rating scatter).
    log_likelihood : float
    """

    n_states: int
    rates: FloatArray
    cov_log_rates: FloatArray
    n_pairs: int
    n_improvements: int
    log_likelihood: float

    def intensity(self, rates: FloatArray | None = None) -> FloatArray:
        """The intensity matrix Q (per year)."""
        return _q_matrix(self.rates if rates is None else rates)

    def transition_matrix(self, years: float) -> FloatArray:
        """``P(years) = expm(Q years)``; row ``i`` gives the next states' probabilities."""
        return np.asarray(expm(self.intensity() * years))

    def rate_interval(self, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
        """Confidence interval of each rate (log-normal, from the Fisher information)."""
        z = float(student.ppf(0.5 + level / 2, 1e9))
        se = np.sqrt(np.diag(self.cov_log_rates))
        return self.rates * np.exp(-z * se), self.rates * np.exp(z * se)

    def transition_interval(
        self, years: float, *, level: float = 0.95, draws: int = 400, seed: int = 0
    ) -> tuple[FloatArray, FloatArray]:
        """Interval of every entry of ``P(years)`` by sampling the log-rates' normal law."""
        rng = np.random.default_rng(seed)
        logs = rng.multivariate_normal(np.log(self.rates), self.cov_log_rates, size=draws)
        mats = np.stack([expm(_q_matrix(np.exp(r)) * years) for r in logs])
        lo = (1 - level) / 2
        return np.quantile(mats, lo, axis=0), np.quantile(mats, 1 - lo, axis=0)


def _q_matrix(rates: FloatArray) -> FloatArray:
    s = rates.size + 1
    q = np.zeros((s, s))
    idx = np.arange(s - 1)
    q[idx, idx] = -rates
    q[idx, idx + 1] = rates
    return q


def _transition_matrices(rates: FloatArray, times: FloatArray) -> FloatArray:
    """``expm(Q t)`` for every ``t`` at once, by the eigen-decomposition of the bidiagonal Q.

    Q is triangular, so its eigenvalues are its diagonal ``-q_i`` (and 0); when two rates are
    (nearly) equal the eigenvectors degenerate and ``scipy.linalg.expm`` is used instead.
    """
    r = rates.astype(np.float64)
    q = _q_matrix(r)
    gaps = np.where(np.eye(r.size, dtype=bool), np.inf, np.abs(r[:, None] - r[None, :]))
    if r.size > 1 and float(gaps.min()) < 1e-3 * float(r.max()):
        # (nearly) equal rates: the eigenvectors degenerate, use the matrix exponential
        return np.stack([np.asarray(expm(q * t)) for t in times])
    lam = np.diag(q).copy()
    s = lam.size
    v = np.zeros((s, s))
    for k in range(s):
        # eigenvector of the upper-bidiagonal Q for eigenvalue lam[k]: back substitution
        v[k, k] = 1.0
        for i in range(k - 1, -1, -1):
            v[i, k] = q[i, i + 1] * v[i + 1, k] / (lam[k] - q[i, i])
    vinv = np.linalg.inv(v)
    e = np.exp(np.outer(times, lam))
    return np.asarray(np.einsum("ik,mk,kj->mij", v, e, vinv))


def fit_markov(pairs: Sequence[RatingPair], n_states: int) -> MarkovFit:
    """Maximum-likelihood rates of a sequential deterioration chain.

    Parameters
    ----------
    pairs : sequence of RatingPair
        States 1..``n_states``; ``years`` > 0. Pairs whose rating improved are dropped (and
        counted); pairs starting in the last state carry no information.
    n_states : int
        Number of condition states (4 for AASHTO MBEI CS1-CS4).

    Returns
    -------
    MarkovFit

    Raises
    ------
    OutOfRangeError
        A state outside 1..n_states or a non-positive interval.
    InvalidInputError
        No pair leaves a state below the last (nothing to fit).
    """
    if n_states < 2:
        raise OutOfRangeError("must be >= 2", field="n_states")
    a_list, b_list, t_list = [], [], []
    improvements = 0
    for i, p in enumerate(pairs):
        for name, s in (("from_state", p.from_state), ("to_state", p.to_state)):
            if not 1 <= s <= n_states:
                raise OutOfRangeError(f"pair {i}: {s} outside 1-{n_states}", field=name)
        if not (p.years > 0 and math.isfinite(p.years)):
            raise OutOfRangeError(f"pair {i}: interval must be > 0 years", field="years")
        if p.to_state < p.from_state:
            improvements += 1
            continue
        if p.from_state == n_states:
            continue
        a_list.append(p.from_state - 1)
        b_list.append(p.to_state - 1)
        t_list.append(p.years)
    if not a_list:
        raise InvalidInputError("no pair leaves a state below the last", field="pairs")
    a = np.asarray(a_list)
    b = np.asarray(b_list)
    times, inv = np.unique(np.round(np.asarray(t_list), 6), return_inverse=True)

    def nll(theta: FloatArray) -> float:
        mats = _transition_matrices(np.exp(theta), times)
        p = mats[inv, a, b]
        return float(-np.sum(np.log(np.maximum(p, 1e-300))))

    k = n_states - 1
    # start from the share of pairs that left each state per year at risk
    start = np.zeros(k)
    for s in range(k):
        m = a == s
        left = float(np.sum(b[m] > s))
        expo = float(np.sum(np.asarray(t_list)[m]))
        start[s] = math.log(max(left, 0.5) / max(expo, 1e-6))
    res = minimize(nll, start, method="L-BFGS-B", bounds=[(-12.0, 5.0)] * k)
    theta = np.asarray(res.x, dtype=np.float64)
    h = np.zeros((k, k))
    eps = 1e-3
    for i in range(k):
        for j in range(i, k):

            def f(di: float, dj: float, i: int = i, j: int = j) -> float:
                x = theta.copy()
                x[i] += di
                x[j] += dj
                return nll(x)

            h[i, j] = h[j, i] = (f(eps, eps) - f(eps, -eps) - f(-eps, eps) + f(-eps, -eps)) / (
                4 * eps * eps
            )
    try:
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.inf)
    return MarkovFit(
        n_states=n_states,
        rates=np.exp(theta),
        cov_log_rates=np.asarray(cov, dtype=np.float64),
        n_pairs=int(a.size),
        n_improvements=improvements,
        log_likelihood=-float(res.fun),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StateForecast:
    """Where an element in a given state is heading.

    Attributes
    ----------
    state : int
    expected_years_to_next : float
        ``1 / q`` (infinite in the last state).
    years_interval : tuple of float
        95 % interval of that time.
    probability_within : dict
        Days (30, 90, 365) -> probability of having left the state by then.
    """

    state: int
    expected_years_to_next: float
    years_interval: tuple[float, float]
    probability_within: dict[int, float]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "state": self.state,
            "expected_years_to_next": self.expected_years_to_next,
            "years_interval": list(self.years_interval),
            "probability_within": {f"{k}d": v for k, v in self.probability_within.items()},
        }


def forecast_state(
    fit: MarkovFit, state: int, horizons_days: Sequence[int] = (30, 90, 365)
) -> StateForecast:
    """Time to the next state and the probability of reaching it within each horizon."""
    if not 1 <= state <= fit.n_states:
        raise OutOfRangeError(f"{state} outside 1-{fit.n_states}", field="state")
    if state == fit.n_states:
        return StateForecast(
            state=state,
            expected_years_to_next=math.inf,
            years_interval=(math.inf, math.inf),
            probability_within={int(d): 0.0 for d in horizons_days},
        )
    q = float(fit.rates[state - 1])
    lo, hi = fit.rate_interval()
    return StateForecast(
        state=state,
        expected_years_to_next=1.0 / q,
        years_interval=(1.0 / float(hi[state - 1]), 1.0 / float(lo[state - 1])),
        probability_within={int(d): 1.0 - math.exp(-q * d / YEAR_DAYS) for d in horizons_days},
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CrackForecast:
    """Crack growth and when it reaches a width limit.

    Attributes
    ----------
    rate_mm_per_year : float
    rate_interval : tuple of float
        95 % interval of the rate.
    width_now_mm : float
        Fitted width at the last measurement.
    limit_mm : float
    years_to_limit : float
        At the fitted rate (infinite when not growing).
    probability_within : dict
        Days -> probability that the width exceeds the limit by then.
    """

    rate_mm_per_year: float
    rate_interval: tuple[float, float]
    width_now_mm: float
    limit_mm: float
    years_to_limit: float
    probability_within: dict[int, float]


def crack_forecast(
    times_s: npt.ArrayLike,
    widths_mm: npt.ArrayLike,
    limit_mm: float,
    horizons_days: Sequence[int] = (30, 90, 365),
) -> CrackForecast:
    """Growth of a crack from repeated widths and the probability of passing ``limit_mm``.

    Parameters
    ----------
    times_s : array_like, shape (n,)
        Measurement times (s), increasing; at least 4.
    widths_mm : array_like, shape (n,)
    limit_mm : float
        A width limit, e.g. a condition-state boundary (0.3048 mm for MBEI 1130 CS2).

    Notes
    -----
    The rate comes from :func:`infrasight.signals.crack_growth_rate` (robust linear fit, Student
    t interval); the probability of passing the limit within ``h`` is
    ``P(rate >= (limit - width_now) / h)`` under that t law.
    """
    if not limit_mm > 0:
        raise OutOfRangeError("must be > 0", field="limit_mm")
    g = crack_growth_rate(times_s, widths_mm)
    t = np.asarray(times_s, dtype=np.float64)
    now = float(g.model.predict(np.array([t[-1]])).mean[0])
    se = (g.ci_high - g.rate_per_year) / float(student.ppf(0.975, g.model.dof))
    gap = limit_mm - now
    probs: dict[int, float] = {}
    for d in horizons_days:
        need = gap / (d / YEAR_DAYS)
        if gap <= 0:
            probs[int(d)] = 1.0
        elif se > 0:
            probs[int(d)] = float(1.0 - student.cdf((need - g.rate_per_year) / se, g.model.dof))
        else:
            probs[int(d)] = float(g.rate_per_year >= need)
    years = (
        gap / g.rate_per_year
        if g.rate_per_year > 0 and gap > 0
        else (0.0 if gap <= 0 else math.inf)
    )
    return CrackForecast(
        rate_mm_per_year=g.rate_per_year,
        rate_interval=(g.ci_low, g.ci_high),
        width_now_mm=now,
        limit_mm=limit_mm,
        years_to_limit=years,
        probability_within=probs,
    )
