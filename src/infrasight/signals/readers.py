"""Readers for acceleration records (CSV, NPY, MATLAB ``.mat``) and tidying of logged series.

Real loggers repeat timestamps, write rows out of order and skip readings. :func:`tidy_series`
takes a series as it comes: rows are sorted by time (stable), readings sharing a timestamp are
merged by a stated rule (``mean`` of the finite values, or the ``first`` row in file order), and
gaps longer than twice the median interval are reported. Nothing is refused for that.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError

__all__ = ["DuplicateRule", "Record", "TidySeries", "load_record", "tidy_series"]

logger = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
DuplicateRule = Literal["mean", "first"]
GAP_FACTOR = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TidySeries:
    """A series sorted by time with one reading per timestamp.

    Attributes
    ----------
    times : ndarray, shape (m,)
        Distinct times, increasing (unit of the input, e.g. s).
    values : ndarray, shape (m,)
        Merged readings (NaN where every merged reading was NaN).
    row_index : ndarray of int, shape (n,)
        For each input row, the index of its merged reading (maps results back to the rows).
    rule : str
        ``"mean"`` or ``"first"``.
    duplicates : int
        Input rows merged into an earlier row of the same time (``n - m``).
    unsorted : int
        Input rows whose time is earlier than a time above them (sorted into place).
    gaps : int
        Intervals longer than ``GAP_FACTOR`` times the median interval.
    largest_gap : float
        Longest interval between merged readings (0 when fewer than 2).
    median_interval : float
        Median interval between merged readings (0 when fewer than 2).
    """

    times: FloatArray
    values: FloatArray
    row_index: NDArray[np.intp]
    rule: str
    duplicates: int
    unsorted: int
    gaps: int
    largest_gap: float
    median_interval: float

    def summary(self) -> str:
        """One line for a log or a console."""
        return (
            f"{self.duplicates} repeated-timestamp rows merged ({self.rule}), "
            f"{self.unsorted} out-of-order rows sorted, {self.gaps} gaps "
            f"> {GAP_FACTOR:g}x the median interval (largest {self.largest_gap:g})"
        )


def tidy_series(times: ArrayLike, values: ArrayLike, *, rule: DuplicateRule = "mean") -> TidySeries:
    """Sort a logged series by time and merge readings that share a timestamp.

    Parameters
    ----------
    times : array_like, shape (n,)
        Reading times (any unit, e.g. s); must be finite.
    values : array_like, shape (n,)
        Readings (NaN = missing).
    rule : {"mean", "first"}
        ``mean``: mean of the finite readings of a timestamp; ``first``: the first row of that
        timestamp in file order.

    Raises
    ------
    InputDataError
        Length mismatch, a non-finite time, an unknown rule or no rows.
    """
    t = np.asarray(times, dtype=np.float64).ravel()
    v = np.asarray(values, dtype=np.float64).ravel()
    if t.size != v.size:
        raise InputDataError(f"times and values differ in length ({t.size} vs {v.size})")
    if t.size == 0:
        raise InputDataError("series has no rows")
    if not np.all(np.isfinite(t)):
        bad = int(np.flatnonzero(~np.isfinite(t))[0])
        raise InputDataError(f"time at row {bad + 1} is not a finite number")
    if rule not in ("mean", "first"):
        raise InputDataError(f"duplicates rule must be 'mean' or 'first', got {rule!r}")
    order = np.argsort(t, kind="stable")
    ts, vs = t[order], v[order]
    new = np.concatenate([[True], np.diff(ts) > 0])
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    if rule == "first":
        merged = vs[starts]
    else:
        ok = np.isfinite(vs)
        sums = np.add.reduceat(np.where(ok, vs, 0.0), starts)
        counts = np.add.reduceat(ok.astype(np.float64), starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            merged = np.where(counts > 0, sums / counts, np.nan)
    row_index = np.empty(t.size, dtype=np.intp)
    row_index[order] = group
    uniq = ts[starts]
    dt = np.diff(uniq)
    med = float(np.median(dt)) if dt.size else 0.0
    return TidySeries(
        times=uniq,
        values=np.asarray(merged, dtype=np.float64),
        row_index=row_index,
        rule=rule,
        duplicates=int(t.size - uniq.size),
        unsorted=int(np.sum(t[1:] < np.maximum.accumulate(t)[:-1])),
        gaps=int(np.sum(dt > GAP_FACTOR * med)) if med > 0 else 0,
        largest_gap=float(dt.max()) if dt.size else 0.0,
        median_interval=med,
    )


_TIME_NAMES = {"time", "t", "time (-)", "time_s", "time [s]", "timestamp", "seconds"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """A block of multichannel waveform data.

    Attributes
    ----------
    data : ndarray, shape (n_samples, n_channels)
        Samples (unit of the file, e.g. g or m/s2).
    fs : float
        Sampling rate in Hz.
    channels : tuple of str
        Channel names.
    source : str
        File name and variable.
    """

    data: FloatArray
    fs: float
    channels: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise InputDataError(f"{self.source}: record must be 2-D, got {self.data.shape}")
        if len(self.channels) != self.data.shape[1]:
            raise InputDataError(
                f"{self.source}: {len(self.channels)} names for {self.data.shape[1]} channels"
            )
        if not (np.isfinite(self.fs) and self.fs > 0):
            raise InputDataError(f"{self.source}: sampling rate must be > 0 Hz, got {self.fs}")


def _as_2d(arr: NDArray[np.generic], source: str) -> FloatArray:
    try:
        a = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputDataError(f"{source}: not a numeric array ({err})") from err
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputDataError(f"{source}: expected a 2-D array (samples x channels), got {a.shape}")
    if a.shape[0] < a.shape[1]:
        a = a.T  # channels stored as rows
    return a


def _fs_from_time(t: FloatArray, source: str) -> float:
    dt = np.diff(t)
    if dt.size == 0 or np.any(~np.isfinite(dt)) or np.any(dt <= 0):
        raise InputDataError(f"{source}: time column is not strictly increasing")
    med = float(np.median(dt))
    if np.max(np.abs(dt - med)) > 0.01 * med:
        raise InputDataError(f"{source}: time column is not uniformly sampled (gaps or jitter)")
    return 1.0 / med


def _tidy_rows(arr: FloatArray, source: str) -> FloatArray:
    """Sort rows by the time column and average rows that repeat a time."""
    if arr.shape[0] < 2 or not np.all(np.isfinite(arr[:, 0])):
        return arr
    cols = [tidy_series(arr[:, 0], arr[:, j]) for j in range(1, arr.shape[1])]
    if not cols or (cols[0].duplicates == 0 and cols[0].unsorted == 0):
        return arr
    logger.info("%s: %s", source, cols[0].summary())
    return np.column_stack([cols[0].times, *[c.values for c in cols]])


def _read_csv(path: Path, fs: float | None) -> Record:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t ")
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.reader(fh, dialect))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise InputDataError(f"{path}: empty CSV file")
    header: list[str] | None = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header = [c.strip() for c in rows[0]]
        rows = rows[1:]
    try:
        arr = np.array([[float(c) for c in r] for r in rows], dtype=np.float64)
    except ValueError as err:
        raise InputDataError(f"{path}: non-numeric cell ({err})") from err
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InputDataError(f"{path}: rows have different lengths or no data rows")
    names = header or [f"ch{i}" for i in range(arr.shape[1])]
    if header and header[0].lower() in _TIME_NAMES:
        arr = _tidy_rows(arr, str(path))
        fs_t = _fs_from_time(arr[:, 0], str(path))
        fs = fs if fs is not None else fs_t
        arr, names = arr[:, 1:], names[1:]
    if fs is None:
        raise InputDataError(f"{path}: no time column; give the sampling rate (--fs)")
    return Record(data=arr, fs=float(fs), channels=tuple(names), source=str(path))


def load_record(path: str | Path, *, fs: float | None = None, var: str | None = None) -> Record:
    """Load a waveform record.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (optional header; a first column named ``time`` gives the rate), ``.npy``
        (2-D array) or ``.mat`` (MATLAB v5; e.g. Z24's ``data_last5``).
    fs : float, optional
        Sampling rate in Hz; required unless the file carries it (time column, ``fs`` variable).
    var : str, optional
        Variable of a ``.mat`` file; default: the only 2-D numeric variable, or ``data_last5``.

    Raises
    ------
    InputDataError
        Unknown extension, unreadable file, missing sampling rate, bad shape.
    """
    p = Path(path)
    if not p.is_file():
        raise InputDataError(f"{p}: no such file")
    ext = p.suffix.lower()
    if fs is not None and not (np.isfinite(fs) and fs > 0):
        raise InputDataError(f"sampling rate must be > 0 Hz, got {fs}")
    if ext == ".csv":
        rec = _read_csv(p, fs)
    elif ext == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise InputDataError(f"{p}: cannot read NPY ({err})") from err
        if fs is None:
            raise InputDataError(f"{p}: NPY files carry no sampling rate; give --fs")
        data = _as_2d(arr, str(p))
        rec = Record(
            data=data, fs=fs, channels=tuple(f"ch{i}" for i in range(data.shape[1])), source=str(p)
        )
    elif ext == ".mat":
        from scipy.io import loadmat

        try:
            mat = loadmat(p)
        except (ValueError, OSError, NotImplementedError) as err:
            raise InputDataError(f"{p}: cannot read MATLAB file ({err})") from err
        names = [k for k in mat if not k.startswith("__")]
        if var is None:
            arrays = [
                k
                for k in names
                if getattr(mat[k], "ndim", 0) == 2
                and min(mat[k].shape) >= 1
                and mat[k].size > 1
                and np.issubdtype(mat[k].dtype, np.number)
            ]
            if "data_last5" in arrays:
                var = "data_last5"
            elif len(arrays) == 1:
                var = arrays[0]
            else:
                raise InputDataError(f"{p}: choose the variable (--var) among {sorted(arrays)}")
        if var not in mat:
            raise InputDataError(f"{p}: no variable {var!r} (has {sorted(names)})")
        if fs is None:
            for key in ("fs", "Fs", "FS", "sampling_rate"):
                if key in mat and np.size(mat[key]) == 1:
                    fs = float(np.asarray(mat[key]).ravel()[0])
                    break
        if fs is None:
            raise InputDataError(f"{p}: the file carries no sampling rate; give --fs")
        data = _as_2d(mat[var], f"{p}:{var}")
        rec = Record(
            data=data,
            fs=fs,
            channels=tuple(f"ch{i}" for i in range(data.shape[1])),
            source=f"{p}:{var}",
        )
    else:
        raise InputDataError(f"{p}: unsupported extension {ext!r} (use .csv, .npy or .mat)")
    if not np.all(np.isfinite(rec.data)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(rec.data), axis=1))[0])
        raise InputDataError(f"{rec.source}: NaN or infinite sample at row {bad}")
    return rec
