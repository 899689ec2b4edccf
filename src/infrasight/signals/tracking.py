"""Mode tracking across records, environmental compensation of frequencies, frequency-drop alarm.

1. :func:`match_modes` pairs the modes of a new record with reference modes (optimal assignment on
   relative frequency distance + 1 - MAC, with gates).
2. :func:`fit_frequency_baseline` learns, on reference records, how each tracked frequency follows
   the drivers (temperature, with any lag already applied by the caller, e.g. the mean
   temperature of the previous hours) and the covariance of what is left.
3. :meth:`FrequencyBaseline.assess` scores new records: per-mode residual in % and in sigmas, a
   Mahalanobis novelty index over the modes present, and ``drop`` = the novelty exceeds the
   chi-square quantile *and* the frequencies went down (loss of stiffness).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError, NotEnoughDataError
from infrasight.signals.modal import Mode, mac

__all__ = [
    "FrequencyAssessment",
    "FrequencyBaseline",
    "fit_frequency_baseline",
    "match_modes",
    "tracked_frequencies",
]

FloatArray = NDArray[np.float64]


def match_modes(
    reference: Sequence[Mode],
    modes: Sequence[Mode],
    *,
    max_rel_df: float = 0.15,
    min_mac: float = 0.8,
) -> list[Mode | None]:
    """For each reference mode, the matching mode of ``modes`` (or ``None``).

    Parameters
    ----------
    reference, modes : sequence of Mode
        Shapes must have the same number of channels.
    max_rel_df : float
        Largest relative frequency difference accepted.
    min_mac : float
        Smallest MAC accepted.
    """
    from scipy.optimize import linear_sum_assignment

    out: list[Mode | None] = [None] * len(reference)
    if not reference or not modes:
        return out
    big = 1e6
    cost = np.full((len(reference), len(modes)), big)
    for a, r in enumerate(reference):
        for b, m in enumerate(modes):
            if r.mode_shape_complex.shape != m.mode_shape_complex.shape:
                raise InputDataError("mode shapes have different numbers of channels")
            df = abs(m.frequency_hz - r.frequency_hz) / r.frequency_hz
            mm = mac(r.mode_shape_complex, m.mode_shape_complex)
            if df <= max_rel_df and mm >= min_mac:
                cost[a, b] = df + (1.0 - mm)
    rows, cols = linear_sum_assignment(cost)
    for a, b in zip(rows, cols, strict=True):
        if cost[a, b] < big:
            out[a] = modes[b]
    return out


def tracked_frequencies(
    reference: Sequence[Mode], records: Sequence[Sequence[Mode]], **gates: float
) -> FloatArray:
    """Matrix (n_records, n_reference_modes) of tracked frequencies (Hz, NaN = not found)."""
    out = np.full((len(records), len(reference)), np.nan)
    for i, modes in enumerate(records):
        for j, m in enumerate(match_modes(reference, modes, **gates)):
            if m is not None:
                out[i, j] = m.frequency_hz
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyAssessment:
    """Scores of new records against a :class:`FrequencyBaseline`.

    Attributes
    ----------
    residual_pct : ndarray, shape (m, k)
        Compensated frequency change in % of the reference mean (negative = softer).
    z : ndarray, shape (m, k)
        Compensated residual in reference standard deviations.
    novelty : ndarray, shape (m,)
        Squared Mahalanobis distance over the modes present.
    threshold : ndarray, shape (m,)
        Chi-square quantile for the number of modes present.
    drop : ndarray of bool, shape (m,)
        ``novelty > threshold`` and mean residual < 0.
    """

    residual_pct: FloatArray
    z: FloatArray
    novelty: FloatArray
    threshold: FloatArray
    drop: NDArray[np.bool_]

    def __post_init__(self) -> None:
        if self.residual_pct.shape != self.z.shape:
            raise ValueError("residual_pct and z must have the same shape")


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyBaseline:
    """Reference behaviour of tracked frequencies (see module docstring).

    Attributes
    ----------
    drivers : tuple of str
    coefficients : ndarray, shape (1 + n_drivers, k)
        Intercept (Hz) and Hz per driver unit, per mode.
    mean_hz : ndarray, shape (k,)
    residual_cov : ndarray, shape (k, k)
        Hz^2.
    quantile : float
        Chi-square quantile of the alarm threshold.
    n_reference : int
    """

    drivers: tuple[str, ...]
    coefficients: FloatArray
    mean_hz: FloatArray
    residual_cov: FloatArray
    quantile: float
    n_reference: int

    def __post_init__(self) -> None:
        k = self.mean_hz.size
        if self.coefficients.shape != (1 + len(self.drivers), k):
            raise ValueError("coefficients must have shape (1 + n_drivers, n_modes)")
        if self.residual_cov.shape != (k, k):
            raise ValueError("residual_cov must be (n_modes, n_modes)")
        if not 0.5 < self.quantile < 1:
            raise ValueError("quantile must be in (0.5, 1)")

    def _design(self, m: int, drivers: Mapping[str, ArrayLike] | None) -> FloatArray:
        cols = [np.ones(m)]
        for name in self.drivers:
            if drivers is None or name not in drivers:
                raise InputDataError(f"frequency baseline needs driver {name!r}")
            d = np.asarray(drivers[name], dtype=np.float64)
            if d.shape != (m,):
                raise InputDataError(f"driver {name!r} must have one value per record ({m})")
            cols.append(d)
        return np.column_stack(cols)

    def assess(
        self, frequencies: ArrayLike, drivers: Mapping[str, ArrayLike] | None = None
    ) -> FrequencyAssessment:
        """Score records (rows of ``frequencies``, Hz, NaN = mode not found)."""
        from scipy.stats import chi2

        F = np.atleast_2d(np.asarray(frequencies, dtype=np.float64))
        k = self.mean_hz.size
        if F.shape[1] != k:
            raise InputDataError(f"expected {k} frequencies per record, got {F.shape[1]}")
        X = self._design(F.shape[0], drivers)
        res = F - X @ self.coefficients
        sd = np.sqrt(np.diag(self.residual_cov))
        z = res / sd
        nov = np.full(F.shape[0], np.nan)
        thr = np.full(F.shape[0], np.nan)
        drop = np.zeros(F.shape[0], dtype=bool)
        for i in range(F.shape[0]):
            ok = np.isfinite(res[i])
            if not ok.any():
                continue
            C = self.residual_cov[np.ix_(ok, ok)]
            r = res[i, ok]
            nov[i] = float(r @ np.linalg.solve(C, r))
            thr[i] = float(chi2.ppf(self.quantile, int(ok.sum())))
            drop[i] = nov[i] > thr[i] and float(np.mean(z[i, ok])) < 0
        return FrequencyAssessment(
            residual_pct=100.0 * res / self.mean_hz, z=z, novelty=nov, threshold=thr, drop=drop
        )


def fit_frequency_baseline(
    frequencies: ArrayLike,
    drivers: Mapping[str, ArrayLike] | None = None,
    *,
    quantile: float = 0.999,
) -> FrequencyBaseline:
    """Learn the reference behaviour of tracked frequencies.

    Parameters
    ----------
    frequencies : array_like, shape (n, k)
        Reference records x tracked modes (Hz). Rows with a NaN are skipped.
    drivers : mapping of name -> array_like, shape (n,), optional
        Environmental drivers per record (e.g. ``{"temperature": T_degC}``).
    quantile : float
        Chi-square quantile of the drop alarm (0.999 = 1 false alarm per 1000 healthy records if
        the residuals were Gaussian).

    Raises
    ------
    NotEnoughDataError
        Fewer than ``k + n_drivers + 3`` complete reference records.
    """
    F = np.atleast_2d(np.asarray(frequencies, dtype=np.float64))
    names = tuple(sorted(drivers)) if drivers else ()
    cols = [np.ones(F.shape[0])]
    for name in names:
        assert drivers is not None
        d = np.asarray(drivers[name], dtype=np.float64)
        if d.shape != (F.shape[0],):
            raise InputDataError(f"driver {name!r} must have one value per record")
        cols.append(d)
    X = np.column_stack(cols)
    ok = np.all(np.isfinite(F), axis=1) & np.all(np.isfinite(X), axis=1)
    k = F.shape[1]
    need = k + len(names) + 3
    if ok.sum() < need:
        raise NotEnoughDataError(f"{int(ok.sum())} complete reference records, {need} needed")
    Xo, Fo = X[ok], F[ok]
    if np.any(np.all(Fo == Fo[0], axis=0)):
        raise NotEnoughDataError("a tracked frequency is constant over the reference records")
    B = np.linalg.lstsq(Xo, Fo, rcond=None)[0]
    R = Fo - Xo @ B
    dof = max(Fo.shape[0] - X.shape[1], 1)
    cov = R.T @ R / dof
    return FrequencyBaseline(
        drivers=names,
        coefficients=B,
        mean_hz=Fo.mean(axis=0),
        residual_cov=cov,
        quantile=quantile,
        n_reference=int(ok.sum()),
    )
