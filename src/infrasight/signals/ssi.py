"""Covariance-driven stochastic subspace identification (SSI-COV) with automatic pole selection.

Steps (Peeters & De Roeck 1999): output covariances ``R_k`` (FFT-based, unbiased), block Hankel
matrix of ``R_1 .. R_{2i-1}``, one SVD, then for every model order ``n`` the observability matrix
``O_n = U_n S_n^{1/2}`` gives ``A`` (shift invariance) and ``C``; poles ``ln(mu) fs``. A pole is
*stable* when a pole of the previous order lies within ``tol_freq`` in frequency, ``tol_damp`` in
damping and has a MAC above ``min_mac``. Stable poles are clustered (single linkage on relative
frequency distance + 1 - MAC); clusters supported by at least ``min_share`` of the orders are the
modes (median frequency and damping, shape of the pole closest to the median).
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError, NotEnoughDataError
from infrasight.signals.modal import ModalResult, Mode, mac_matrix, mpc, real_shape

__all__ = ["output_covariances", "ssi_cov"]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


def output_covariances(y: FloatArray, max_lag: int) -> FloatArray:
    """Unbiased output covariances ``R_k = E[y_{t+k} y_t^T]`` for ``k = 0 .. max_lag``.

    Parameters
    ----------
    y : ndarray, shape (n, l)
        Zero-mean record.
    max_lag : int

    Returns
    -------
    ndarray, shape (max_lag + 1, l, l)
    """
    n, _ = y.shape
    nfft = 1 << int(np.ceil(np.log2(n + max_lag + 1)))
    Y = np.fft.rfft(y, n=nfft, axis=0)  # (nf, l)
    # R[k, a, b] = sum_t y[t+k, a] y[t, b]
    cross = Y[:, :, None] * np.conj(Y[:, None, :])
    r = np.fft.irfft(cross, n=nfft, axis=0)[: max_lag + 1]
    norm = (n - np.arange(max_lag + 1)).astype(np.float64)
    out: FloatArray = r / norm[:, None, None]
    return out


def ssi_cov(
    data: ArrayLike,
    fs: float,
    *,
    block_rows: int | None = None,
    max_order: int = 120,
    min_order: int = 2,
    order_step: int = 2,
    freq_range: tuple[float, float] | None = None,
    tol_freq: float = 0.01,
    tol_damp: float = 0.05,
    min_mac: float = 0.98,
    max_damping: float = 0.1,
    cluster_distance: float = 0.02,
    min_share: float = 0.2,
    n_blocks: int = 4,
    min_block_share: float = 0.6,
) -> ModalResult:
    """Identify modes of an ambient vibration record with SSI-COV.

    Parameters
    ----------
    data : array_like, shape (n_samples, n_channels)
        Acceleration (or velocity / strain) record, any unit.
    fs : float
        Sampling rate in Hz.
    block_rows : int, optional
        Block rows ``i`` of the Hankel matrix; default
        ``max(ceil(max_order / l) + 1, fs / (2 f_lo))`` capped to 60, where ``f_lo`` is the low
        end of ``freq_range`` (or fs / 100).
    max_order, min_order, order_step : int
        Model orders of the stabilisation diagram.
    freq_range : (float, float), optional
        Frequency band kept (Hz); default ``(fs / 1000, 0.45 fs)``.
    tol_freq, tol_damp, min_mac : float
        Stability criteria: relative frequency change, relative damping change, MAC.
    max_damping : float
        Poles with damping outside ``(0, max_damping)`` are discarded (spurious / noise).
    cluster_distance : float
        Linkage threshold on ``|df| / f + (1 - MAC)``.
    min_share : float
        Minimum share of the orders a cluster must be present in to count as a mode.
    n_blocks : int
        The record is also split into this many blocks (fewer when a block would be shorter
        than ``20 i`` samples; none below 3) and each block is identified at a subset of the
        orders. A mode found in fewer than ``min_block_share`` of the blocks is discarded as
        spurious; for the others the spread of the block estimates gives the standard
        uncertainty of frequency and damping (``std / sqrt(blocks)``) and a 95 % Student-t
        interval.
    min_block_share : float
        Share of the blocks a mode must be found in.

    Returns
    -------
    ModalResult

    Raises
    ------
    InputDataError
        Bad shape, NaN samples, bad sampling rate or order settings.
    NotEnoughDataError
        Record shorter than needed for the block rows (``n < 20 * i``) or constant channels.
    """
    y = np.asarray(data, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise InputDataError(f"record must be 2-D (samples x channels), got {y.shape}")
    if not (np.isfinite(fs) and fs > 0):
        raise InputDataError(f"sampling rate must be > 0 Hz, got {fs}")
    if not np.all(np.isfinite(y)):
        raise InputDataError("record contains NaN or infinite samples")
    if min_order < 1 or max_order < min_order or order_step < 1:
        raise InputDataError("need 1 <= min_order <= max_order and order_step >= 1")
    if n_blocks < 0 or not 0 <= min_block_share <= 1:
        raise InputDataError("need n_blocks >= 0 and min_block_share in [0, 1]")
    n, l_ch = y.shape
    f_lo, f_hi = freq_range if freq_range is not None else (fs / 1000.0, 0.45 * fs)
    if not 0 <= f_lo < f_hi <= fs / 2:
        raise InputDataError(f"freq_range must lie in [0, fs/2], got {(f_lo, f_hi)}")
    if block_rows is None:
        i = max(int(np.ceil(max_order / l_ch)) + 1, int(np.ceil(fs / (2 * max(f_lo, fs / 100)))))
        i = min(i, 60)
        i = max(i, int(np.ceil(max_order / l_ch)) + 1)
    else:
        i = int(block_rows)
    if i * l_ch < max_order:
        raise InputDataError(
            f"block_rows * channels = {i * l_ch} must be >= max_order = {max_order}"
        )
    if n < 20 * i:
        raise NotEnoughDataError(
            f"record has {n} samples; at least {20 * i} needed for {i} block rows "
            "(shorter than the model order allows)"
        )
    y = y - y.mean(axis=0)
    std = y.std(axis=0)
    if np.any(std == 0):
        raise NotEnoughDataError(f"channel(s) {np.flatnonzero(std == 0).tolist()} are constant")
    y = y / std  # balance channels; shapes are scaled back below
    orders = list(range(min_order, max_order + 1, order_step))
    band = (f_lo, f_hi, max_damping)
    rows = []
    stab_f: list[float] = []
    stab_z: list[float] = []
    stab_phi: list[NDArray[np.complex128]] = []
    stab_order: list[int] = []
    prev: tuple[FloatArray, FloatArray, NDArray[np.complex128]] | None = None
    for order, f, z, phi in _poles(y, std, i, fs, orders, band):
        stable = np.zeros(f.size, dtype=bool)
        if prev is not None and f.size and prev[0].size:
            pf, pz, pphi = prev
            df = np.abs(f[:, None] - pf[None, :]) / f[:, None]
            dz = np.abs(z[:, None] - pz[None, :]) / np.maximum(z[:, None], 1e-12)
            mm = mac_matrix(phi, pphi)
            ok = (df <= tol_freq) & (dz <= tol_damp) & (mm >= min_mac)
            stable = np.asarray(ok.any(axis=1), dtype=bool)
        for k in range(f.size):
            rows.append((order, f[k], z[k], 1.0 if stable[k] else 0.0))
            if stable[k]:
                stab_f.append(float(f[k]))
                stab_z.append(float(z[k]))
                stab_phi.append(phi[:, k])
                stab_order.append(order)
        prev = (f, z, phi)
    diagram = np.array(rows, dtype=np.float64).reshape(-1, 4)
    modes = _cluster(
        np.array(stab_f),
        np.array(stab_z),
        stab_phi,
        np.array(stab_order, dtype=np.intp),
        n_orders=len(orders),
        distance=cluster_distance,
        min_share=min_share,
    )
    n_b = min(n_blocks, n // (20 * i))
    if n_b >= 3 and modes:
        modes = _block_uncertainty(
            y, std, i, fs, orders, band, modes, n_b, cluster_distance, min_block_share
        )
    return ModalResult(
        modes=modes, method="ssi-cov", fs=float(fs), n_samples=n, n_channels=l_ch, diagram=diagram
    )


def _poles(
    y: FloatArray,
    std: FloatArray,
    i: int,
    fs: float,
    orders: list[int],
    band: tuple[float, float, float],
) -> list[tuple[int, FloatArray, FloatArray, NDArray[np.complex128]]]:
    """Physical poles ``(order, f, z, shapes)`` of a balanced record at each model order."""
    l_ch = y.shape[1]
    R = output_covariances(y, 2 * i)
    # block Hankel: H[p, q] = R_{p+q+1}
    H = np.empty((i * l_ch, i * l_ch))
    for p in range(i):
        for q in range(i):
            H[p * l_ch : (p + 1) * l_ch, q * l_ch : (q + 1) * l_ch] = R[p + q + 1]
    U, S, _ = np.linalg.svd(H)
    f_lo, f_hi, max_damping = band
    out = []
    for order in orders:
        Ob = U[:, :order] * np.sqrt(S[:order])
        A = np.linalg.lstsq(Ob[:-l_ch], Ob[l_ch:], rcond=None)[0]
        C = Ob[:l_ch]
        mu, psi = np.linalg.eig(A)
        keep = np.imag(mu) > 0
        mu, psi = mu[keep], psi[:, keep]
        lam = np.log(mu) * fs
        phi = (C @ psi) * std[:, None]
        f = np.abs(lam) / (2 * np.pi)
        z = -np.real(lam) / np.abs(lam)
        valid = (f >= f_lo) & (f <= f_hi) & (z > 0) & (z < max_damping)
        out.append((order, f[valid], z[valid], phi[:, valid]))
    return out


def _block_uncertainty(
    y: FloatArray,
    std: FloatArray,
    i: int,
    fs: float,
    orders: list[int],
    band: tuple[float, float, float],
    modes: tuple[Mode, ...],
    n_blocks: int,
    distance: float,
    min_block_share: float,
) -> tuple[Mode, ...]:
    """Identify each block at a subset of orders, match the modes, keep the recurring ones."""
    from dataclasses import replace

    from scipy.stats import t as student

    sub = orders[len(orders) // 3 :: 2] or orders
    fm = np.array([m.frequency_hz for m in modes])
    P = np.column_stack([m.mode_shape_complex for m in modes])
    m_len = y.shape[0] // n_blocks
    fb = np.full((n_blocks, fm.size), np.nan)
    zb = np.full((n_blocks, fm.size), np.nan)
    for b in range(n_blocks):
        seg = y[b * m_len : (b + 1) * m_len]
        seg = seg - seg.mean(axis=0)
        hits: list[list[tuple[float, float]]] = [[] for _ in modes]
        for _, f, z, phi in _poles(seg, std, i, fs, sub, band):
            if not f.size:
                continue
            # distance of every pole to every mode; a pole serves only its nearest mode
            D = np.abs(f[:, None] - fm[None, :]) / fm[None, :] + (1.0 - mac_matrix(phi, P))
            near = np.argmin(D, axis=1)
            for k in range(fm.size):
                cand = np.flatnonzero((near == k) & (D[:, k] <= 2 * distance))
                if cand.size:
                    j = cand[np.argmin(D[cand, k])]
                    hits[k].append((float(f[j]), float(z[j])))
        for k, h in enumerate(hits):
            if len(h) >= max(2, len(sub) // 4):
                arr = np.array(h)
                fb[b, k] = float(np.median(arr[:, 0]))
                zb[b, k] = float(np.median(arr[:, 1]))
    kept = []
    for k, mode in enumerate(modes):
        ok = np.isfinite(fb[:, k])
        found = int(ok.sum())
        if found < max(2, int(np.ceil(min_block_share * n_blocks))):
            logger.debug(
                "mode %.4g Hz found in %d of %d blocks: discarded",
                mode.frequency_hz,
                found,
                n_blocks,
            )
            continue
        q = float(student.ppf(0.975, found - 1))
        se_f = float(np.std(fb[ok, k], ddof=1)) / np.sqrt(found)
        se_z = float(np.std(zb[ok, k], ddof=1)) / np.sqrt(found)
        kept.append(
            replace(
                mode,
                frequency_std_hz=se_f,
                damping_std=se_z,
                frequency_ci_hz=(mode.frequency_hz - q * se_f, mode.frequency_hz + q * se_f),
                damping_ci=(mode.damping_ratio - q * se_z, mode.damping_ratio + q * se_z),
                n_blocks=found,
            )
        )
    return tuple(kept)


def _cluster(
    f: FloatArray,
    z: FloatArray,
    phis: list[NDArray[np.complex128]],
    orders: NDArray[np.intp],
    *,
    n_orders: int,
    distance: float,
    min_share: float,
) -> tuple[Mode, ...]:
    if f.size == 0:
        return ()
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    P = np.column_stack(phis) if phis else np.zeros((0, 0), dtype=np.complex128)
    if f.size == 1:
        labels = np.array([1])
    else:
        D = np.abs(f[:, None] - f[None, :]) / np.maximum(f[:, None], f[None, :])
        D = D + (1.0 - mac_matrix(P, P))
        D = 0.5 * (D + D.T)
        np.fill_diagonal(D, 0.0)
        Z = linkage(squareform(np.maximum(D, 0.0), checks=False), method="average")
        labels = fcluster(Z, t=distance, criterion="distance")
    modes = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        if np.unique(orders[idx]).size < max(2, int(np.ceil(min_share * n_orders))):
            continue
        fm = float(np.median(f[idx]))
        zm = float(np.median(z[idx]))
        best = idx[int(np.argmin(np.abs(f[idx] - fm) / fm + np.abs(z[idx] - zm) / max(zm, 1e-9)))]
        phi = P[:, best]
        modes.append(
            Mode(
                frequency_hz=fm,
                damping_ratio=zm,
                mode_shape=real_shape(phi),
                mode_shape_complex=phi / phi[np.argmax(np.abs(phi))],
                frequency_std_hz=float(np.std(f[idx])),
                damping_std=float(np.std(z[idx])),
                n_poles=int(idx.size),
                mpc=mpc(phi),
            )
        )
    modes.sort(key=lambda m: m.frequency_hz)
    return tuple(modes)
