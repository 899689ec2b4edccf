"""Numenta Anomaly Benchmark (NAB v1.1) scoring, reimplemented.

A detector gives each row of each series a score; a row is a *detection* when its score reaches a
threshold. NAB's rules (Lavin & Ahmad, ICMLA 2015; ``nab/sweeper.py`` of NAB v1.1):

* the first ``min(floor(0.15 n), 750)`` rows of a series (probationary period) are not scored;
* a detection at row ``i`` inside a labelled window ``[L, R]`` (width ``w = R - L + 1`` rows) is
  worth ``A_TP * S(-(R - i + 1) / w) / S(-1)`` with the scaled sigmoid
  ``S(x) = 2 / (1 + exp(5 x)) - 1`` (``S(x) = -1`` for ``x > 3``); only the best (earliest)
  detection of a window counts, and a window without any detection costs ``-A_FN``;
* a detection outside every window costs ``A_FP * S((i - R_prev) / (w_prev - 1))`` after a
  window (``R_prev``, ``w_prev`` of the preceding window), ``-A_FP`` before the first window;
* the threshold is swept over every distinct score of the whole corpus and the best total wins;
* the total is normalised, ``100 (raw - null) / (perfect - null)``, where the null detector finds
  nothing (``-A_FN`` per window) and the perfect one hits every window at its first row
  (``+A_TP`` per window).

Only windows with at least one scored row (after the probationary period) are counted, as NAB
does. Timestamps that repeat are matched to their first occurrence, as NAB's ``list.index`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError

__all__ = [
    "PROFILES",
    "CorpusScore",
    "NabProfile",
    "ScoredSeries",
    "prepare_series",
    "probationary_length",
    "scaled_sigmoid",
    "score_corpus",
    "total_at_threshold",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class NabProfile:
    """Weights of one NAB application profile (true positive, false positive, false negative)."""

    name: str
    a_tp: float
    a_fp: float
    a_fn: float


PROFILES: tuple[NabProfile, ...] = (
    NabProfile(name="standard", a_tp=1.0, a_fp=0.11, a_fn=1.0),
    NabProfile(name="reward_low_FP_rate", a_tp=1.0, a_fp=0.22, a_fn=1.0),
    NabProfile(name="reward_low_FN_rate", a_tp=1.0, a_fp=0.11, a_fn=2.0),
)


def scaled_sigmoid(x: ArrayLike) -> FloatArray:
    """NAB's scaled sigmoid ``2 / (1 + exp(5 x)) - 1``, and ``-1`` for ``x > 3``."""
    xa = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        val = 2.0 / (1.0 + np.exp(5.0 * xa)) - 1.0
    return np.asarray(np.where(xa > 3.0, -1.0, val), dtype=np.float64)


_S_MINUS_1 = float(scaled_sigmoid(-1.0))


def probationary_length(n: int) -> int:
    """Rows at the start of a series of ``n`` rows that are not scored."""
    return int(min(math.floor(0.15 * n), 0.15 * 5000))


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoredSeries:
    """One series reduced to what the sweep needs (rows after the probationary period).

    Attributes
    ----------
    scores : ndarray, shape (m,)
        Detector score of each scored row.
    window : ndarray of int, shape (m,)
        Index of the row's window (``-1`` outside every window).
    tp_value : ndarray, shape (m,)
        ``S(-(R - i + 1) / w) / S(-1)`` inside a window (multiply by ``A_TP``).
    fp_value : ndarray, shape (m,)
        ``S((i - R_prev) / (w_prev - 1))`` or ``-1`` outside windows (multiply by ``A_FP``).
    n_windows : int
        Windows with at least one scored row.
    """

    scores: FloatArray
    window: NDArray[np.int64]
    tp_value: FloatArray
    fp_value: FloatArray
    n_windows: int


