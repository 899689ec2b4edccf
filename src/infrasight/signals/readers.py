"""Readers for acceleration records: CSV, NPY and MATLAB ``.mat`` files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from infrasight.signals.errors import InputDataError

__all__ = ["Record", "load_record"]

FloatArray = NDArray[np.float64]
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
