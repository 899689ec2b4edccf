"""The previous online anomaly scorer (v1, block-median robust z), kept as a benchmark baseline.

The score of reading ``i`` uses only readings ``< i`` (plus reading ``i`` itself), so it can run on
each stored batch. It works in the sample-index domain and is scale-free, so it needs no tuning
for the sampling rate, the unit or the length of a series. Two robust z-scores are combined:

* **short-term** – the reading against the median of the previous 5 readings, divided by a robust
  scale of these one-step residuals over the previous ``history`` readings (spikes, steps, noise
  bursts);
* **long-term** – the reading against the median level of the previous ``history`` readings
  (computed on blocks of 16), divided by the spread of that level combined with the
  within-block noise (level shifts, drifts, values never seen before).

* **flat line** – a channel that normally changes at almost every reading and has not moved
  for 16 readings (stuck gauge, frozen logger) gets ``z = 6``.

``z = max(z_short, z_long, z_flat)`` is mapped to ``score = z**4 / (z**4 + 5**4)`` (0.5 at a 5-sigma
deviation, 0.12 at 3 sigma). A missing (NaN) reading scores 1. The first 16 readings (no history
yet) score 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError
from infrasight.signals.series import as_float_vector, validate_series

__all__ = [
    "BLOCK",
    "FLAT",
    "HISTORY_BLOCKS",
    "AnomalyState",
    "anomaly_scores",
    "score_online",
    "score_series",
    "z_to_score",
]

FloatArray = NDArray[np.float64]
BLOCK = 16
HISTORY_BLOCKS = 64
_W = 5
_HALF = 5.0
FLAT = 16
FLAT_Z = 6.0


@dataclass(slots=True, kw_only=True)
class AnomalyState:
    """Memory of the online scorer between batches.

    Attributes
    ----------
    n_seen : int
        Readings scored so far.
    tail : list of float
        The last readings needed by the next batch (at most ``HISTORY_BLOCKS * BLOCK + 21``).
    last_finite : float or None
        Last finite reading (fills NaN gaps).
    """

    n_seen: int = 0
    tail: list[float] = field(default_factory=list)
    last_finite: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"n_seen": self.n_seen, "tail": list(self.tail), "last_finite": self.last_finite}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnomalyState:
        """Inverse of :meth:`to_dict`."""
        try:
            st = cls(
                n_seen=int(d["n_seen"]),
                tail=[float(x) for x in d["tail"]],
                last_finite=None if d["last_finite"] is None else float(d["last_finite"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputDataError(f"anomaly state is malformed: {err!r}") from err
        if st.n_seen < len(st.tail):
            raise InputDataError("anomaly state is malformed: tail longer than n_seen")
        return st


def z_to_score(z: FloatArray) -> FloatArray:
    """Map a non-negative robust z-score to [0, 1): ``z**4 / (z**4 + 5**4)``."""
    z4 = np.square(np.square(np.minimum(z, 1e6)))
    out: FloatArray = z4 / (z4 + _HALF**4)
    return out


def _ffill(x: FloatArray, first: float | None) -> FloatArray:
    ok = np.isfinite(x)
    if ok.all():
        return x
    idx = np.where(ok, np.arange(x.size), -1)
    np.maximum.accumulate(idx, out=idx)
    fill = first if first is not None else (float(x[ok][0]) if ok.any() else 0.0)
    return np.where(idx >= 0, x[np.maximum(idx, 0)], fill)


def _window_median_spread(
    s: FloatArray, k: int, *, with_mad: bool = True
) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Median and median-absolute-deviation of ``s[j-k:j]`` (fewer at the start) for each j."""
    nb = s.size
    padded = np.concatenate([np.full(k, np.nan), s])
    win = sliding_window_view(padded, k)[:nb]  # win[j] = s[j-k:j]
    cnt = np.minimum(np.arange(nb), k)
    med = np.empty(nb)
    mad = np.zeros(nb)
    head = min(k, nb)  # incomplete windows: sort (NaN last) and pick the middle of the count
    srt = np.sort(win[:head], axis=1)
    rows = np.arange(head)
    lo = np.maximum((cnt[:head] - 1) // 2, 0)
    hi = np.minimum(cnt[:head] // 2, k - 1)
    med[:head] = 0.5 * (srt[rows, lo] + srt[rows, hi])
    if with_mad:
        dev = np.sort(np.abs(win[:head] - med[:head, None]), axis=1)
        mad[:head] = 0.5 * (dev[rows, lo] + dev[rows, hi])
    if nb > k:  # complete windows: two order statistics by partition
        full = win[k:]
        a, b = (k - 1) // 2, k // 2
        part = np.partition(full, (a, b), axis=1)
        med[k:] = 0.5 * (part[:, a] + part[:, b])
        if with_mad:
            dp = np.partition(np.abs(full - med[k:, None]), (a, b), axis=1)
            mad[k:] = 0.5 * (dp[:, a] + dp[:, b])
    return med, mad, cnt


def _score_block_aligned(x: FloatArray, g0: int, n_out: int, pad: bool) -> FloatArray:
    """Scores of the last ``n_out`` entries of ``x`` (global index of ``x[0]`` is ``g0``).

    ``g0`` must be a multiple of ``BLOCK`` minus ``_W`` (or 0 with ``pad``).
    """
    xp = np.concatenate([np.full(_W, x[0]), x]) if pad else x
    m = xp.size - _W  # residuals for global indices base .. base+m-1
    win = sliding_window_view(xp, _W)[:m]
    pred = np.median(win, axis=1)
    cur = xp[_W:]
    r = np.abs(cur - pred)
    nb_full = m // BLOCK
    rb = r[: nb_full * BLOCK].reshape(nb_full, BLOCK)
    xb = cur[: nb_full * BLOCK].reshape(nb_full, BLOCK)
    s_med = np.median(rb, axis=1)
    s_max = rb.max(axis=1)
    s_mean = rb.mean(axis=1)
    lvl = np.median(xb, axis=1)
    within = np.median(np.abs(xb - lvl[:, None]), axis=1)
    k = HISTORY_BLOCKS
    # stats for block j use blocks < j; also one extra block index for a trailing partial block
    ext = np.concatenate([s_med, [np.nan]])
    ext_mean = np.concatenate([s_mean, [np.nan]])
    ext_lvl = np.concatenate([lvl, [np.nan]])
    sc_med, _, cnt = _window_median_spread(ext, k, with_mad=False)
    sc_max, _, _ = _window_median_spread(np.concatenate([s_max, [np.nan]]), k, with_mad=False)
    c_lvl, d_lvl, _ = _window_median_spread(ext_lvl, k)
    w_med, _, _ = _window_median_spread(np.concatenate([within, [np.nan]]), k, with_mad=False)
    csum = np.concatenate([[0.0], np.cumsum(ext_mean[:-1])])
    j = np.arange(ext.size)
    mean_r = (csum[j] - csum[np.maximum(j - k, 0)]) / np.maximum(cnt, 1)
    floor = np.maximum(0.1 * mean_r, 1e-9 * (1.0 + np.abs(c_lvl)))
    # the larger of two Gaussian-consistent scales: the median residual (sigma for Gaussian
    # noise) and the median block maximum / 2.02 (the 0.957 quantile of |Z|), which keeps
    # sparse steps, quantised and heavy-tailed series from looking anomalous all the time
    scale = np.maximum(np.maximum(1.4826 * sc_med, sc_max / 2.02), floor)
    noise = np.maximum(1.4826 * w_med, 0.85 * scale)
    spread = np.sqrt(np.square(1.4826 * d_lvl) + np.square(noise))
    blk = np.arange(m) // BLOCK
    with np.errstate(invalid="ignore", divide="ignore"):
        z1 = r / scale[blk]
        z2 = np.abs(cur - c_lvl[blk]) / spread[blk]
    z = np.maximum(z1, z2)
    # stuck / flat-lined: the last FLAT readings did not move at all although this channel
    # normally moves at almost every reading (median residual > 0)
    still = np.concatenate([[0], np.cumsum(r <= 1e-3 * scale[blk])])
    idx = np.arange(m)
    run = still[idx + 1] - still[np.maximum(idx + 1 - FLAT, 0)]  # still readings among last 16
    stuck = (sc_med[blk] > 0) & (run >= FLAT)
    z = np.where(stuck, np.maximum(z, FLAT_Z), z)
    z[cnt[blk] == 0] = 0.0
    z = np.nan_to_num(z, nan=0.0, posinf=1e6)
    score = z_to_score(z)
    return score[m - n_out :]


def score_online(
    values: ArrayLike, state: AnomalyState | None = None
) -> tuple[FloatArray, AnomalyState]:
    """Score a new batch of readings of one channel, continuing from ``state``.

    Parameters
    ----------
    values : array_like, shape (n,)
        New readings in time order (any unit; NaN = missing reading).
    state : AnomalyState, optional
        State returned by the previous call; ``None`` for the first batch.

    Returns
    -------
    scores : ndarray, shape (n,)
        Anomaly score in [0, 1] of each reading (uses only earlier readings and itself).
    state : AnomalyState
        To store and pass with the next batch. Splitting a series into batches gives the same
        scores as one call.
    """
    x_new = as_float_vector(values, name="values")
    st = state if state is not None else AnomalyState()
    n_new = x_new.size
    if n_new == 0:
        return np.zeros(0), AnomalyState(
            n_seen=st.n_seen, tail=list(st.tail), last_finite=st.last_finite
        )
    missing = ~np.isfinite(x_new)
    tail = np.asarray(st.tail, dtype=np.float64)
    x_all = np.concatenate([tail, _ffill(x_new, st.last_finite)])
    if missing.all() and st.last_finite is None:
        scores = np.ones(n_new)
    else:
        if st.last_finite is None:
            x_all = _ffill(x_all, None)
        g0 = st.n_seen - tail.size
        with np.errstate(over="ignore", invalid="ignore"):  # values near the float limit
            scores = _score_block_aligned(x_all, g0, n_new, pad=g0 == 0)
    scores[missing] = 1.0
    n_seen = st.n_seen + n_new
    # keep from the start of block (current - HISTORY_BLOCKS), minus _W predictor readings
    keep_from = (n_seen // BLOCK - HISTORY_BLOCKS) * BLOCK - _W
    if keep_from <= 0:
        new_tail = x_all
    else:
        g0 = st.n_seen - tail.size
        new_tail = x_all[keep_from - g0 :]
    fin = np.flatnonzero(np.isfinite(x_new))
    last_finite = float(x_new[fin[-1]]) if fin.size else st.last_finite
    if last_finite is None:
        new_tail = np.zeros(0)
        n_seen_out = 0  # nothing usable yet: start over at the first finite reading
    else:
        n_seen_out = n_seen
    return scores, AnomalyState(n_seen=n_seen_out, tail=new_tail.tolist(), last_finite=last_finite)


def anomaly_scores(values: ArrayLike) -> FloatArray:
    """Online anomaly score of a whole series in one call (see :func:`score_online`)."""
    return score_online(values)[0]


def score_series(times: ArrayLike, values: ArrayLike, *, name: str = "series") -> FloatArray:
    """Validate a (time, value) series (strictly increasing times) and score it online.

    Raises
    ------
    InputDataError
        Duplicated or out-of-order timestamps, length mismatch.
    NotEnoughDataError
        No finite reading at all.
    """
    _, v = validate_series(times, values, name=name, min_points=1)
    return anomaly_scores(v)
