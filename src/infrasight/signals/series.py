"""Validation of (time, value) series shared by every analysis."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError, NotEnoughDataError

__all__ = ["as_float_vector", "validate_series"]

FloatArray = NDArray[np.float64]


def as_float_vector(values: ArrayLike, *, name: str) -> FloatArray:
    """Return ``values`` as a 1-D float64 array or raise :class:`InputDataError`.

    Parameters
    ----------
    values : array_like
        Values to convert.
    name : str
        Name used in error messages.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputDataError(f"{name}: cannot convert to numbers ({err})") from err
    if arr.ndim != 1:
        raise InputDataError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    return arr


def validate_series(
    times: ArrayLike,
    values: ArrayLike,
    *,
    name: str = "series",
    min_points: int = 1,
    allow_nan_values: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Check a (time, value) series and return float64 copies.

    Parameters
    ----------
    times : array_like, shape (n,)
        Timestamps in seconds (any origin); must be finite and strictly increasing.
    values : array_like, shape (n,)
        Readings in the channel's unit. NaN marks a missing reading.
    name : str
        Channel or series name used in error messages.
    min_points : int
        Minimum number of finite readings required.
    allow_nan_values : bool
        When False, a NaN or infinite value is an error.

    Returns
    -------
    times, values : ndarray of float64, shape (n,)

    Raises
    ------
    InputDataError
        Length mismatch, non-finite, duplicated or out-of-order timestamps, NaN values when not
        allowed.
    NotEnoughDataError
        Fewer than ``min_points`` finite readings.
    """
    t = as_float_vector(times, name=f"{name}.time")
    v = as_float_vector(values, name=f"{name}.value")
    if t.shape != v.shape:
        raise InputDataError(f"{name}: {t.size} timestamps but {v.size} values")
    if t.size and not np.all(np.isfinite(t)):
        bad = int(np.flatnonzero(~np.isfinite(t))[0])
        raise InputDataError(f"{name}: timestamp at index {bad} is not finite")
    if t.size > 1:
        dt = np.diff(t)
        if np.any(dt <= 0):
            k = int(np.flatnonzero(dt <= 0)[0])
            kind = "duplicated" if dt[k] == 0 else "out-of-order"
            raise InputDataError(
                f"{name}: {kind} timestamp at index {k + 1} ({t[k + 1]!r} after {t[k]!r}); "
                "sort the readings and drop duplicates first"
            )
    finite = np.isfinite(v)
    if not allow_nan_values and not np.all(finite):
        bad = int(np.flatnonzero(~finite)[0])
        raise InputDataError(f"{name}: value at index {bad} is NaN or infinite")
    n_ok = int(finite.sum())
    if n_ok < min_points:
        raise NotEnoughDataError(f"{name}: {n_ok} finite readings, at least {min_points} needed")
    return t.copy(), v.copy()
