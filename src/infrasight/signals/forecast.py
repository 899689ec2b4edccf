"""Trend models with prediction intervals, time-to-limit and crack growth rate.

Models (fitted by Huber-weighted least squares, so a few bad readings do not bend the trend):

``linear``
    ``y = a + b t``
``exponential``
    ``y = exp(a + b t)`` (fitted in log space; positive readings only)
``seasonal``
    ``y = a + b t + sum_h (c_h cos(2 pi h t / P) + s_h sin(2 pi h t / P))``

Prediction intervals combine the residual scale and the parameter covariance with Student-t
quantiles. :func:`time_to_limit` gives when the expected trend (and the interval bounds) cross a
limit and the probability that the limit is exceeded at the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError, NotEnoughDataError
from infrasight.signals.series import validate_series

__all__ = [
    "CrackGrowth",
    "Forecast",
    "TimeToLimit",
    "TrendModel",
    "crack_growth_rate",
    "fit_trend",
    "time_to_limit",
]

FloatArray = NDArray[np.float64]
TrendKind = Literal["linear", "exponential", "seasonal"]
YEAR_S = 365.25 * 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecast:
    """Predicted values at ``times`` (s) with a central prediction interval of ``level``."""

    times: FloatArray
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    sd: FloatArray
    level: float

    def __post_init__(self) -> None:
        if not (self.times.shape == self.mean.shape == self.lower.shape == self.upper.shape):
            raise ValueError("forecast arrays must have the same shape")
        if not 0 < self.level < 1:
            raise ValueError("level must be in (0, 1)")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendModel:
    """A fitted trend (see module docstring). Times are seconds; ``t0`` is the time origin.

    Attributes
    ----------
    kind : {"linear", "exponential", "seasonal"}
    params : ndarray
        ``[a, b, c_1, s_1, ...]`` with ``b`` per second (log units per second for exponential).
    cov : ndarray
        Parameter covariance.
    residual_scale : float
        Robust residual standard deviation (log units for exponential).
    dof : int
        Residual degrees of freedom.
    t0 : float
    period_s : float or None
    n : int
        Readings used.
    """

    kind: TrendKind
    params: FloatArray
    cov: FloatArray
    residual_scale: float
    dof: int
    t0: float
    period_s: float | None
    n: int

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "exponential", "seasonal"):
            raise ValueError(f"unknown trend kind {self.kind!r}")
        if self.cov.shape != (self.params.size, self.params.size):
            raise ValueError("cov must be square with one row per parameter")
        if self.dof < 1:
            raise ValueError("dof must be >= 1")

    @property
    def slope_per_s(self) -> float:
        """Linear slope (value or log-value per second)."""
        return float(self.params[1])

    def design(self, times: ArrayLike) -> FloatArray:
        """Regression matrix at ``times`` (s)."""
        t = np.asarray(times, dtype=np.float64) - self.t0
        return _design(t, self.kind, self.period_s, (self.params.size - 2) // 2)

    def predict(self, times: ArrayLike, *, level: float = 0.95) -> Forecast:
        """Expected value and prediction interval at ``times`` (s)."""
        from scipy.stats import t as student

        if not 0 < level < 1:
            raise InputDataError(f"level must be in (0, 1), got {level}")
        tt = np.atleast_1d(np.asarray(times, dtype=np.float64))
        X = self.design(tt)
        mu = X @ self.params
        sd = np.sqrt(self.residual_scale**2 + np.einsum("ij,jk,ik->i", X, self.cov, X))
        q = float(student.ppf(0.5 + level / 2, self.dof))
        lo, hi = mu - q * sd, mu + q * sd
        if self.kind == "exponential":
            return Forecast(
                times=tt,
                mean=np.exp(mu),
                lower=np.exp(lo),
                upper=np.exp(hi),
                sd=np.exp(mu) * sd,
                level=level,
            )
        return Forecast(times=tt, mean=mu, lower=lo, upper=hi, sd=sd, level=level)

    def exceedance_probability(self, time: float, limit: float, *, upper: bool = True) -> float:
        """Probability that the reading at ``time`` lies beyond ``limit``."""
        from scipy.stats import t as student

        X = self.design(np.array([time]))
        mu = float((X @ self.params)[0])
        sd = float(np.sqrt(self.residual_scale**2 + X[0] @ self.cov @ X[0]))
        if self.kind == "exponential":
            if limit <= 0:
                return 1.0 if upper else 0.0
            limit = float(np.log(limit))
        p_above = float(student.sf((limit - mu) / max(sd, 1e-300), self.dof))
        return p_above if upper else 1.0 - p_above


def _design(t: FloatArray, kind: str, period: float | None, harmonics: int) -> FloatArray:
    cols = [np.ones_like(t), t]
    if kind == "seasonal":
        assert period is not None
        for h in range(1, harmonics + 1):
            w = 2 * np.pi * h * t / period
            cols += [np.cos(w), np.sin(w)]
    return np.column_stack(cols)


def fit_trend(
    times: ArrayLike,
    values: ArrayLike,
    *,
    kind: TrendKind = "linear",
    period_s: float | None = None,
    harmonics: int = 2,
) -> TrendModel:
    """Fit a trend model to a channel.

    Parameters
    ----------
    times : array_like, shape (n,)
        Strictly increasing times (s).
    values : array_like, shape (n,)
        Readings (NaN ignored); strictly positive for ``exponential``.
    kind : {"linear", "exponential", "seasonal"}
    period_s : float, optional
        Season length in seconds (required for ``seasonal``, e.g. 365.25 days or 1 day).
    harmonics : int
        Fourier harmonics of the season.

    Raises
    ------
    NotEnoughDataError
        Fewer than ``n_params + 2`` readings or a single distinct time.
    InputDataError
        Non-positive readings for ``exponential``, missing ``period_s``, bad timestamps.
    """
    t, v = validate_series(times, values, name="trend series", min_points=1)
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    if kind not in ("linear", "exponential", "seasonal"):
        raise InputDataError(f"kind must be linear, exponential or seasonal, got {kind!r}")
    if kind == "seasonal":
        if period_s is None or not period_s > 0:
            raise InputDataError("seasonal trend needs period_s > 0")
        if harmonics < 1:
            raise InputDataError("harmonics must be >= 1")
    else:
        period_s, harmonics = None, 0
    n_par = 2 + 2 * harmonics
    if t.size < n_par + 2:
        raise NotEnoughDataError(f"{t.size} readings, at least {n_par + 2} needed for {kind}")
    if kind == "exponential":
        if np.any(v <= 0):
            raise InputDataError("exponential trend needs strictly positive readings")
        v = np.log(v)
    t0 = float(t[-1])
    X = _design(t - t0, kind, period_s, harmonics)
    w = np.ones(t.size)
    beta = np.linalg.lstsq(X, v, rcond=None)[0]
    scale = 1.0
    for _ in range(10):
        r = v - X @ beta
        mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
        scale = mad if mad > 0 else float(np.std(r))
        if scale == 0:
            break
        u = np.abs(r) / (1.345 * scale)
        w = 1.0 / np.maximum(u, 1.0)
        sw = np.sqrt(w)
        beta = np.linalg.lstsq(X * sw[:, None], v * sw, rcond=None)[0]
    dof = t.size - n_par
    r = v - X @ beta
    # Huber-winsorised residual variance with degrees of freedom, made consistent for Gaussian
    # noise (E[min(Z^2, 2.5^2)] = 0.9776): robust to outliers, near-unbiased for small samples
    clip = 2.5 * scale if scale > 0 else np.inf
    sigma = float(np.sqrt(np.sum(np.minimum(r * r, clip * clip)) / dof / 0.9776))
    XtWX = (X * w[:, None]).T @ X
    d = 1.0 / np.sqrt(np.maximum(np.diag(XtWX), 1e-300))  # equilibrate: t is in seconds
    cov = np.asarray(
        sigma**2 * d[:, None] * np.linalg.pinv(d[:, None] * XtWX * d) * d, dtype=np.float64
    )
    return TrendModel(
        kind=kind,
        params=np.asarray(beta, dtype=np.float64),
        cov=cov,
        residual_scale=sigma,
        dof=dof,
        t0=t0,
        period_s=period_s,
        n=int(t.size),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeToLimit:
    """When a trend reaches a limit.

    Attributes
    ----------
    limit : float
    now : float
        Start of the search (s).
    eta_s : float or None
        Seconds from ``now`` until the expected trend crosses the limit (None: not within horizon).
    eta_early_s, eta_late_s : float or None
        Crossing of the near / far prediction-interval bound (earliest / latest plausible).
    probability : float
        Probability that the reading is beyond the limit at ``now + horizon_s``.
    horizon_s : float
    """

    limit: float
    now: float
    eta_s: float | None
    eta_early_s: float | None
    eta_late_s: float | None
    probability: float
    horizon_s: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be in [0, 1]")


def _first_cross(t: FloatArray, y: FloatArray, limit: float, upper: bool) -> float | None:
    hit = y >= limit if upper else y <= limit
    if not hit.any():
        return None
    k = int(np.argmax(hit))
    if k == 0:
        return float(t[0])
    y0, y1 = y[k - 1], y[k]
    frac = (limit - y0) / (y1 - y0) if y1 != y0 else 1.0
    return float(t[k - 1] + frac * (t[k] - t[k - 1]))


def time_to_limit(
    model: TrendModel,
    limit: float,
    *,
    horizon_s: float,
    now: float | None = None,
    upper: bool | None = None,
    level: float = 0.95,
    steps: int = 2000,
) -> TimeToLimit:
    """Time until ``limit`` is crossed and the probability of exceeding it by the horizon.

    Parameters
    ----------
    model : TrendModel
    limit : float
        Limit in the channel unit.
    horizon_s : float
        Look-ahead in seconds.
    now : float, optional
        Start (s); default the last fitted reading.
    upper : bool, optional
        Limit is an upper limit (default: it is above the current expected value).
    level : float
        Prediction-interval level for the early/late crossing times.
    steps : int
        Resolution of the search grid.
    """
    if not horizon_s > 0:
        raise InputDataError("horizon_s must be > 0")
    start = model.t0 if now is None else float(now)
    tt = np.linspace(start, start + horizon_s, steps)
    fc = model.predict(tt, level=level)
    if upper is None:
        upper = bool(limit >= fc.mean[0])
    near, far = (fc.upper, fc.lower) if upper else (fc.lower, fc.upper)

    def rel(x: float | None) -> float | None:
        return None if x is None else x - start

    return TimeToLimit(
        limit=float(limit),
        now=start,
        eta_s=rel(_first_cross(tt, fc.mean, limit, upper)),
        eta_early_s=rel(_first_cross(tt, near, limit, upper)),
        eta_late_s=rel(_first_cross(tt, far, limit, upper)),
        probability=model.exceedance_probability(start + horizon_s, limit, upper=upper),
        horizon_s=float(horizon_s),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CrackGrowth:
    """Crack growth from repeated width measurements.

    Attributes
    ----------
    rate_per_year : float
        Width unit per year (e.g. mm/year).
    ci_low, ci_high : float
        95 % confidence interval of the rate.
    probability_growing : float
        Probability that the true rate is > 0.
    n : int
    model : TrendModel
        The robust linear fit (per second).
    """

    rate_per_year: float
    ci_low: float
    ci_high: float
    probability_growing: float
    n: int
    model: TrendModel

    def __post_init__(self) -> None:
        if self.ci_low > self.ci_high:
            raise ValueError("ci_low must be <= ci_high")


def crack_growth_rate(times: ArrayLike, widths: ArrayLike) -> CrackGrowth:
    """Robust growth rate of a crack from repeated width measurements.

    Parameters
    ----------
    times : array_like, shape (n,)
        Measurement times (s), strictly increasing.
    widths : array_like, shape (n,)
        Crack widths (any length unit, e.g. mm).

    Raises
    ------
    NotEnoughDataError
        Fewer than 4 measurements.
    """
    from scipy.stats import t as student

    t, w = validate_series(times, widths, name="crack widths", min_points=4)
    model = fit_trend(t, w, kind="linear")
    b = model.params[1] * YEAR_S
    se = float(np.sqrt(model.cov[1, 1])) * YEAR_S
    q = float(student.ppf(0.975, model.dof))
    p = float(student.cdf(b / se, model.dof)) if se > 0 else (1.0 if b > 0 else 0.0)
    return CrackGrowth(
        rate_per_year=float(b),
        ci_low=float(b - q * se),
        ci_high=float(b + q * se),
        probability_growing=p,
        n=model.n,
        model=model,
    )
