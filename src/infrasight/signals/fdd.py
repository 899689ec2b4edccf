"""Frequency domain decomposition (FDD) with half-power damping estimates.

The cross-power spectral density matrix of the channels (Welch) is decomposed by SVD at every
frequency line; peaks of the first singular value are the modes and its singular vector the mode
shape (Brincker, Zhang & Andersen 2001). Damping comes from the half-power bandwidth of the first
singular value around each peak - a coarse estimate limited by the frequency resolution.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError, NotEnoughDataError
from infrasight.signals.modal import ModalResult, Mode, mpc, real_shape

__all__ = ["fdd", "singular_value_spectrum"]

FloatArray = NDArray[np.float64]


def singular_value_spectrum(
    data: ArrayLike, fs: float, *, nperseg: int | None = None
) -> tuple[FloatArray, FloatArray, NDArray[np.complex128]]:
    """Singular values of the CPSD matrix at each frequency.

    Returns
    -------
    freqs : ndarray, shape (nf,)
        Hz.
    sv : ndarray, shape (nf, l)
        Singular values, descending (unit^2 / Hz).
    u1 : ndarray, shape (nf, l)
        First singular vector at each frequency.
    """
    from scipy.signal import csd

    y = np.asarray(data, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or not np.all(np.isfinite(y)):
        raise InputDataError("record must be a finite 2-D array (samples x channels)")
    if not (np.isfinite(fs) and fs > 0):
        raise InputDataError(f"sampling rate must be > 0 Hz, got {fs}")
    n, _l_ch = y.shape
    seg = (
        nperseg if nperseg is not None else int(min(4096, 2 ** np.floor(np.log2(max(n // 8, 16)))))
    )
    if n < 2 * seg or seg < 16:
        raise NotEnoughDataError(f"record has {n} samples, at least {2 * max(seg, 16)} needed")
    y = y - y.mean(axis=0)
    f, G = csd(y[:, :, None], y[:, None, :], fs=fs, nperseg=seg, axis=0)
    # G[k, a, b]
    U, S, _ = np.linalg.svd(G)
    return f, S, U[:, :, 0]


def fdd(
    data: ArrayLike,
    fs: float,
    *,
    nperseg: int | None = None,
    freq_range: tuple[float, float] | None = None,
    max_modes: int = 10,
    prominence_db: float = 6.0,
) -> ModalResult:
    """Identify modes by FDD peak picking.

    Parameters
    ----------
    data : array_like, shape (n_samples, n_channels)
    fs : float
        Sampling rate (Hz).
    nperseg : int, optional
        Welch segment length (default: a power of two near n / 8, at most 4096).
    freq_range : (float, float), optional
        Band searched (Hz); default (5 frequency lines, 0.45 fs).
    max_modes : int
        Strongest peaks kept.
    prominence_db : float
        Minimum peak prominence of the first singular value (dB).
    """
    from scipy.signal import find_peaks

    f, S, U1 = singular_value_spectrum(data, fs, nperseg=nperseg)
    s1 = 10 * np.log10(np.maximum(S[:, 0], 1e-300))
    lo, hi = freq_range if freq_range is not None else (5 * f[1], 0.45 * fs)
    band = (f >= lo) & (f <= hi)
    peaks, props = find_peaks(np.where(band, s1, -np.inf), prominence=prominence_db)
    order = np.argsort(props["prominences"])[::-1][:max_modes]
    modes = []
    lin = S[:, 0]
    for p in sorted(peaks[order]):
        half = lin[p] / 2.0
        a = p
        while a > 0 and lin[a] > half:
            a -= 1
        b = p
        while b < f.size - 1 and lin[b] > half:
            b += 1
        zeta = float("nan")
        if 0 < a < p < b < f.size - 1:
            fa = np.interp(half, [lin[a], lin[a + 1]], [f[a], f[a + 1]])
            fb = np.interp(half, [lin[b], lin[b - 1]], [f[b], f[b - 1]])
            zeta = float((fb - fa) / (2 * f[p]))
        phi = U1[p]
        modes.append(
            Mode(
                frequency_hz=float(f[p]),
                damping_ratio=zeta,
                mode_shape=real_shape(phi),
                mode_shape_complex=phi / phi[np.argmax(np.abs(phi))],
                frequency_std_hz=float(f[1] - f[0]) / 2,
                damping_std=float("nan"),
                n_poles=1,
                mpc=mpc(phi),
            )
        )
    y = np.asarray(data)
    return ModalResult(
        modes=tuple(modes),
        method="fdd",
        fs=float(fs),
        n_samples=int(y.shape[0]),
        n_channels=int(y.shape[1]) if y.ndim == 2 else 1,
        diagram=np.zeros((0, 4)),
    )
