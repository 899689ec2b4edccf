"""Online anomaly score in [0, 1] per reading: seasonal-aware record ratios with suppression.

The score of reading ``i`` uses only readings ``<= i``, so it runs on each stored batch, and
splitting a series into batches (state carried as JSON) gives the same scores as one call.

How a reading is scored
-----------------------
1. **Season.** When the reading times are known (``times``), the sampling interval gives the
   daily period ``P_d`` and the weekly one ``7 P_d`` in readings. After ``3 P`` readings the
   period is adopted if the seasonal difference ``x[i] - x[i - P]`` varies less than half as much
   as the readings themselves (mean absolute deviations), and less than the period in use.
   From then on the scorer works on the residual from the seasonal profile, the mean of the
   readings one, two, ... ``SEASONS`` (5) periods earlier (fewer while fewer exist; the features
   are computed from the first full season on), so a daily cycle is not an anomaly but a
   missing or changed cycle is. Averaging several seasons keeps the profile's own noise small:
   a residual from the last season alone carries the noise of two readings. A weekly period
   replaces a daily one only when it varies 20 % less.
2. **Two surprise features** of the (seasonal residual) series ``u``: the deviation of
   ``u[i]`` from the median of the previous 5 values (spikes, steps, variance bursts), and the
   distance between the mean of the last 20 values and the mean of the 200 before them (level
   shifts, trend changes, slow drifts).
3. **Record ratio.** Each feature is divided by its own largest value over the previous
   ``HISTORY`` (1000) readings, and the spike feature's ratio further by ``SPIKE_MARGIN``
   (1.1: a one-reading surprise breaks its record more often on noise than the smoothed level
   distance does, so it must beat it by 10 % more); the larger ratio ``q`` says how far this
   reading beats the most surprising reading of the recent past (capped at 1.5 times the record
   of the last ``RECENT`` (400) readings, so that one huge glitch does not blind the scorer for
   long; over a shorter history the record is scaled up by ``sqrt(ln HISTORY / ln k)``, the
   growth of a Gaussian maximum). It is scale-free, needs no distribution assumption, and
   adapts: once a level shift is absorbed, later readings beat nothing. The price of that
   sensitivity: on stationary noise about one reading in 1000-1500 beats the record by 5 %
   (score 0.55); a score above 0.9 (1.7 times the record) is rare.
4. **Stuck sensor.** A channel that normally moves (fewer than 10 % repeated values over the
   history) and repeats one value ``FLAT`` (16) times gets ``q = 3`` at that reading.
5. **Suppression.** After a reading with ``q >= SUPPRESS_Q``, the next ``SUPPRESS`` (100)
   readings score 0 unless they beat it ``OVERRIDE`` (3) times, so one event raises one alarm
   (NAB rewards the first detection of a window and charges every later false positive).
6. **Score** ``q**4 / (q**4 + 1)``: 0.5 when the reading equals the recent record, 0.94 at twice
   it. :data:`RECOMMENDED_THRESHOLD` is the NAB-optimal threshold on the development set
   (``benchmarks/anomaly_eval.py``).

A missing (NaN) reading scores 1; readings before a feature has ``WARM_UP`` readings of its own
history score 0.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import maximum_filter1d

from infrasight.signals.errors import InputDataError
from infrasight.signals.series import as_float_vector, validate_series

__all__ = [
    "FLAT",
    "HISTORY",
    "RECOMMENDED_THRESHOLD",
    "SEASONS",
    "SPIKE_MARGIN",
    "STATE_VERSION",
    "AnomalyState",
    "anomaly_scores",
    "q_to_score",
    "score_online",
    "score_online_many",
    "score_series",
]

logger = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]

STATE_VERSION = 3
HISTORY = 1000  # readings over which a feature's record is kept
MEDIAN_K = 5  # one-step predictor: median of the previous 5 readings (fixed: _median5)
LEVEL_SHORT = 20
LEVEL_LONG = 200
SUPPRESS = 100  # readings muted after an alarm
SUPPRESS_Q = 1.05  # record ratio that counts as an alarm for the suppression
OVERRIDE = 3.0  # a muted reading still alarms when it beats the muting one by this factor
FLAT = 16  # identical readings in a row that make a stuck sensor
FLAT_Q = 3.0
FLAT_MAX_SHARE = 0.1  # ... when at most this share of the history repeated its predecessor
RECENT = 400  # readings of the recent record ...
RECENT_M = 1.5  # ... that caps the long one at this multiple
WARM_UP = 50  # readings of a feature's own history before it may score
PERIOD_MAX = 2016  # longest period tried (readings): a week at 5 min
SEASON_RATIO = 0.5
REPLACE_RATIO = 0.8  # a longer period must vary this much less than the one in use
# previous seasons averaged into the seasonal profile; chosen by leave-one-NAB-category-out
# cross-validation over (1, 2, 3, 5, 8) in benchmarks/anomaly_eval.py (the folds pick 8, 8, 3
# and 5; on all 35 series 3 to 8 score alike)
SEASONS = 5
RECOMMENDED_THRESHOLD = 0.55  # NAB standard-profile optimum on the 35 shared series (q ~ 1.05)
# the spike ratio is divided by this; chosen with SEASONS by leave-one-NAB-category-out
# cross-validation over (1.0, 1.1, 1.2) in benchmarks/anomaly_eval.py (3 of 4 folds pick 1.1)
SPIKE_MARGIN = 1.1
_HORIZON = SUPPRESS + HISTORY + LEVEL_SHORT + LEVEL_LONG + MEDIAN_K + FLAT + 2


def q_to_score(q: ArrayLike) -> FloatArray:
    """Map a record ratio ``q >= 0`` to [0, 1): ``q**4 / (q**4 + 1)``."""
    qa = np.minimum(np.asarray(q, dtype=np.float64), 1e6)
    q4 = np.square(np.square(qa))
    out: FloatArray = q4 / (q4 + 1.0)
    return out


@dataclass(slots=True, kw_only=True)
class AnomalyState:
    """Memory of the online scorer between batches (serialise with :meth:`to_dict`).

    Attributes
    ----------
    n_seen : int
        Readings scored so far.
    tail : ndarray
        The last readings the next batch needs (all of them while a period is undecided).
    last_finite : float or None
        Last finite reading (fills NaN gaps).
    interval_s : float or None
        Sampling interval in seconds, from the first reading times seen.
    segments : list of [start, lag]
        Seasonal lag (readings, 0 = none) in force from reading ``start`` on.
    pending : list of [at, lag]
        Periods still to be tried when ``at`` readings have been seen.
    """

    n_seen: int = 0
    tail: FloatArray = field(default_factory=lambda: np.zeros(0))
    last_finite: float | None = None
    interval_s: float | None = None
    segments: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)])
    pending: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (the tail as base64 little-endian float64)."""
        raw = np.ascontiguousarray(self.tail, dtype="<f8").tobytes()
        return {
            "version": STATE_VERSION,
            "n_seen": self.n_seen,
            "tail": base64.b64encode(raw).decode("ascii"),
            "last_finite": self.last_finite,
            "interval_s": self.interval_s,
            "segments": [list(s) for s in self.segments],
            "pending": [list(p) for p in self.pending],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnomalyState:
        """Inverse of :meth:`to_dict`; a state of an older version starts the scorer afresh.

        Raises
        ------
        InputDataError
            A current-version state that is malformed.
        """
        if not isinstance(d, dict) or d.get("version") != STATE_VERSION:
            logger.info("anomaly state of another version (%s): starting afresh", _version(d))
            return cls()
        try:
            tail = np.frombuffer(base64.b64decode(d["tail"], validate=True), dtype="<f8")
            st = cls(
                n_seen=int(d["n_seen"]),
                tail=tail.astype(np.float64),
                last_finite=None if d["last_finite"] is None else float(d["last_finite"]),
                interval_s=None if d["interval_s"] is None else float(d["interval_s"]),
                segments=[(int(a), int(b)) for a, b in d["segments"]],
                pending=[(int(a), int(b)) for a, b in d["pending"]],
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputDataError(f"anomaly state is malformed: {err!r}") from err
        if st.n_seen < st.tail.size or not st.segments or st.segments[0][0] != 0:
            raise InputDataError("anomaly state is malformed: tail or segments inconsistent")
        return st


def _version(d: object) -> object:
    return d.get("version", 1) if isinstance(d, dict) else type(d).__name__


def _ffill(x: FloatArray, first: float | None) -> FloatArray:
    ok = np.isfinite(x)
    if ok.all():
        return x
    idx = np.where(ok, np.arange(x.size), -1)
    np.maximum.accumulate(idx, out=idx)
    fill = first if first is not None else (float(x[ok][0]) if ok.any() else 0.0)
    return np.where(idx >= 0, x[np.maximum(idx, 0)], fill)


def _prev_max(a: FloatArray, w: int) -> FloatArray:
    """``max(a[..., j-w:j])`` for each j along the last axis (0 where nothing precedes)."""
    n = a.shape[-1]
    padded = np.concatenate([np.zeros((*a.shape[:-1], w)), a], axis=-1)
    f = maximum_filter1d(padded, w, axis=-1, mode="nearest")
    out: FloatArray = f[..., w // 2 : w // 2 + n]
    return out


def _prev_max_from(a: FloatArray, w: int, start: int) -> FloatArray:
    """``_prev_max(a, w)[..., start:]`` without the filter's work before ``start - w``."""
    lo = max(start - w, 0)
    return _prev_max(a[..., lo:], w)[..., start - lo :]


def _median5(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, e: FloatArray
) -> FloatArray:
    """Element-wise median of five arrays (a comparison network, no sort)."""
    f = np.maximum(np.minimum(a, b), np.minimum(c, d))
    g = np.minimum(np.maximum(a, b), np.maximum(c, d))
    out: FloatArray = np.maximum(np.minimum(e, f), np.minimum(np.maximum(e, f), g))
    return out


def _trailing_mean(cs: FloatArray, hi: NDArray[np.intp], lo: NDArray[np.intp]) -> FloatArray:
    out: FloatArray = (cs[..., hi] - cs[..., lo]) / np.maximum(hi - lo, 1)
    return out


def _with_zero_first(a: FloatArray) -> FloatArray:
    """``a`` along its last axis with a 0 in front (the cumulative sums' origin)."""
    return np.concatenate([np.zeros((*a.shape[:-1], 1)), a], axis=-1)


def _profile_residual(x: FloatArray, lag: int, pre: FloatArray, seasons: int) -> FloatArray:
    """``x[..., lag:]`` minus the mean of the readings 1..``seasons`` periods earlier.

    ``pre`` are the readings just before ``x`` (older seasons); a reading with fewer earlier
    seasons uses those it has. Both may carry leading axes (several channels at once).
    """
    xe = np.concatenate([pre, x], axis=-1)
    off = pre.shape[-1]
    pos = np.arange(lag, x.shape[-1]) + off
    acc = np.zeros((*x.shape[:-1], pos.size))
    cnt = np.zeros(pos.size)
    for k in range(1, seasons + 1):
        src = pos - k * lag
        ok = src >= 0
        if not ok.any():
            break
        acc[..., ok] += xe[..., src[ok]]
        cnt[ok] += 1.0
    out: FloatArray = x[..., lag:] - acc / np.maximum(cnt, 1.0)
    return out


def _segment_q(
    x: FloatArray,
    lag: int,
    warm_end: int,
    k0: int,
    spike_margin: float = SPIKE_MARGIN,
    pre: FloatArray | None = None,
    seasons: int = SEASONS,
    need_from: int = 0,
) -> FloatArray:
    """Record ratio of the readings ``x[..., lag:]`` with seasonal lag ``lag`` (local indices).

    ``x[..., :lag]`` and ``pre`` (the readings before ``x``) only serve as previous seasons;
    readings before ``warm_end`` get 0.
    ``k0`` readings of feature history precede ``x[..., lag]`` (the record of a shorter history
    than ``HISTORY`` is scaled up to the one expected over ``HISTORY`` readings of Gaussian
    noise). The spike feature's ratio is divided by ``spike_margin``. Leading axes are
    channels scored at once, each row exactly as on its own. Ratios before position
    ``need_from`` are not computed (0): a small batch needs them only for its last readings.
    """
    n = x.shape[-1]
    q = np.zeros(x.shape)
    c0 = lag
    if c0 >= n:
        return q
    older = np.zeros((*x.shape[:-1], 0)) if pre is None else pre
    u = _profile_residual(x, lag, older, seasons) if lag else x[..., c0:]
    m = u.shape[-1]
    pad = np.concatenate([np.repeat(u[..., :1], MEDIAN_K, axis=-1), u], axis=-1)
    pred = _median5(*(pad[..., j : j + m] for j in range(MEDIAN_K)))
    f_spike = np.abs(u - pred)
    cs = _with_zero_first(np.cumsum(u, axis=-1))
    i = np.arange(m)
    hi_s = i + 1
    lo_s = np.maximum(hi_s - LEVEL_SHORT, 0)
    lo_l = np.maximum(lo_s - LEVEL_LONG, 0)
    short = _trailing_mean(cs, hi_s, lo_s)
    long_ = np.where(lo_s > lo_l, _trailing_mean(cs, lo_s, lo_l), short)
    f_level = np.abs(short - long_)
    # the records and ratios only where the caller needs them (the features before serve
    # as their history)
    p0 = min(max(need_from - c0, 0), m)
    tiny = 1e-9 * (1.0 + np.abs(x[..., c0 + p0 :]))
    ratio = np.zeros(tiny.shape)
    k = np.clip(k0 + i[p0:], 2, HISTORY).astype(np.float64)
    short_history = np.sqrt(np.log(HISTORY) / np.log(k))
    for f, margin in ((f_spike, spike_margin), (f_level, 1.0)):
        # the record of the last HISTORY readings, but at most RECENT_M times the one of the
        # last RECENT: a single huge glitch does not blind the scorer for HISTORY readings
        record = np.minimum(
            _prev_max_from(f, HISTORY, p0), RECENT_M * _prev_max_from(f, RECENT, p0)
        )
        rec = np.maximum(record * short_history, tiny)
        fp = f[..., p0:]
        ratio = np.maximum(ratio, np.where(fp > tiny, fp / (rec * margin), 0.0))
    qq = np.zeros(u.shape)
    qq[..., p0:] = ratio
    # stuck: the FLAT-th identical reading in a row on a channel that normally moves
    xs = x[..., c0:]
    first = np.zeros((*xs.shape[:-1], 1), dtype=bool)  # the first reading repeats nothing
    same = np.concatenate([first, np.diff(xs, axis=-1) == 0.0], axis=-1).astype(np.float64)
    cz = _with_zero_first(np.cumsum(same, axis=-1))
    run = cz[..., hi_s] - cz[..., np.maximum(hi_s - (FLAT - 1), 0)]
    before = np.maximum(hi_s - (FLAT - 1), 0)
    share = _trailing_mean(cz, before, np.maximum(before - HISTORY, 0))
    just = (run == FLAT - 1) & (same[..., np.maximum(i - (FLAT - 1), 0)] == 0.0)
    stuck = just & (share < FLAT_MAX_SHARE) & (before - np.maximum(before - HISTORY, 0) >= WARM_UP)
    qq = np.where(stuck, np.maximum(qq, FLAT_Q), qq)
    q[..., c0:] = qq
    q[..., : max(warm_end, 0)] = 0.0
    return np.nan_to_num(q, nan=0.0, posinf=1e6)


def _decide(x: FloatArray, at: int, lag: int, current: int) -> bool:
    """Adopt seasonal lag ``lag`` on the first ``at`` readings ``x[:at]``?"""
    a = x[:at]
    if lag < 4 or a.size < 2 * lag:
        return False
    spread = float(np.mean(np.abs(a - np.mean(a))))
    d = a[lag:] - a[:-lag]
    s_new = float(np.mean(np.abs(d - np.median(d))))
    if current:
        dc = a[current:] - a[:-current]
        s_cur = float(np.mean(np.abs(dc - np.median(dc))))
    else:
        s_cur = spread
    better = s_new < (REPLACE_RATIO if current else 1.0) * s_cur
    return spread > 0 and s_new < SEASON_RATIO * spread and better


def _schedule(interval_s: float) -> list[tuple[int, int]]:
    day = round(86400.0 / interval_s)
    out: list[tuple[int, int]] = []
    for lag in (day, 7 * day):
        if 4 <= lag <= PERIOD_MAX:
            out.append((3 * lag, lag))
    return out


def _interval(times: FloatArray) -> float | None:
    dt = np.diff(times[np.isfinite(times)])
    dt = dt[dt > 0]
    return float(np.median(dt)) if dt.size else None


@dataclass(frozen=True, slots=True)
class _Piece:
    """The arithmetic of one seasonal segment's share of a batch, as slices of ``x_all``.

    Two pieces with the same :attr:`shape` run as rows of one array: every index below is
    relative, and the history counts are clamped where they stop mattering.
    """

    lag: int
    window: tuple[int, int]  # readings scored with their history: x_all[window[0]:window[1]]
    pre: tuple[int, int]  # older seasons just before the window
    warm_end: int  # window positions before this score 0 (clamped at 0)
    k0: int  # feature history before the window's first scored position (clamped at HISTORY)
    keep_from: int  # window position of the first reading of this batch in the piece
    out: tuple[int, int]  # where the piece's scores go in the batch

    @property
    def shape(self) -> tuple[int, ...]:
        return (
            self.lag,
            self.window[1] - self.window[0],
            self.pre[1] - self.pre[0],
            self.warm_end,
            self.k0,
            self.keep_from,
            *self.out,
        )


def _reach(piece: _Piece) -> slice:
    """The readings of ``x_all`` a piece reads: its older seasons, then its window."""
    return slice(piece.pre[0], piece.window[1])


@dataclass(slots=True)
class _Plan:
    """One channel's batch after the bookkeeping and before the arithmetic."""

    x_new: FloatArray
    missing: NDArray[np.bool_]
    state: AnomalyState
    interval: float | None
    pending: list[tuple[int, int]]
    segments: list[tuple[int, int]]
    x_all: FloatArray
    n_total: int
    pieces: list[_Piece]


def _check_options(spike_margin: float, seasons: int) -> None:
    if not (np.isfinite(spike_margin) and spike_margin > 0):
        raise InputDataError(f"spike_margin: must be a positive number, got {spike_margin!r}")
    if isinstance(seasons, bool) or not isinstance(seasons, int) or seasons < 1:
        raise InputDataError(f"seasons: must be a positive integer, got {seasons!r}")


def _plan(
    values: ArrayLike, state: AnomalyState | None, times: ArrayLike | None, seasons: int
) -> _Plan | tuple[FloatArray, AnomalyState]:
    """The batch's pieces, or its result where no arithmetic is needed (an empty batch, or
    nothing but missing readings before any finite one)."""
    x_new = as_float_vector(values, name="values")
    st = state if state is not None else AnomalyState()
    n_new = x_new.size
    interval, pending = st.interval_s, list(st.pending)
    if times is not None:
        t = np.asarray(times, dtype=np.float64).ravel()
        if t.size != n_new:
            raise InputDataError(f"times: expected {n_new} values, got {t.size}")
        if interval is None and st.n_seen == 0:
            interval = _interval(t)
            if interval is not None:
                pending = _schedule(interval)
    if n_new == 0:
        return np.zeros(0), AnomalyState(
            n_seen=st.n_seen,
            tail=st.tail.copy(),
            last_finite=st.last_finite,
            interval_s=interval,
            segments=list(st.segments),
            pending=pending,
        )
    missing = ~np.isfinite(x_new)
    if st.last_finite is None and missing.all():
        return np.ones(n_new), AnomalyState(interval_s=interval, pending=pending)
    x_all = np.concatenate([st.tail, _ffill(x_new, st.last_finite)])
    g0 = st.n_seen - st.tail.size
    n_total = st.n_seen + n_new
    segments = list(st.segments)
    while pending and pending[0][0] <= n_total:
        at, lag = pending.pop(0)
        if g0 == 0 and _decide(x_all, at, lag, segments[-1][1]):
            segments.append((at, lag))
    pieces: list[_Piece] = []
    bounds = [*segments[1:], (n_total, 0)]
    for (s_start, lag), (s_end, _) in zip(segments, bounds, strict=True):
        lo, hi = max(s_start, st.n_seen), min(s_end, n_total)
        if lo >= hi:
            continue
        # a seasonal model's features are computed from its first full season on, also before
        # the model is adopted, so that it starts with a history
        first = max(lag, lo - _HORIZON)
        base = first - lag  # the local array starts one season earlier ...
        older = max(base - (seasons - 1) * lag, g0) if lag else base  # ... and older ones
        pieces.append(
            _Piece(
                lag=lag,
                window=(base - g0, hi - g0),
                pre=(older - g0, base - g0),
                warm_end=max(lag + WARM_UP - base, 0),
                k0=min(first - lag, HISTORY),
                keep_from=lo - base,
                out=(lo - st.n_seen, hi - st.n_seen),
            )
        )
    return _Plan(x_new, missing, st, interval, pending, segments, x_all, n_total, pieces)


def _piece_scores(
    x_all: FloatArray, piece: _Piece, spike_margin: float, seasons: int
) -> FloatArray:
    """Scores of a piece's readings; ``x_all`` may hold several channels as rows."""
    pre = x_all[..., piece.pre[0] : piece.pre[1]] if piece.lag else None
    q = _segment_q(
        x_all[..., piece.window[0] : piece.window[1]],
        piece.lag,
        piece.warm_end,
        piece.k0,
        spike_margin,
        pre,
        seasons,
        need_from=piece.keep_from - SUPPRESS,  # the muting looks this far back
    )
    pm = _prev_max(q, SUPPRESS)
    muted = (pm >= SUPPRESS_Q) & (q <= OVERRIDE * pm)
    return q_to_score(np.where(muted, 0.0, q)[..., piece.keep_from :])


def _finish(plan: _Plan, scores: FloatArray, seasons: int) -> tuple[FloatArray, AnomalyState]:
    scores[plan.missing] = 1.0
    fin = np.flatnonzero(~plan.missing)
    last_finite = float(plan.x_new[fin[-1]]) if fin.size else plan.state.last_finite
    keep = _HORIZON + seasons * max(lag for _, lag in plan.segments) + 1
    tail = plan.x_all if plan.pending else plan.x_all[-keep:]
    return scores, AnomalyState(
        n_seen=plan.n_total,
        tail=tail.copy(),
        last_finite=last_finite,
        interval_s=plan.interval,
        segments=plan.segments,
        pending=plan.pending,
    )


def score_online(
    values: ArrayLike,
    state: AnomalyState | None = None,
    *,
    times: ArrayLike | None = None,
    spike_margin: float = SPIKE_MARGIN,
    seasons: int = SEASONS,
) -> tuple[FloatArray, AnomalyState]:
    """Score a new batch of readings of one channel, continuing from ``state``.

    Parameters
    ----------
    values : array_like, shape (n,)
        New readings in time order (any unit; NaN = missing reading).
    state : AnomalyState, optional
        State returned by the previous call; ``None`` for the first batch.
    times : array_like, shape (n,), optional
        Reading times in seconds; the first batch with two distinct times fixes the sampling
        interval, which lets the scorer try daily and weekly periods. Without times no period
        is learned.
    spike_margin : float, optional
        Factor (dimensionless, > 0) by which a reading's spike surprise must beat its record
        to score like an equal level surprise (default :data:`SPIKE_MARGIN`; pass the same
        value with every batch of a channel).
    seasons : int, optional
        Previous seasons averaged into the seasonal profile (>= 1, default :data:`SEASONS`;
        pass the same value with every batch of a channel).

    Returns
    -------
    scores : ndarray, shape (n,)
        Anomaly score in [0, 1] of each reading (uses only earlier readings and itself).
    state : AnomalyState
        To store and pass with the next batch.

    Raises
    ------
    InputDataError
        ``times`` of another length than ``values``, ``spike_margin`` not a positive number or
        ``seasons`` not a positive integer.
    """
    _check_options(spike_margin, seasons)
    plan = _plan(values, state, times, seasons)
    if not isinstance(plan, _Plan):
        return plan
    return _score_plan(plan, spike_margin, seasons)


def _score_plan(plan: _Plan, spike_margin: float, seasons: int) -> tuple[FloatArray, AnomalyState]:
    scores = np.zeros(plan.x_new.size)
    for piece in plan.pieces:
        scores[piece.out[0] : piece.out[1]] = _piece_scores(
            plan.x_all, piece, spike_margin, seasons
        )
    return _finish(plan, scores, seasons)


def score_online_many(
    batches: Sequence[tuple[ArrayLike, AnomalyState | None, ArrayLike | None]],
    *,
    spike_margin: float = SPIKE_MARGIN,
    seasons: int = SEASONS,
) -> list[tuple[FloatArray, AnomalyState]]:
    """:func:`score_online` of many channels' batches at once: the same scores and states.

    Channels whose batch needs the same arithmetic (one seasonal segment, as many new
    readings, the same history lengths: a fleet in its steady state, each channel with a
    reading or a few since the last batch) are scored as the rows of one array, which costs
    about as much as scoring one of them; the others one by one.

    Parameters
    ----------
    batches : sequence of (values, state, times)
        Each channel's new readings, its state (``None`` for the first batch) and the reading
        times in seconds (or ``None``), as :func:`score_online` takes them.
    spike_margin, seasons
        As in :func:`score_online`, the same for every channel.

    Returns
    -------
    list of (scores, state)
        In the order of ``batches``.

    Raises
    ------
    InputDataError
        As :func:`score_online`, for the first batch that has the fault.
    """
    _check_options(spike_margin, seasons)
    results: list[tuple[FloatArray, AnomalyState] | None] = [None] * len(batches)
    plans: dict[int, _Plan] = {}
    together: dict[tuple[int, ...], list[int]] = {}
    for at, (values, state, times) in enumerate(batches):
        plan = _plan(values, state, times, seasons)
        if not isinstance(plan, _Plan):
            results[at] = plan
            continue
        plans[at] = plan
        if len(plan.pieces) == 1:
            together.setdefault(plan.pieces[0].shape, []).append(at)
        else:  # a period adopted inside the batch: its own arithmetic
            results[at] = _score_plan(plan, spike_margin, seasons)
    for members in together.values():
        first = plans[members[0]].pieces[0]
        # each row: the member's older seasons and window (the window starts where they end)
        rows = np.stack([plans[at].x_all[_reach(plans[at].pieces[0])] for at in members])
        lo = first.pre[0]
        shifted = replace(
            first,
            window=(first.window[0] - lo, first.window[1] - lo),
            pre=(0, first.pre[1] - lo),
        )
        scored = _piece_scores(rows, shifted, spike_margin, seasons)
        for row, at in enumerate(members):
            plan = plans[at]
            scores = np.zeros(plan.x_new.size)
            scores[first.out[0] : first.out[1]] = scored[row]
            results[at] = _finish(plan, scores, seasons)
    return [r for r in results if r is not None]


def anomaly_scores(
    values: ArrayLike,
    *,
    times: ArrayLike | None = None,
    spike_margin: float = SPIKE_MARGIN,
    seasons: int = SEASONS,
) -> FloatArray:
    """Online anomaly score of a whole series in one call (see :func:`score_online`)."""
    return score_online(values, times=times, spike_margin=spike_margin, seasons=seasons)[0]


def score_series(times: ArrayLike, values: ArrayLike, *, name: str = "series") -> FloatArray:
    """Validate a (time, value) series (strictly increasing times) and score it online.

    Raises
    ------
    InputDataError
        Duplicated or out-of-order timestamps, length mismatch.
    NotEnoughDataError
        No finite reading at all.
    """
    t, v = validate_series(times, values, name=name, min_points=1)
    return anomaly_scores(v, times=t)
