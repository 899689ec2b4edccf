"""Trend models with honest prediction intervals, model selection, time-to-limit, crack growth.

Models (fitted by Huber-weighted least squares, so a few bad readings do not bend the trend;
``s = (t - t0) / T`` with ``t0`` the last reading and ``T`` the fitted span):

``constant``
    ``y = a`` (a steady level with noise)
``linear``
    ``y = a + b s``
``quadratic``
    ``y = a + b s + c s^2`` (accelerating or decelerating)
``exponential``
    ``y = a + c exp(k s)`` with ``k > 0`` (accelerating; ``k`` profiled, then refined jointly)
``saturating``
    ``y = a + c exp(k s)`` with ``k < 0`` (levelling off towards ``a``)
``onset``
    ``y = a + b u + c u^2`` with ``u = max(s - s_on, 0)``: steady, then changing from an onset
    ``s_on`` (profiled) at a rate that may grow, e.g. a settlement that starts and accelerates
``level``
    a local level: the median of the latest readings, drifting as a random walk whose diffusion
    is estimated from the history (the forecast of a series that wanders without a trend; its
    interval grows with the square root of the lead). Only weighed in with a backtest.
``seasonal``
    ``y = a + b s + sum_h (c_h cos(2 pi h t / P) + s_h sin(2 pi h t / P))``

Intervals that know what they do not know:

* residuals of monitoring data are autocorrelated (temperature cycles, slow drifts), so the
  parameter covariance is inflated by the variance-inflation factor of the residuals (batch means
  and lag-1 autocorrelation, the larger) and the Student-t degrees of freedom use the effective
  sample size ``n_eff = n / inflation``;
* :func:`fit_best_trend` fits every candidate on the same readings, ranks them by AICc on the
  effective sample size and keeps Akaike weights: its forecast is the weighted mixture of the
  candidates' predictive distributions, so model-selection uncertainty widens the interval where
  the candidates disagree (e.g. far ahead of an accelerating curve).

:func:`time_to_limit` gives when the expected trend (and the interval bounds) cross a limit and
the probability that the limit is exceeded at the horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError, NotEnoughDataError
from infrasight.signals.series import validate_series

__all__ = [
    "AUTO_KINDS",
    "CrackGrowth",
    "Forecast",
    "TimeToLimit",
    "TrendModel",
    "TrendSelection",
    "crack_growth_rate",
    "fit_best_trend",
    "fit_trend",
    "time_to_limit",
    "variance_inflation",
]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
TrendKind = Literal[
    "constant", "linear", "quadratic", "exponential", "saturating", "onset", "level", "seasonal"
]
KINDS: tuple[str, ...] = (
    "constant",
    "linear",
    "quadratic",
    "exponential",
    "saturating",
    "onset",
    "level",
    "seasonal",
)
AUTO_KINDS: tuple[TrendKind, ...] = (
    "constant",
    "linear",
    "quadratic",
    "exponential",
    "saturating",
    "onset",
    "level",
)
YEAR_S = 365.25 * 86400.0
_N_PAR = {
    "constant": 1,
    "linear": 2,
    "quadratic": 3,
    "exponential": 3,
    "saturating": 3,
    "onset": 4,
    "level": 1,
}
# rate grid of the exponential families, in 1 / fitted span (time constants 0.1 .. 20 spans)
_RATE_GRID = 1.0 / np.geomspace(0.1, 20.0, 16)
# Over a forecast horizon the accelerating exponential may grow by at most e^3 (20x): its rate
# is at most 3 / horizon. The backtest looks at most a third of the history ahead, so a faster
# rate is never checked there; a 30-day forecast of 2 days of flat readings reached 1e35 with
# an exponential of weight 0.006 before this limit (the mean of the mixture is not robust).
_MAX_E_FOLDS_OVER_HORIZON = 3.0
# onset grid of the onset family, in fitted spans before the last reading
_ONSET_GRID = -np.linspace(0.95, 0.1, 35)


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecast:
    """Predicted values at ``times`` (s) with a central prediction interval of ``level``.

    ``median`` is the central forecast to draw and quote: half of the predictive distribution
    lies above it, and it always lies inside the interval. ``mean`` is the expected value; for
    a mixture of candidates it can leave the interval when an unlikely candidate runs far away.
    """

    times: FloatArray
    mean: FloatArray
    median: FloatArray
    lower: FloatArray
    upper: FloatArray
    sd: FloatArray
    level: float

    def __post_init__(self) -> None:
        shapes = {a.shape for a in (self.times, self.mean, self.median, self.lower, self.upper)}
        if len(shapes) != 1:
            raise ValueError("forecast arrays must have the same shape")
        if not 0 < self.level < 1:
            raise ValueError("level must be in (0, 1)")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendModel:
    """A fitted trend (see module docstring).

    Attributes
    ----------
    kind : {"constant", "linear", "quadratic", "exponential", "saturating", "onset", "seasonal"}
    params : ndarray
        ``[a, b, ...]`` on the scaled time ``s`` (``[a, c, k]`` for the exponential families,
        ``[a, b, c, s_on]`` for ``onset``).
    cov : ndarray
        Parameter covariance, inflated for autocorrelated residuals.
    residual_scale : float
        Robust residual standard deviation (channel unit).
    dof : int
        Degrees of freedom of the Student-t predictive distribution (from ``n_eff``).
    t0 : float
        Time origin (s): the last fitted reading.
    time_scale_s : float
        ``T``: the fitted span (s).
    period_s : float or None
    n : int
        Readings used.
    n_eff : float
        Effective sample size of the residuals (``n`` when they are uncorrelated).
    diffusion_per_s : float
        Random-walk variance added per second after ``t0`` (``level`` only, else 0).
    aicc : float
        Corrected Akaike information criterion on ``n_eff`` (comparable between kinds fitted on
        the same readings only).
    """

    kind: TrendKind
    params: FloatArray
    cov: FloatArray
    residual_scale: float
    dof: int
    t0: float
    time_scale_s: float
    period_s: float | None
    n: int
    n_eff: float
    aicc: float
    diffusion_per_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown trend kind {self.kind!r}")
        if self.cov.shape != (self.params.size, self.params.size):
            raise ValueError("cov must be square with one row per parameter")
        if self.dof < 1:
            raise ValueError("dof must be >= 1")
        if not self.time_scale_s > 0:
            raise ValueError("time_scale_s must be > 0")

    @property
    def slope_per_s(self) -> float:
        """Rate of change of the trend at ``t0`` (channel unit per second)."""
        p = self.params
        if self.kind in ("exponential", "saturating"):
            return float(p[1] * p[2] / self.time_scale_s)
        if self.kind in ("constant", "level"):
            return 0.0
        if self.kind == "onset":
            u = max(-p[3], 0.0)
            return float((p[1] + 2 * p[2] * u) / self.time_scale_s)
        return float(p[1] / self.time_scale_s)

    def mean_and_jacobian(self, times: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Expected trend at ``times`` (s) and its Jacobian with respect to ``params``."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        s = (t - self.t0) / self.time_scale_s
        if self.kind in ("exponential", "saturating"):
            a, c, k = self.params
            e = np.exp(np.clip(k * s, -700.0, 700.0))
            return a + c * e, np.column_stack([np.ones_like(s), e, c * s * e])
        if self.kind == "onset":
            a, b, c, s_on = self.params
            u = np.maximum(s - s_on, 0.0)
            du = -(b + 2 * c * u) * (u > 0)
            return a + b * u + c * u * u, np.column_stack([np.ones_like(s), u, u * u, du])
        harmonics = (self.params.size - 2) // 2 if self.kind == "seasonal" else 0
        X = _design(s, self.kind, self.time_scale_s, self.period_s, harmonics)
        return X @ self.params, X

    def _moments(self, times: ArrayLike) -> tuple[FloatArray, FloatArray]:
        mu, J = self.mean_and_jacobian(times)
        var = self.residual_scale**2 + np.einsum("ij,jk,ik->i", J, self.cov, J)
        if self.diffusion_per_s > 0:
            lead = np.maximum(np.atleast_1d(np.asarray(times, dtype=np.float64)) - self.t0, 0.0)
            var = var + self.diffusion_per_s * lead
        return mu, np.sqrt(np.maximum(var, 0.0))

    def predict(self, times: ArrayLike, *, level: float = 0.95) -> Forecast:
        """Expected value and prediction interval of a reading at ``times`` (s)."""
        from scipy.stats import t as student

        _check_level(level)
        tt = np.atleast_1d(np.asarray(times, dtype=np.float64))
        mu, sd = self._moments(tt)
        q = float(student.ppf(0.5 + level / 2, self.dof))
        return Forecast(
            times=tt, mean=mu, median=mu, lower=mu - q * sd, upper=mu + q * sd, sd=sd, level=level
        )

    def exceedance_probability(self, time: float, limit: float, *, upper: bool = True) -> float:
        """Probability that the reading at ``time`` lies beyond ``limit``."""
        from scipy.stats import t as student

        mu, sd = self._moments(np.array([time]))
        p_above = float(student.sf((limit - mu[0]) / max(float(sd[0]), 1e-300), self.dof))
        return p_above if upper else 1.0 - p_above


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise InputDataError(f"level must be in (0, 1), got {level}")


def _design(
    s: FloatArray, kind: str, scale: float, period: float | None, harmonics: int
) -> FloatArray:
    cols = [np.ones_like(s)]
    if kind not in ("constant", "level"):
        cols.append(s)
    if kind == "quadratic":
        cols.append(s * s)
    if kind == "seasonal":
        assert period is not None
        for h in range(1, harmonics + 1):
            w = 2 * np.pi * h * s * scale / period
            cols += [np.cos(w), np.sin(w)]
    return np.column_stack(cols)


def _huber(X: FloatArray, v: FloatArray, iters: int = 10) -> tuple[FloatArray, FloatArray, float]:
    """Huber IRLS: coefficients, final weights and the MAD residual scale."""
    d = 1.0 / np.maximum(np.sqrt(np.sum(X * X, axis=0)), 1e-300)
    Xs = X * d
    beta = np.linalg.lstsq(Xs, v, rcond=None)[0]
    w = np.ones(v.size)
    scale = 0.0
    for _ in range(iters):
        r = v - Xs @ beta
        mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
        scale = mad if mad > 0 else float(np.std(r))
        if scale == 0:
            break
        w = 1.0 / np.maximum(np.abs(r) / (1.345 * scale), 1.0)
        sw = np.sqrt(w)
        beta = np.linalg.lstsq(Xs * sw[:, None], v * sw, rcond=None)[0]
    return np.asarray(beta * d, dtype=np.float64), w, scale


def _robust_sigma(r: FloatArray, scale: float, dof: int) -> float:
    # Huber-winsorised residual variance with degrees of freedom, made consistent for Gaussian
    # noise (E[min(Z^2, 2.5^2)] = 0.9776): robust to outliers, near-unbiased for small samples
    clip = 2.5 * scale if scale > 0 else np.inf
    return float(np.sqrt(np.sum(np.minimum(r * r, clip * clip)) / max(dof, 1) / 0.9776))


def variance_inflation(residuals: ArrayLike, *, clip: float | None = None) -> float:
    """Variance-inflation factor of the mean of autocorrelated residuals (>= 1).

    The larger of the AR(1) factor ``(1 + rho_1) / (1 - rho_1)`` and the batch-means ratio
    ``m var(block means) / var`` (20 blocks, when at least 200 residuals).
    """
    r = np.asarray(residuals, dtype=np.float64)
    if clip is not None:
        r = np.clip(r, -clip, clip)
    r = r - r.mean()
    n = r.size
    var = float(r @ r) / n
    if n < 8 or var == 0:
        return 1.0
    rho = float(np.clip((r[1:] @ r[:-1]) / n / var, 0.0, 0.95))
    infl = (1 + rho) / (1 - rho)
    if n >= 200:
        m = n // 20
        means = r[: 20 * m].reshape(20, m).mean(axis=1)
        infl = max(infl, m * float(np.var(means, ddof=1)) / var)
    return float(max(infl, 1.0))


def fit_trend(
    times: ArrayLike,
    values: ArrayLike,
    *,
    kind: TrendKind = "linear",
    period_s: float | None = None,
    harmonics: int = 2,
) -> TrendModel:
    """Fit one trend model to a channel.

    Parameters
    ----------
    times : array_like, shape (n,)
        Strictly increasing times (s).
    values : array_like, shape (n,)
        Readings (NaN ignored).
    kind : {"constant", "linear", "quadratic", "exponential", "saturating", "onset", "seasonal"}
    period_s : float, optional
        Season length in seconds (required for ``seasonal``, e.g. 365.25 days or 1 day).
    harmonics : int
        Fourier harmonics of the season.

    Raises
    ------
    NotEnoughDataError
        Fewer than ``n_params + 2`` readings or a single distinct time.
    InputDataError
        Missing ``period_s`` for ``seasonal``, unknown kind, bad timestamps.
    """
    t, v = _clean(times, values)
    if kind not in KINDS:
        raise InputDataError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "seasonal":
        if period_s is None or not period_s > 0:
            raise InputDataError("period_s: a seasonal trend needs a season length > 0")
        if harmonics < 1:
            raise InputDataError("harmonics must be >= 1")
    else:
        period_s, harmonics = None, 0
    n_par = 2 + 2 * harmonics if kind == "seasonal" else _N_PAR[kind]
    _need(t.size, n_par, kind)
    model = _fit(t, v, kind, period_s, harmonics)
    return _with_aicc(model, model.n_eff)


def _clean(times: ArrayLike, values: ArrayLike) -> tuple[FloatArray, FloatArray]:
    t, v = validate_series(times, values, name="trend series", min_points=1)
    ok = np.isfinite(v)
    return t[ok], v[ok]


def _need(n: int, n_par: int, kind: str) -> None:
    if n < n_par + 2:
        raise NotEnoughDataError(f"{n} readings, at least {n_par + 2} needed for {kind}")


def _mad_sd(x: FloatArray) -> float:
    return 1.4826 * float(np.median(np.abs(x - np.median(x)))) if x.size else 0.0


def _fit_level(t: FloatArray, v: FloatArray) -> TrendModel:
    """Local level: median of the latest readings plus a random walk fitted to the history."""
    n = t.size
    noise_var = _mad_sd(np.diff(v)) ** 2 / 2  # white part, from one-step differences
    lag = max(1, n // 4)
    drift_var = _mad_sd(v[lag:] - v[:-lag]) ** 2
    dt = float(np.median(t[lag:] - t[:-lag]))
    q = max(drift_var - 2 * noise_var, 0.0) / dt if dt > 0 else 0.0
    # readings averaged for the level: about sqrt(noise / walk per step), as a local-level
    # Kalman filter would (few for a wandering series, many for noise around a steady level)
    step_walk = q * float(np.median(np.diff(t)))
    ratio = np.sqrt(noise_var / step_walk) if step_walk > 0 else np.inf
    m = int(min(max(3.0, min(ratio, n / 4)), n))
    span = float(t[-1] - t[0])
    return TrendModel(
        kind="level",
        params=np.array([float(np.median(v[-m:]))]),
        cov=np.array([[noise_var / m + q * float(t[-1] - t[-m]) / 2]]),
        residual_scale=float(np.sqrt(noise_var)),
        dof=max(n // 4, 2),
        t0=float(t[-1]),
        time_scale_s=span if span > 0 else 1.0,
        period_s=None,
        n=n,
        n_eff=float(n),
        aicc=0.0,
        diffusion_per_s=q,
    )


def _fit(
    t: FloatArray,
    v: FloatArray,
    kind: TrendKind,
    period_s: float | None,
    harmonics: int,
    horizon_s: float | None = None,
) -> TrendModel:
    """Fit ``kind``; with ``horizon_s`` an exponential's rate is limited to what may be
    extrapolated that far (at most ``_MAX_E_FOLDS_OVER_HORIZON`` e-folds)."""
    if kind == "level":
        return _fit_level(t, v)
    t0 = float(t[-1])
    span = float(t[-1] - t[0])
    scale_s = span if span > 0 else 1.0
    s = (t - t0) / scale_s
    # the non-linear parameter is searched on at most 1,500 evenly spread readings
    sub = np.unique(np.linspace(0, t.size - 1, min(t.size, 1500)).round().astype(np.intp))
    if kind in ("exponential", "saturating"):
        sign = 1.0 if kind == "exponential" else -1.0
        rates = _RATE_GRID
        if kind == "exponential" and horizon_s is not None and horizon_s > 0:
            cap = _MAX_E_FOLDS_OVER_HORIZON * scale_s / horizon_s
            allowed = np.less_equal(_RATE_GRID, cap)
            rates = _RATE_GRID[allowed] if allowed.any() else _RATE_GRID[-1:]
        k = _profile(lambda x, q: np.exp(q * x), sign * rates, s[sub], v[sub])
        beta, w, sc = _huber(np.column_stack([np.ones_like(s), np.exp(k * s)]), v)
        params = np.array([beta[0], beta[1], k])
        e = np.exp(k * s)
        J = np.column_stack([np.ones_like(s), e, beta[1] * s * e])
        r = v - (beta[0] + beta[1] * e)
    elif kind == "onset":
        s_on = _profile(_onset_columns, _ONSET_GRID, s[sub], v[sub])
        u = np.maximum(s - s_on, 0.0)
        beta, w, sc = _huber(np.column_stack([np.ones_like(s), u, u * u]), v)
        params = np.array([*beta, s_on])
        J = np.column_stack([np.ones_like(s), u, u * u, -(beta[1] + 2 * beta[2] * u) * (u > 0)])
        r = v - J[:, :3] @ beta
    else:
        J = _design(s, kind, scale_s, period_s, harmonics)
        params, w, sc = _huber(J, v)
        r = v - J @ params
    p = params.size
    n = t.size
    sigma = _robust_sigma(r, sc, n - p)
    infl = min(variance_inflation(r, clip=2.5 * sc if sc > 0 else None), n / (p + 3))
    n_eff = n / infl
    JtWJ = (J * w[:, None]).T @ J
    d = 1.0 / np.sqrt(np.maximum(np.diag(JtWJ), 1e-300))
    cov = sigma**2 * infl * d[:, None] * np.linalg.pinv(d[:, None] * JtWJ * d) * d
    return TrendModel(
        kind=kind,
        params=np.asarray(params, dtype=np.float64),
        cov=np.asarray(cov, dtype=np.float64),
        residual_scale=sigma,
        dof=max(round(n_eff) - p, 1),
        t0=t0,
        time_scale_s=scale_s,
        period_s=period_s,
        n=n,
        n_eff=float(n_eff),
        aicc=0.0,
    )


def _onset_columns(s: FloatArray, s_on: float) -> FloatArray:
    u = np.maximum(s - s_on, 0.0)
    return np.column_stack([u, u * u])


def _profile(
    columns: Callable[[FloatArray, float], FloatArray],
    grid: FloatArray,
    s: FloatArray,
    v: FloatArray,
) -> float:
    """Non-linear parameter minimising the Huber-weighted loss of ``[1, columns(s, q)]``:
    a grid search, then a bounded refinement between the neighbours of the best grid value."""
    from scipy.optimize import minimize_scalar

    def loss(q: float, iters: int = 2) -> float:
        X = np.column_stack([np.ones_like(s), columns(s, q)])
        beta, w, _ = _huber(X, v, iters=iters)
        r = v - X @ beta
        return float(np.sum(w * r * r))

    losses = [loss(float(q)) for q in grid]
    j = int(np.argmin(losses))
    lo, hi = float(grid[max(j - 1, 0)]), float(grid[min(j + 1, grid.size - 1)])
    if lo == hi:
        return float(grid[j])
    res = minimize_scalar(
        loss, bounds=(min(lo, hi), max(lo, hi)), method="bounded", options={"xatol": 1e-4}
    )
    q = float(res.x)
    return q if loss(q) <= losses[j] else float(grid[j])


def _with_aicc(m: TrendModel, n_eff: float) -> TrendModel:
    from dataclasses import replace

    p = m.params.size + 1  # + the residual scale
    ln_var = 2.0 * np.log(max(m.residual_scale, 1e-300))
    aicc = n_eff * ln_var + 2 * p + 2 * p * (p + 1) / max(n_eff - p - 1, 1e-9)
    return replace(m, aicc=float(aicc))


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendSelection:
    """Candidate trends fitted to the same readings, ranked by AICc, and their mixture.

    Attributes
    ----------
    models : tuple of TrendModel
        The candidates, highest weight first (their spread already widened by
        ``interval_factor``).
    weights : ndarray
        Weights of ``models`` (sum 1), see :func:`fit_best_trend`.
    interval_factor : float
        Factor (>= 1) the predictive spread was widened by after the backtest on the history
        (1 without one).
    """

    models: tuple[TrendModel, ...]
    weights: FloatArray
    interval_factor: float = 1.0

    def __post_init__(self) -> None:
        if not self.models or len(self.models) != self.weights.size:
            raise ValueError("one weight per model, at least one model")
        if not np.isclose(self.weights.sum(), 1.0):
            raise ValueError("weights must sum to 1")

    @property
    def best(self) -> TrendModel:
        """The candidate with the highest weight."""
        return self.models[0]

    @property
    def kind(self) -> TrendKind:
        """Kind of the best candidate."""
        return self.best.kind

    @property
    def t0(self) -> float:
        """Time of the last fitted reading (s)."""
        return self.best.t0

    @property
    def n(self) -> int:
        """Readings used."""
        return self.best.n

    @property
    def slope_per_s(self) -> float:
        """Weighted rate of change at ``t0`` (channel unit per second)."""
        return float(sum(w * m.slope_per_s for m, w in zip(self.models, self.weights, strict=True)))

    @property
    def residual_scale(self) -> float:
        """Residual scale of the best candidate."""
        return self.best.residual_scale

    def predict(self, times: ArrayLike, *, level: float = 0.95) -> Forecast:
        """Mixture forecast: weighted mean, and the central interval of the mixture."""
        from scipy.stats import t as student

        _check_level(level)
        tt = np.atleast_1d(np.asarray(times, dtype=np.float64))
        mus, sds = zip(*(m._moments(tt) for m in self.models), strict=True)
        mu = np.array(mus)
        sd = np.maximum(np.array(sds), 1e-300)
        dof = np.array([m.dof for m in self.models], dtype=np.float64)[:, None]
        w = self.weights[:, None]
        mean = (w * mu).sum(axis=0)
        var = (w * (sd**2 + mu**2)).sum(axis=0) - mean**2

        def quantile(p: float) -> FloatArray:
            lo = (mu - 50 * sd).min(axis=0)
            hi = (mu + 50 * sd).max(axis=0)
            # bisection to a relative precision of 1e-10 of the smallest candidate spread,
            # however far apart the candidates are (60 fixed halvings were not enough when one
            # candidate's mean was 1e35)
            tolerance = 1e-10 * np.maximum(sd.min(axis=0), 1e-300)
            for _ in range(2200):
                mid = 0.5 * (lo + hi)
                cdf = (w * student.cdf((mid - mu) / sd, dof)).sum(axis=0)
                below = cdf < p
                lo = np.where(below, mid, lo)
                hi = np.where(below, hi, mid)
                if np.all(hi - lo <= tolerance) or np.array_equal(mid, 0.5 * (lo + hi)):
                    break
            out: FloatArray = 0.5 * (lo + hi)
            return out

        return Forecast(
            times=tt,
            mean=mean,
            median=quantile(0.5),
            lower=quantile(0.5 - level / 2),
            upper=quantile(0.5 + level / 2),
            sd=np.sqrt(np.maximum(var, 0.0)),
            level=level,
        )

    def exceedance_probability(self, time: float, limit: float, *, upper: bool = True) -> float:
        """Mixture probability that the reading at ``time`` lies beyond ``limit``."""
        p = sum(
            w * m.exceedance_probability(time, limit, upper=upper)
            for m, w in zip(self.models, self.weights, strict=True)
        )
        return float(min(max(p, 0.0), 1.0))


def fit_best_trend(
    times: ArrayLike,
    values: ArrayLike,
    *,
    kinds: tuple[TrendKind, ...] = AUTO_KINDS,
    horizon_s: float | None = None,
    origins: int = 4,
) -> TrendSelection:
    """Fit every kind in ``kinds`` to the same readings and weigh them.

    Without ``horizon_s`` the weights are Akaike weights (AICc on one effective sample size for
    all candidates, the largest of theirs, so that a misfit's autocorrelated residuals cannot
    lower its own penalty). With ``horizon_s`` the candidates are also backtested on the history
    itself (rolling origin): at ``origins`` origins spread over its second half, each candidate
    is refitted on the readings before the origin and scored (Student-t log density) on the
    readings of the following ``min(horizon_s, span / 3)``; the weights multiply the Akaike
    weights by ``exp`` of the per-origin mean log scores summed with weights 1, 1/2, 1/4, ...
    from the latest origin back (recent behaviour counts most), and the predictive spread of
    every candidate is widened by the smallest factor (>= 1) with which the mixture's 95 %
    intervals covered at least 95 % of those held-out readings. Candidates that cannot be
    fitted (too few readings) are left out.

    Parameters
    ----------
    times, values : array_like, shape (n,)
        Strictly increasing times (s) and readings (NaN ignored).
    kinds : tuple of str
        Candidate kinds (default constant, linear, quadratic, exponential, saturating, onset).
    horizon_s : float, optional
        Forecast horizon (s) the selection and the interval calibration are made for.
    origins : int
        Rolling origins of the backtest on the history.

    Raises
    ------
    NotEnoughDataError
        Not even the simplest candidate can be fitted.
    InputDataError
        Unknown or seasonal kind (seasonal needs a period: use :func:`fit_trend`), bad times,
        ``horizon_s <= 0``.
    """
    t, v = _clean(times, values)
    if not kinds:
        raise InputDataError("kinds must name at least one trend kind")
    for k in kinds:
        if k not in _N_PAR:
            raise InputDataError(f"kinds: {k!r} is not one of {', '.join(_N_PAR)}")
    if horizon_s is not None and not horizon_s > 0:
        raise InputDataError("horizon_s must be > 0")
    usable = [k for k in kinds if t.size >= _N_PAR[k] + 2]
    if horizon_s is None and len(usable) > 1:
        usable = [k for k in usable if k != "level"]  # it needs the backtest to be weighed
    if not usable:
        _need(t.size, min(_N_PAR[k] for k in kinds), kinds[0])
    fitted = [_fit(t, v, k, None, 0, horizon_s) for k in usable]
    is_level = np.array([m.kind == "level" for m in fitted])
    n_eff = max(m.n_eff for m, lv in zip(fitted, is_level, strict=True) if not lv or is_level.all())
    scored = [_with_aicc(m, n_eff) for m in fitted]
    a = np.array([m.aicc for m in scored])
    if is_level.any() and not is_level.all():
        # the local level is not a regression on the history: neutral AICc (the best one's)
        a[is_level] = a[~is_level].min()
    log_w = -0.5 * (a - a.min())
    factor = 1.0
    if horizon_s is not None:
        backtest = _backtest(t, v, usable, horizon_s, origins)
        if backtest is not None:
            scores, mus, sds, dofs, truth = backtest
            log_w = log_w + scores
            w = np.exp(log_w - log_w.max())
            w /= w.sum()
            factor = _calibration(w, mus, sds, dofs, truth)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    order = np.argsort(-w, kind="stable")
    models = tuple(_widen(scored[j], factor) for j in order)
    logger.debug(
        "trend selection: %s, interval factor %.2f",
        [(m.kind, round(float(x), 3)) for m, x in zip(models, w[order], strict=True)],
        factor,
    )
    return TrendSelection(models=models, weights=w[order], interval_factor=factor)


def _widen(m: TrendModel, factor: float) -> TrendModel:
    from dataclasses import replace

    if factor == 1.0:
        return m
    return replace(m, residual_scale=m.residual_scale * factor, cov=m.cov * factor**2)


def _backtest(
    t: FloatArray, v: FloatArray, kinds: list[TrendKind], horizon_s: float, origins: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray] | None:
    """Rolling-origin scores of each kind: summed per-origin mean log density, and the
    held-out predictions ``(mu, sd, dof)`` (kinds x points) with the held-out readings."""
    from scipy.stats import t as student

    span = float(t[-1] - t[0])
    lead = min(horizon_s, span / 3)
    if origins < 1 or span <= 0 or t.size < 30:
        return None
    starts = np.linspace(t[0] + span / 2, t[-1] - lead / 4, origins)
    scores = np.zeros(len(kinds))
    mus: list[FloatArray] = []
    sds: list[FloatArray] = []
    dofs: list[FloatArray] = []
    truth: list[FloatArray] = []
    # the refits use at most 1,500 evenly spread readings (the inflation factor of the residuals
    # keeps their intervals honest); the held-out readings are all there
    keep = np.zeros(t.size, dtype=bool)
    keep[np.unique(np.linspace(0, t.size - 1, min(t.size, 1500)).round().astype(np.intp))] = True
    # later origins count more (recent behaviour): weights 1, 1/2, 1/4, ... from the last
    recency = 0.5 ** np.arange(starts.size)[::-1]
    for o, rw in zip(starts, recency, strict=True):
        past = (t <= o) & keep
        ahead = np.flatnonzero((t > o) & (t <= o + lead))
        if ahead.size == 0 or past.sum() < 12:
            continue
        spread = np.linspace(0, ahead.size - 1, min(ahead.size, 12)).round().astype(np.intp)
        pick = ahead[np.unique(spread)]
        mu_o, sd_o, dof_o = [], [], []
        for j, k in enumerate(kinds):
            if past.sum() < _N_PAR[k] + 2:
                return None
            m = _fit(t[past], v[past], k, None, 0, lead)
            mu, sd = m._moments(t[pick])
            sd = np.maximum(sd, 1e-300)
            z = np.clip((v[pick] - mu) / sd, -1e6, 1e6)  # no overflow for a flat history
            logp = student.logpdf(z, m.dof) - np.log(sd)
            scores[j] += rw * float(np.mean(logp))
            mu_o.append(mu)
            sd_o.append(sd)
            dof_o.append(np.full(pick.size, float(m.dof)))
        mus.append(np.array(mu_o))
        sds.append(np.array(sd_o))
        dofs.append(np.array(dof_o))
        truth.append(v[pick])
    if not truth:
        return None
    return (
        scores,
        np.concatenate(mus, axis=1),
        np.concatenate(sds, axis=1),
        np.concatenate(dofs, axis=1),
        np.concatenate(truth),
    )


def _calibration(
    w: FloatArray, mus: FloatArray, sds: FloatArray, dofs: FloatArray, truth: FloatArray
) -> float:
    """Smallest spread factor with which the mixture's 95 % intervals cover >= 95 % of truth."""
    from scipy.stats import t as student

    for factor in (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        cdf = (w[:, None] * student.cdf((truth - mus) / (factor * sds), dofs)).sum(axis=0)
        if np.mean((cdf >= 0.025) & (cdf <= 0.975)) >= 0.95:
            return factor
    return 10.0


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
    model: TrendModel | TrendSelection,
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
    model : TrendModel or TrendSelection
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

    Raises
    ------
    InputDataError
        When ``horizon_s`` is not positive, or the forecast is not finite within the horizon
        (the fitted trend overflows; the API answers 422).
    """
    if not horizon_s > 0:
        raise InputDataError("horizon_s must be > 0")
    start = model.t0 if now is None else float(now)
    tt = np.linspace(start, start + horizon_s, steps)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing trend is refused below
        return _time_to_limit(model, limit, tt, start, horizon_s, upper, level)


def _time_to_limit(
    model: TrendModel | TrendSelection,
    limit: float,
    tt: FloatArray,
    start: float,
    horizon_s: float,
    upper: bool | None,
    level: float,
) -> TimeToLimit:
    fc = model.predict(tt, level=level)
    if upper is None:
        upper = bool(limit >= fc.mean[0])
    near, far = (fc.upper, fc.lower) if upper else (fc.lower, fc.upper)

    def rel(x: float | None) -> float | None:
        return None if x is None else x - start

    probability = model.exceedance_probability(start + horizon_s, limit, upper=upper)
    if not np.isfinite(probability):  # the trend overflows over this horizon
        raise InputDataError(
            f"the forecast is not finite within {horizon_s / 86400.0:.0f} days "
            "(the fitted trend overflows); shorten the horizon or the history"
        )
    return TimeToLimit(
        limit=float(limit),
        now=start,
        eta_s=rel(_first_cross(tt, fc.mean, limit, upper)),
        eta_early_s=rel(_first_cross(tt, near, limit, upper)),
        eta_late_s=rel(_first_cross(tt, far, limit, upper)),
        probability=float(probability),
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
    b = model.slope_per_s * YEAR_S
    se = float(np.sqrt(model.cov[1, 1])) / model.time_scale_s * YEAR_S
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