def prepare_series(
    timestamps: Sequence[object] | NDArray[np.generic],
    scores: ArrayLike,
    windows: Sequence[tuple[object, object]],
) -> ScoredSeries:
    """Attach NAB's per-row rewards to one series.

    Parameters
    ----------
    timestamps : sequence
        Row times in file order (any comparable values, e.g. ``numpy.datetime64``).
    scores : array_like, shape (n,)
        Detector score of each row.
    windows : sequence of (start, end)
        Labelled anomaly windows, in time order; both ends must be row timestamps.

    Raises
    ------
    InputDataError
        Length mismatch or a window end that is not a row timestamp.
    """
    ts = list(timestamps)
    sc = np.asarray(scores, dtype=np.float64)
    n = len(ts)
    if sc.shape != (n,):
        raise InputDataError(f"scores: expected {n} values, got shape {sc.shape}")
    first: dict[object, int] = {}
    for i, t in enumerate(ts):
        first.setdefault(t, i)
    bounds: list[tuple[int, int]] = []
    for lo, hi in windows:
        if lo not in first or hi not in first:
            raise InputDataError(f"window ({lo}, {hi}): both ends must be row timestamps")
        bounds.append((first[lo], first[hi]))
    win = np.full(n, -1, dtype=np.int64)
    tp = np.zeros(n)
    fp = np.full(n, -1.0)
    idx = np.arange(n, dtype=np.float64)
    for k, (lo, hi) in enumerate(bounds):
        width = float(hi - lo + 1)
        win[lo : hi + 1] = k
        tp[lo : hi + 1] = scaled_sigmoid(-(hi - idx[lo : hi + 1] + 1) / width) / _S_MINUS_1
        nxt = bounds[k + 1][0] if k + 1 < len(bounds) else n
        if width > 1:
            fp[hi + 1 : nxt] = scaled_sigmoid(np.abs(hi - idx[hi + 1 : nxt]) / (width - 1))
    p = probationary_length(n)
    kept = win[p:]
    used = np.unique(kept[kept >= 0])
    remap = np.full(max(len(bounds), 1), -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return ScoredSeries(
        scores=sc[p:],
        window=np.where(kept >= 0, remap[np.maximum(kept, 0)], -1),
        tp_value=tp[p:],
        fp_value=fp[p:],
        n_windows=int(used.size),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CorpusScore:
    """Result of the threshold sweep for one profile.

    Attributes
    ----------
    profile : str
        Profile name.
    score : float
        Normalised NAB score (0 = null detector, 100 = perfect).
    raw : float
        Best raw total.
    threshold : float
        Score threshold reaching it (detections are rows with ``score >= threshold``;
        ``inf`` when detecting nothing is best).
    tp_windows, fn_windows, fp_rows : int
        Detected windows, missed windows and false-positive rows at that threshold.
    """

    profile: str
    score: float
    raw: float
    threshold: float
    tp_windows: int
    fn_windows: int
    fp_rows: int


def score_corpus(series: Sequence[ScoredSeries], profile: NabProfile) -> CorpusScore:
    """Sweep one threshold over every series together and normalise the best total."""
    offsets = np.cumsum([0, *[s.n_windows for s in series]])
    n_win = int(offsets[-1])
    scores = np.concatenate([s.scores for s in series]) if series else np.zeros(0)
    wins = (
        np.concatenate(
            [np.where(s.window >= 0, s.window + offsets[k], -1) for k, s in enumerate(series)]
        )
        if series
        else np.zeros(0, dtype=np.int64)
    )
    tpv = np.concatenate([s.tp_value for s in series]) if series else np.zeros(0)
    fpv = np.concatenate([s.fp_value for s in series]) if series else np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    scores, wins, tpv, fpv = scores[order], wins[order], tpv[order], fpv[order]
    m = scores.size
    null = -profile.a_fn * n_win
    perfect = profile.a_tp * n_win
    # total after the first j+1 sorted rows are detected
    delta = np.where(wins < 0, profile.a_fp * fpv, 0.0)
    in_win = np.flatnonzero(wins >= 0)
    if in_win.size:
        w = wins[in_win]
        val = profile.a_tp * tpv[in_win]
        # per window, running maximum along the sorted order; the increase is added to the total
        srt = np.lexsort((in_win, w))
        w_s, v_s, pos_s = w[srt], val[srt], in_win[srt]
        starts = np.r_[0, np.flatnonzero(np.diff(w_s)) + 1]
        seg = np.repeat(starts, np.diff(np.r_[starts, w_s.size]))
        run = v_s.copy()
        for a, b in zip(starts, np.r_[starts[1:], w_s.size], strict=True):
            run[a:b] = np.maximum.accumulate(v_s[a:b])
        prev = np.where(np.arange(w_s.size) == seg, -profile.a_fn, np.r_[0.0, run[:-1]])
        delta[pos_s] += run - prev
    total = null + np.cumsum(delta)
    is_tp = np.zeros(m, dtype=np.int64)
    if in_win.size:
        first_hit = np.zeros(m, dtype=bool)
        _, firsts = np.unique(wins[in_win], return_index=True)
        first_hit[in_win[firsts]] = True
        is_tp = np.cumsum(first_hit)
    n_fp = np.cumsum(wins < 0)
    # thresholds: the last row of each run of equal scores
    ends = np.r_[np.flatnonzero(np.diff(scores) != 0), m - 1] if m else np.zeros(0, dtype=int)
    best_raw, best_thr, best_tp, best_fp = null, math.inf, 0, 0
    if ends.size:
        k = int(np.argmax(total[ends]))
        j = int(ends[k])
        if total[j] > best_raw:
            best_raw, best_thr = float(total[j]), float(scores[j])
            best_tp, best_fp = int(is_tp[j]), int(n_fp[j])
    denom = perfect - null
    norm = 100.0 * (best_raw - null) / denom if denom > 0 else 0.0
    return CorpusScore(
        profile=profile.name,
        score=norm,
        raw=best_raw,
        threshold=best_thr,
        tp_windows=best_tp,
        fn_windows=n_win - best_tp,
        fp_rows=best_fp,
    )


def total_at_threshold(
    series: Sequence[ScoredSeries], profile: NabProfile, threshold: float
) -> tuple[float, int]:
    """Raw NAB total of ``series`` at a fixed threshold (one chosen on other series).

    Returns
    -------
    raw : float
        Sum of the window rewards (``-A_FN`` for a missed window) and false-positive costs.
    n_windows : int
        Windows counted (normalise with ``100 (raw + A_FN n) / ((A_TP + A_FN) n)``).
    """
    raw, n_win = 0.0, 0
    for s in series:
        det = s.scores >= threshold
        raw += profile.a_fp * float(np.sum(s.fp_value[det & (s.window < 0)]))
        for k in range(s.n_windows):
            hit = det & (s.window == k)
            raw += profile.a_tp * float(s.tp_value[hit].max()) if hit.any() else -profile.a_fn
        n_win += s.n_windows
    return raw, n_win
