"""Environmental compensation: learn how a channel follows temperature (with lag) and other drivers.

On a reference period the reading is modelled as ``y(t) = c + sum_k b_k * d_k(t - lag_k)`` where
``d_k`` are driver series (air or structure temperature, traffic load...) interpolated at the
lagged times. Lags are chosen on a grid by least squares (thermal inertia of a deck is typically
hours); coefficients by iteratively re-weighted least squares (Huber), so outliers in the
reference do not bias them. What is left (the residual) is scored against the reference's robust
scale: a structural change shows as a residual offset that temperature cannot explain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError, NotEnoughDataError
from infrasight.signals.series import validate_series

__all__ = ["CompensationModel", "driver_values", "fit_compensation"]

FloatArray = NDArray[np.float64]
Drivers = Mapping[str, tuple[ArrayLike, ArrayLike]]


def _driver_at(name: str, drv: tuple[ArrayLike, ArrayLike], t: FloatArray) -> FloatArray:
    td, vd = validate_series(*drv, name=f"driver {name}", min_points=2)
    ok = np.isfinite(vd)
    out = np.interp(t, td[ok], vd[ok])
    out[(t < td[ok][0]) | (t > td[ok][-1])] = np.nan
    return out


def _huber_lstsq(X: FloatArray, y: FloatArray, iters: int = 8) -> tuple[FloatArray, float]:
    w = np.ones(y.size)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    scale = 1.0
    for _ in range(iters):
        r = y - X @ beta
        scale = float(1.4826 * np.median(np.abs(r - np.median(r)))) or float(np.std(r)) or 1.0
        u = np.abs(r) / (1.345 * scale)
        w = np.where(u <= 1, 1.0, 1.0 / np.maximum(u, 1e-12))
        sw = np.sqrt(w)
        beta = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
    r = y - X @ beta
    scale = float(1.4826 * np.median(np.abs(r - np.median(r))))
    return np.asarray(beta, dtype=np.float64), scale


@dataclass(frozen=True, slots=True, kw_only=True)
class CompensationModel:
    """Learned driver response of a channel.

    Attributes
    ----------
    drivers : tuple of str
        Driver names in coefficient order.
    lags_s : tuple of float
        Lag of each driver in seconds (response follows the driver by this much).
    coefficients : tuple of float
        Channel units per driver unit (e.g. um/m per degC).
    intercept : float
        Channel units.
    residual_scale : float
        Robust standard deviation of the reference residual (channel units).
    r2 : float
        Share of the reference variance explained by the drivers.
    n_reference : int
        Readings used.
    """

    drivers: tuple[str, ...]
    lags_s: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    residual_scale: float
    r2: float
    n_reference: int

    def __post_init__(self) -> None:
        if not (len(self.drivers) == len(self.lags_s) == len(self.coefficients)):
            raise ValueError("drivers, lags_s and coefficients must have the same length")
        if not self.residual_scale >= 0:
            raise ValueError("residual_scale must be >= 0")

    def predict(self, times: ArrayLike, drivers: Drivers) -> FloatArray:
        """Driver-explained part of the reading at ``times`` (s); NaN outside driver coverage."""
        t = np.asarray(times, dtype=np.float64)
        missing = set(self.drivers) - set(drivers)
        if missing:
            raise InputDataError(f"compensation needs driver(s) {sorted(missing)}")
        out = np.full(t.shape, self.intercept)
        for name, lag, b in zip(self.drivers, self.lags_s, self.coefficients, strict=True):
            out = out + b * _driver_at(name, drivers[name], t - lag)
        return out

    def residuals(self, times: ArrayLike, values: ArrayLike, drivers: Drivers) -> FloatArray:
        """Reading minus the driver-explained part (channel units)."""
        t, v = validate_series(times, values, name="compensated channel")
        return v - self.predict(t, drivers)

    def zscores(self, times: ArrayLike, values: ArrayLike, drivers: Drivers) -> FloatArray:
        """Residual in units of the reference residual scale (signed)."""
        scale = self.residual_scale if self.residual_scale > 0 else 1e-12
        return self.residuals(times, values, drivers) / scale


def fit_compensation(
    times: ArrayLike,
    values: ArrayLike,
    drivers: Drivers,
    *,
    reference: tuple[float, float] | None = None,
    max_lag_s: float = 0.0,
    n_lags: int = 25,
) -> CompensationModel:
    """Fit the driver response of a channel on a reference period.

    Parameters
    ----------
    times, values : array_like, shape (n,)
        Channel readings: times in seconds, values in the channel unit.
    drivers : mapping of name -> (times, values)
        Driver series (e.g. ``{"temperature": (t_T, T_degC)}``) on their own time bases.
    reference : (start_s, end_s), optional
        Reference period (inclusive); the whole series by default.
    max_lag_s : float
        Largest lag tried, in seconds (0 = no lag search).
    n_lags : int
        Grid size of the lag search per driver.

    Returns
    -------
    CompensationModel

    Raises
    ------
    NotEnoughDataError
        Fewer than ``3 + 2 * len(drivers)`` usable reference readings, or a constant driver.
    """
    t, v = validate_series(times, values, name="compensated channel", min_points=3)
    if not drivers:
        raise InputDataError("fit_compensation needs at least one driver")
    if max_lag_s < 0 or n_lags < 1:
        raise InputDataError("max_lag_s must be >= 0 and n_lags >= 1")
    sel = np.ones(t.size, dtype=bool)
    if reference is not None:
        sel = (t >= reference[0]) & (t <= reference[1])
    t, v = t[sel], v[sel]
    names = tuple(sorted(drivers))
    grid = np.linspace(0.0, max_lag_s, n_lags) if max_lag_s > 0 else np.zeros(1)
    lags = [0.0] * len(names)
    cache: dict[tuple[str, float], FloatArray] = {}

    def col(name: str, lag: float) -> FloatArray:
        key = (name, lag)
        if key not in cache:
            cache[key] = _driver_at(name, drivers[name], t - lag)
        return cache[key]

    def design(lag_vec: list[float]) -> tuple[FloatArray, FloatArray, FloatArray]:
        cols = [col(nm, lg) for nm, lg in zip(names, lag_vec, strict=True)]
        X = np.column_stack([np.ones(t.size), *cols])
        ok = np.all(np.isfinite(X), axis=1) & np.isfinite(v)
        return X[ok], v[ok], ok

    need = 3 + 2 * len(names)
    for _ in range(2 if len(names) > 1 else 1):
        for k in range(len(names)):
            best = (np.inf, lags[k])
            for lag in grid:
                trial = list(lags)
                trial[k] = float(lag)
                X, y, _ = design(trial)
                if y.size < need:
                    continue
                beta = np.linalg.lstsq(X, y, rcond=None)[0]
                sse = float(np.mean(np.square(y - X @ beta)))
                if sse < best[0] - 1e-12 * abs(best[0] if np.isfinite(best[0]) else 0):
                    best = (sse, float(lag))
            lags[k] = best[1]
    X, y, _ = design(lags)
    if y.size < need:
        raise NotEnoughDataError(
            f"compensation: {y.size} reference readings overlap the drivers, {need} needed"
        )
    if np.any(np.ptp(X[:, 1:], axis=0) == 0):
        raise NotEnoughDataError("compensation: a driver is constant over the reference period")
    beta, scale = _huber_lstsq(X, y)
    resid = y - X @ beta
    var = float(np.var(y))
    r2 = 1.0 - float(np.var(resid)) / var if var > 0 else 0.0
    return CompensationModel(
        drivers=names,
        lags_s=tuple(lags),
        coefficients=tuple(float(b) for b in beta[1:]),
        intercept=float(beta[0]),
        residual_scale=scale,
        r2=r2,
        n_reference=int(y.size),
    )


def driver_values(
    times: ArrayLike,
    driver: tuple[ArrayLike, ArrayLike],
    *,
    lag_s: float = 0.0,
    window_s: float = 0.0,
) -> FloatArray:
    """Driver value seen by a structure at ``times``: lagged and optionally averaged.

    Use it to give each vibration record its temperature for
    :func:`~infrasight.signals.tracking.fit_frequency_baseline`, e.g. the mean air temperature
    of the 6 hours ending 2 hours before the record (``lag_s=7200, window_s=21600``).

    Parameters
    ----------
    times : array_like, shape (m,)
        Times (s) at which the driver is wanted.
    driver : (times, values)
        Driver series (s, driver unit); NaN readings are skipped.
    lag_s : float
        The response follows the driver by this many seconds.
    window_s : float
        Average over the ``window_s`` seconds ending at ``t - lag_s`` (0 = instantaneous,
        linear interpolation).

    Returns
    -------
    ndarray, shape (m,)
        NaN where the window is not covered by the driver series.
    """
    from scipy.integrate import cumulative_trapezoid

    if lag_s < 0 or window_s < 0:
        raise InputDataError("lag_s and window_s must be >= 0")
    td, vd = validate_series(*driver, name="driver", min_points=2)
    ok = np.isfinite(vd)
    td, vd = td[ok], vd[ok]
    if td.size < 2:
        raise NotEnoughDataError("driver: fewer than 2 finite readings")
    t = np.asarray(times, dtype=np.float64) - lag_s
    if window_s == 0:
        out = np.interp(t, td, vd)
        out[(t < td[0]) | (t > td[-1])] = np.nan
        return out
    integral = cumulative_trapezoid(vd, td, initial=0.0)
    lo = t - window_s
    res = (np.interp(t, td, integral) - np.interp(lo, td, integral)) / window_s
    res[(lo < td[0]) | (t > td[-1])] = np.nan
    return np.asarray(res, dtype=np.float64)
