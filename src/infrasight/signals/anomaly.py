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
from dataclasses import dataclass, field
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
    """``max(a[j-w:j])`` for each j (0 where nothing precedes)."""
    n = a.size
    f = maximum_filter1d(np.concatenate([np.zeros(w), a]), w, mode="nearest")
    out: FloatArray = f[w // 2 : w // 2 + n]
    return out


def _median5(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, e: FloatArray
) -> FloatArray:
    """Element-wise median of five arrays (a comparison network, no sort)."""
    f = np.maximum(np.minimum(a, b), np.minimum(c, d))
    g = np.minimum(np.maximum(a, b), np.maximum(c, d))
    out: FloatArray = np.maximum(np.minimum(e, f), np.minimum(np.maximum(e, f), g))
    return out


def _trailing_mean(cs: FloatArray, hi: NDArray[np.intp], lo: NDArray[np.intp]) -> FloatArray:
    out: FloatArray = (cs[hi] - cs[lo]) / np.maximum(hi - lo, 1)
    return out


def _profile_residual(x: FloatArray, lag: int, pre: FloatArray, seasons: int) -> FloatArray:
    """``x[lag:]`` minus the mean of the readings 1..``seasons`` periods earlier.

    ``pre`` are the readings just before ``x`` (older seasons); a reading with fewer earlier
    seasons uses those it has.
    """
    xe = np.concatenate([pre, x])
    off = pre.size
    pos = np.arange(lag, x.size) + off
    acc = np.zeros(pos.size)
    cnt = np.zeros(pos.size)
    for k in range(1, seasons + 1):
        src = pos - k * lag
        ok = src >= 0
        if not ok.any():
            break
        acc[ok] += xe[src[ok]]
        cnt[ok] += 1.0
    out: FloatArray = x[lag:] - acc / np.maximum(cnt, 1.0)
    return out


def _segment_q(
    x: FloatArray,
    lag: int,
    warm_end: int,
    k0: int,
    spike_margin: float = SPIKE_MARGIN,
    pre: FloatArray | None = None,
    seasons: int = SEASONS,
) -> FloatArray:
    """Record ratio of the readings ``x[lag:]`` with seasonal lag ``lag`` (local indices).

    ``x[:lag]`` and ``pre`` (the readings before ``x``) only serve as previous seasons;
    readings before ``warm_end`` get 0.
    ``k0`` readings of feature history precede ``x[lag]`` (the record of a shorter history than
    ``HISTORY`` is scaled up to the one expected over ``HISTORY`` readings of Gaussian noise).
    The spike feature's ratio is divided by ``spike_margin``.
    """
    n = x.size
    q = np.zeros(n)
    c0 = lag
    if c0 >= n:
        return q
    older = np.zeros(0) if pre is None else pre
    u = _profile_residual(x, lag, older, seasons) if lag else x[c0:]
    m = u.size
    pad = np.concatenate([np.full(MEDIAN_K, u[0]), u])
    pred = _median5(*(pad[j : j + m] for j in range(MEDIAN_K)))
    f_spike = np.abs(u - pred)
    cs = np.concatenate([[0.0], np.cumsum(u)])
    i = np.arange(m)
    hi_s = i + 1
    lo_s = np.maximum(hi_s - LEVEL_SHORT, 0)
    lo_l = np.maximum(lo_s - LEVEL_LONG, 0)
    short = _trailing_mean(cs, hi_s, lo_s)
    long_ = np.where(lo_s > lo_l, _trailing_mean(cs, lo_s, lo_l), short)
    f_level = np.abs(short - long_)
    tiny = 1e-9 * (1.0 + np.abs(x[c0:]))
    qq = np.zeros(m)
    k = np.clip(k0 + i, 2, HISTORY).astype(np.float64)
    short_history = np.sqrt(np.log(HISTORY) / np.log(k))
    for f, margin in ((f_spike, spike_margin), (f_level, 1.0)):
        # the record of the last HISTORY readings, but at most RECENT_M times the one of the
        # last RECENT: a single huge glitch does not blind the scorer for HISTORY readings
        record = np.minimum(_prev_max(f, HISTORY), RECENT_M * _prev_max(f, RECENT))
        rec = np.maximum(record * short_history, tiny)
        qq = np.maximum(qq, np.where(f > tiny, f / (rec * margin), 0.0))
    # stuck: the FLAT-th identical reading in a row on a channel that normally moves
    xs = x[c0:]
    same = np.concatenate([[False], np.diff(xs) == 0.0]).astype(np.float64)
    cz = np.concatenate([[0.0], np.cumsum(same)])
    run = cz[hi_s] - cz[np.maximum(hi_s - (FLAT - 1), 0)]
    before = np.maximum(hi_s - (FLAT - 1), 0)
    share = _trailing_mean(cz, before, np.maximum(before - HISTORY, 0))
    just = (run == FLAT - 1) & (same[np.maximum(i - (FLAT - 1), 0)] == 0.0)
    stuck = just & (share < FLAT_MAX_SHARE) & (before - np.maximum(before - HISTORY, 0) >= WARM_UP)
    qq = np.where(stuck, np.maximum(qq, FLAT_Q), qq)
    q[c0:] = qq
    q[: max(warm_end, 0)] = 0.0
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
    if not (np.isfinite(spike_margin) and spike_margin > 0):
        raise InputDataError(f"spike_margin: must be a positive number, got {spike_margin!r}")
    if isinstance(seasons, bool) or not isinstance(seasons, int) or seasons < 1:
        raise InputDataError(f"seasons: must be a positive integer, got {seasons!r}")
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
    scores = np.zeros(n_new)
    bounds = [*segments[1:], (n_total, 0)]
    for (s_start, lag), (s_end, _) in zip(segments, bounds, strict=True):
        lo, hi = max(s_start, st.n_seen), min(s_end, n_total)
        if lo >= hi:
            continue
        # a seasonal model's features are computed from its first full season on, also before
        # the model is adopted, so that it starts with a history
        first = max(lag, lo - _HORIZON)
        base = first - lag  # the local array starts one season earlier ...
        pre = x_all[max(base - (seasons - 1) * lag, g0) - g0 : base - g0]  # ... and older ones
        q = _segment_q(
            x_all[base - g0 : hi - g0],
            lag,
            lag + WARM_UP - base,
            first - lag,
            spike_margin,
            pre if lag else None,
            seasons,
        )
        pm = _prev_max(q, SUPPRESS)
        muted = (pm >= SUPPRESS_Q) & (q <= OVERRIDE * pm)
        q = np.where(muted, 0.0, q)[lo - base :]
        scores[lo - st.n_seen : hi - st.n_seen] = q_to_score(q)
    scores[missing] = 1.0
    fin = np.flatnonzero(~missing)
    last_finite = float(x_new[fin[-1]]) if fin.size else st.last_finite
    keep = _HORIZON + seasons * max(lag for _, lag in segments) + 1
    tail = x_all if pending else x_all[-keep:]
    return scores, AnomalyState(
        n_seen=n_total,
        tail=tail.copy(),
        last_finite=last_finite,
        interval_s=interval,
        segments=segments,
        pending=pending,
    )


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
