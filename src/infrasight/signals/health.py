"""Sensor health of one slow monitoring channel: what changed in the recent readings, since when.

:func:`assess_channel` judges the recent part of a window of readings (the *test* span, by default
the last 7 days) against the earlier part (the *reference*), after removing the channel's own
behaviour fitted on the reference: a level, a linear slope (seasonal change) and the daily cycle
(temperature, traffic rhythm). Each IPC-SHM 2020 fault class is a persistent, current departure
of one kind:

* ``missing`` - at least ``persist_blocks`` trailing blocks lose a share of their expected
  readings (time gaps or NaN) well above the reference's;
* ``minor`` - the gauge is stuck (the same value for at least two blocks, longer than any earlier
  flat run) or the sample-to-sample variation of the trailing blocks collapsed below
  ``minor_ratio`` of the reference's;
* ``outlier`` - at least ``outlier_min`` isolated spikes far beyond the largest one-sample jumps
  the reference contains (traffic peaks are in the reference, so they are not spikes);
* ``square`` - at least ``square_min`` abrupt level steps, alternating up and down, far beyond the
  reference's hour-to-hour steps;
* ``trend`` / ``drift`` - the residual's block medians stay beyond ``level_z`` reference spreads
  for ``persist_blocks`` trailing blocks; ``trend`` when a straight line from the onset explains
  them to within ``shape_z`` spreads, ``drift`` otherwise.

Scale-free: thresholds are multiples of the channel's own reference statistics, so the unit and
the size of daily or traffic effects do not matter. A slow class (trend, drift) on one channel
can also be real behaviour; the caller compares co-located channels before calling it a gauge
fault (:func:`infrasight.signals.faults.route_anomalies`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from infrasight.core.phrases import N_, Phrase, phrase, phrase_list
from infrasight.signals.errors import InputDataError, NotEnoughDataError
from infrasight.signals.faults import SENSOR_FAULTS, FaultClass
from infrasight.signals.series import as_float_vector

__all__ = [
    "SLOW_FAULTS",
    "HealthConfig",
    "HealthFinding",
    "Verdict",
    "assess_channel",
    "judge_asset",
]

FloatArray = NDArray[np.float64]
DAY_S = 86_400.0

#: Classes that a real structural change can also produce on a single channel.
SLOW_FAULTS = frozenset({FaultClass.TREND, FaultClass.DRIFT})


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthConfig:
    """Thresholds of :func:`assess_channel` (tuned on generated fleets, seeds 0-5 and 1000-1002).

    Attributes
    ----------
    test_s : float
        Recent span judged, s (at most half the window).
    block_s : float
        Block length for persistence and level statistics, s (at most 1/16 of the window).
    persist_blocks : int
        Trailing blocks a missing-data or level departure must last.
    minor_ratio : float
        Sample-to-sample variation below this share of the reference's is ``minor``.
    outlier_z, outlier_q : float
        A spike exceeds both ``outlier_z`` robust sigmas of the reference's one-sample jumps and
        ``outlier_q`` times their 99.9 % quantile.
    outlier_min : int
        Spikes needed in the test span.
    square_z, square_q : float
        The same for hour-scale steps.
    square_min : int
        Alternating steps needed in the test span.
    square_sharp : float
        A step must exceed this many times the steps one hour before and after it.
    level_z : float
        Block-median departure, in reference block spreads.
    peer_level_z : float
        ``level_z`` of a co-located channel asked whether it moves too (a structure moves all
        its gauges, some less).
    shape_z : float
        RMS distance of the block medians from a straight line, in block spreads, below which a
        level departure is a ``trend``.
    """

    test_s: float = 7 * DAY_S
    block_s: float = 6 * 3600.0
    persist_blocks: int = 4
    minor_ratio: float = 0.3
    outlier_z: float = 8.0
    outlier_q: float = 2.5
    outlier_min: int = 3
    square_z: float = 10.0
    square_q: float = 2.0
    square_min: int = 3
    square_sharp: float = 2.5
    level_z: float = 8.0
    shape_z: float = 1.8
    peer_level_z: float = 4.0

    def for_peers(self) -> HealthConfig:
        """The thresholds for co-located channels when a slow class is checked for coherence."""
        return replace(self, level_z=self.peer_level_z)


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthFinding:
    """What :func:`assess_channel` saw.

    Attributes
    ----------
    label : FaultClass
        ``NORMAL`` or the fault class.
    onset_s : float or None
        Estimated start of the fault, epoch seconds.
    window_start_s, window_end_s : float
        Evidence window (the readings judged), epoch seconds.
    reference_end_s : float
        End of the reference span, epoch seconds.
    evidence : str
        One line saying what was measured (English, with figures).
    phrase : Phrase or None
        ``evidence`` as a message key and parameters (rendered per locale by the adapters).
    """

    label: FaultClass
    onset_s: float | None
    window_start_s: float
    window_end_s: float
    reference_end_s: float
    evidence: str
    phrase: Phrase | None = None

    @property
    def is_sensor_fault(self) -> bool:
        """True for the classes that mean a faulty gauge whatever the other channels do."""
        return self.label in SENSOR_FAULTS

    @property
    def is_slow(self) -> bool:
        """True for trend and drift, which co-located channels must not share."""
        return self.label in SLOW_FAULTS

    def message(self, channel: str) -> str:
        """The alarm text in English: class, since when, evidence window."""
        return self.message_phrase(channel).english()

    def message_phrase(self, channel: str) -> Phrase:
        """The alarm text as a phrase: class, since when (``–`` when unknown), what was
        measured, the evidence window and the reference it was judged against."""
        if self.label is FaultClass.NORMAL:
            return phrase(
                "{channel}: no sensor fault in {start} to {end}",
                channel=channel,
                start=_iso(self.window_start_s),
                end=_iso(self.window_end_s),
            )
        head = phrase(
            "{channel}: {fault!t} since {since}",
            channel=channel,
            fault=self.label.value,
            since=_iso(self.onset_s) if self.onset_s is not None else None,
        )
        window = phrase(
            "evidence {start} to {end}, judged against {reference_start} to {start}",
            start=_iso(self.reference_end_s),
            end=_iso(self.window_end_s),
            reference_start=_iso(self.window_start_s),
        )
        said = self.phrase or phrase("{note}", note=self.evidence)
        return phrase_list(head, said, window)


#: The fault classes as alarm texts cite them (``{fault!t}``), for the ``evidence`` catalogue.
FAULT_WORDS = (
    N_("missing"),
    N_("minor"),
    N_("outlier"),
    N_("square"),
    N_("trend"),
    N_("drift"),
)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")


def _mad(x: FloatArray) -> float:
    if x.size == 0:
        return 0.0
    return 1.4826 * float(np.median(np.abs(x - np.median(x))))


def _trailing_run(flags: NDArray[np.bool_]) -> int:
    """Number of trailing True entries."""
    if flags.size == 0 or not flags[-1]:
        return 0
    false = np.flatnonzero(~flags)
    return int(flags.size - (false[-1] + 1 if false.size else 0))


def _design(t: FloatArray, t_ref: float, daily: bool) -> FloatArray:
    cols = [np.ones_like(t), (t - t_ref) / DAY_S]
    if daily:
        ph = 2 * np.pi * (t % DAY_S) / DAY_S
        cols += [np.cos(ph), np.sin(ph), np.cos(2 * ph), np.sin(2 * ph)]
    return np.column_stack(cols)


def _robust_fit(a: FloatArray, y: FloatArray) -> FloatArray:
    """Least squares, refitted once without points beyond 3.5 robust sigmas (traffic, spikes)."""
    beta = _solve(a, y)
    r = y - a @ beta
    keep = np.abs(r - np.median(r)) <= 3.5 * max(_mad(r), 1e-12)
    if keep.sum() > a.shape[1] * 4 and not keep.all():
        beta = _solve(a[keep], y[keep])
    return beta


def _solve(a: FloatArray, y: FloatArray) -> FloatArray:
    """Least squares by the (small) normal equations, columns scaled for conditioning."""
    norm = np.sqrt(np.sum(a * a, axis=0))
    norm[norm == 0] = 1.0
    an = a / norm
    gram = an.T @ an + 1e-12 * np.eye(a.shape[1])
    out: FloatArray = np.linalg.solve(gram, an.T @ y) / norm
    return out


def _events(stat: FloatArray, over: NDArray[np.bool_]) -> list[int]:
    """Index of the extreme |stat| of each contiguous run of ``over``."""
    idx = np.flatnonzero(over)
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) > 1) + 1
    return [int(run[np.argmax(np.abs(stat[run]))]) for run in np.split(idx, cuts)]


def assess_channel(
    times_s: ArrayLike,
    values: ArrayLike,
    *,
    drivers: ArrayLike | None = None,
    config: HealthConfig | None = None,
) -> HealthFinding:
    """Judge the recent readings of one channel against its earlier ones.

    Parameters
    ----------
    times_s : array_like, shape (n,)
        Reading times, epoch seconds, strictly increasing.
    values : array_like, shape (n,)
        Readings in the channel's unit; NaN = missing.
    drivers : array_like, shape (n, k), optional
        Co-located temperatures (or other drivers) at the same times, NaN where unknown. Their
        slow departures (6-hour blocks, after their own level, slope and daily cycle) are fitted
        on the reference and taken out of the channel's before trend and drift are judged, so
        weather does not look like a drift. Their spikes and steps do not reach the channel.
    config : HealthConfig, optional
        Thresholds; the defaults are the tuned ones.

    Returns
    -------
    HealthFinding

    Raises
    ------
    InputDataError
        Lengths differ or times are not strictly increasing.
    NotEnoughDataError
        Fewer than 32 finite readings in the reference span or fewer than 8 in the test span.
    """
    cfg = config or HealthConfig()
    t = as_float_vector(times_s, name="times_s")
    x = as_float_vector(values, name="values")
    if t.size != x.size:
        raise InputDataError(f"times_s and values differ in length ({t.size} != {x.size})")
    if t.size < 2 or not np.all(np.diff(t) > 0):
        raise NotEnoughDataError("times_s: at least 2 strictly increasing times needed")
    drv = None
    if drivers is not None:
        drv = np.asarray(drivers, dtype=np.float64)
        if drv.ndim == 1:
            drv = drv[:, None]
        if drv.ndim != 2 or drv.shape[0] != t.size:
            raise InputDataError(f"drivers: expected shape ({t.size}, k), got {drv.shape}")
        if drv.shape[1] == 0:
            drv = None
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _assess(t, x, cfg, drv)


def _assess(
    t: FloatArray, x: FloatArray, cfg: HealthConfig, drv: FloatArray | None
) -> HealthFinding:
    t_end = float(t[-1])
    span = t_end - float(t[0])
    test_s = min(cfg.test_s, span / 2)
    block = min(cfg.block_s, span / 16)
    ref_end = t_end - test_s
    ok = np.isfinite(x)
    ref = (t < ref_end) & ok
    tst = (t >= ref_end) & ok
    if ref.sum() < 32 or tst.sum() < 8:
        raise NotEnoughDataError(
            f"window: {int(ref.sum())} reference and {int(tst.sum())} recent readings, "
            "at least 32 and 8 needed"
        )

    def done(label: FaultClass, onset: float | None, said: Phrase) -> HealthFinding:
        return HealthFinding(
            label=label,
            onset_s=onset,
            window_start_s=float(t[0]),
            window_end_s=t_end,
            reference_end_s=ref_end,
            evidence=said.english(),
            phrase=said,
        )

    step = float(np.median(np.diff(t[ref])))
    bid = np.floor((t_end - t) / block).astype(np.int64)  # 0 = the last block, counting back
    n_test = max(round(test_s / block), 1)
    n_full = int(np.floor(span / block))  # complete blocks
    test_blocks = np.arange(n_test - 1, -1, -1)  # oldest first
    ref_blocks = np.arange(n_test, n_full)

    # --- missing: expected readings per block from the reference's step
    per_block = block / step
    got = np.bincount(bid[ok], minlength=n_full + 1).astype(np.float64)
    share = 1.0 - got / per_block
    ref_share = float(np.clip(np.median(share[ref_blocks]), 0.0, 1.0)) if ref_blocks.size else 0.0
    miss = share[test_blocks] >= max(0.2, ref_share + 0.15)
    run = _trailing_run(miss)
    if run >= cfg.persist_blocks:
        first_blk = test_blocks[n_test - run]
        inside = (bid == first_blk) | (bid < first_blk)
        tb, ob = t[inside], ok[inside]
        holes = np.flatnonzero(~ob)
        gaps = np.flatnonzero(np.diff(tb) > 1.5 * step)
        cand = [float(tb[holes[0]])] if holes.size else []
        cand += [float(tb[gaps[0]] + step)] if gaps.size else []
        onset = min(cand) if cand else float(tb[0])
        return done(
            FaultClass.MISSING,
            onset,
            phrase(
                "{share:.0f} % of the expected readings missing over the last {hours:.0f} h "
                "(reference {reference:.0f} %)",
                share=100 * float(np.mean(share[test_blocks[n_test - run :]])),
                hours=run * block / 3600,
                reference=100 * ref_share,
            ),
        )

    tf, xf, bf = t[ok], x[ok], bid[ok]
    is_ref = tf < ref_end

    # --- minor: stuck gauge
    flat = np.abs(np.diff(xf)) <= 1e-9 * max(1.0, float(np.max(np.abs(xf))))
    k = _trailing_run(flat)
    if k >= 8 and tf[-1] - tf[-1 - k] >= 2 * block:
        earlier = flat[: flat.size - k]
        longest = _longest_run(earlier)
        if longest < k / 2:
            since = float(tf[-1 - k])
            return done(
                FaultClass.MINOR,
                since,
                phrase(
                    "stuck at {value:g} for {hours:.1f} h (longest earlier flat run {longest} "
                    "readings)",
                    value=float(xf[-1]),
                    hours=(t_end - since) / 3600,
                    longest=int(longest),
                ),
            )

    # --- minor: sample-to-sample variation collapsed
    d = np.diff(xf)
    db = bf[1:]
    dref = d[is_ref[1:]]
    ref_hf = _mad(dref)
    if ref_hf > 0:
        per = _group_mad(d, db, n_test)
        ratios = per[test_blocks] / ref_hf
        low = np.nan_to_num(ratios, nan=1.0) < cfg.minor_ratio
        run = _trailing_run(low)
        if run >= max(cfg.persist_blocks // 2, 2):
            first_blk = test_blocks[n_test - run]
            since = float(tf[np.argmax(bf <= first_blk)])
            return done(
                FaultClass.MINOR,
                since,
                phrase(
                    "variation fell to {ratio:.2f} of the reference's for {hours:.0f} h",
                    ratio=float(np.nanmedian(ratios[n_test - run :])),
                    hours=run * block / 3600,
                ),
            )

    # --- residual after level, slope and daily cycle fitted on the reference
    daily = (ref_end - float(t[0])) >= 2 * DAY_S and step < DAY_S / 8
    a = _design(tf, ref_end, daily)
    beta = _robust_fit(a[is_ref], xf[is_ref])
    r = xf - a @ beta

    # --- outliers: isolated samples off their 5-sample neighbourhood
    if r.size >= 16:
        loc = np.median(sliding_window_view(r, 5), axis=1)
        e = np.zeros(r.size)
        e[2:-2] = r[2:-2] - loc
        inner = np.zeros(r.size, dtype=bool)
        inner[2:-2] = True
        e_ref = e[inner & is_ref]
        sigma = _mad(e_ref)
        # each side on its own: traffic peaks are one-sided, gauge spikes come either way
        q_up, q_dn = _q999(e_ref[e_ref > 0]), _q999(-e_ref[e_ref < 0])
        thr_up = max(cfg.outlier_z * sigma, cfg.outlier_q * q_up)
        thr_dn = max(cfg.outlier_z * sigma, cfg.outlier_q * q_dn)
        # a side whose tail is much heavier than the other's (traffic) needs twice the margin
        thr_up *= 2.0 if q_up > 2.0 * q_dn else 1.0
        thr_dn *= 2.0 if q_dn > 2.0 * q_up else 1.0
        recent = inner & ~is_ref
        spikes = np.flatnonzero(recent & ((e > thr_up) | (e < -thr_dn)))
        if sigma > 0 and spikes.size >= cfg.outlier_min:
            return done(
                FaultClass.OUTLIER,
                float(tf[spikes[0]]),
                phrase(
                    "{count} spikes up to {size:.3g} off their neighbours (thresholds +{up:.3g} / "
                    "-{down:.3g} from the reference)",
                    count=int(spikes.size),
                    size=float(np.max(np.abs(e[spikes]))),
                    up=float(thr_up),
                    down=float(thr_dn),
                ),
            )

    # --- square: abrupt steps that alternate
    h = max(3, round(min(3600.0, block / 4) / step))
    ev: list[int] = []
    s = np.zeros(r.size)
    if r.size > 4 * h:
        win = sliding_window_view(r, h)
        med = np.median(win, axis=1)  # med[i] = median(r[i:i+h])
        s[h : r.size - h + 1] = med[h:] - med[: med.size - h]
        valid = np.zeros(r.size, dtype=bool)
        valid[h : r.size - h + 1] = True
        s_ref = s[valid & is_ref]
        thr = max(
            cfg.square_z * _mad(s_ref), cfg.square_q * float(np.quantile(np.abs(s_ref), 0.999))
        )
        # abrupt: the hour before and the hour after the step are flat next to it
        before = np.zeros(r.size)
        after = np.zeros(r.size)
        before[h:] = np.abs(s[:-h])
        after[:-h] = np.abs(s[h:])
        abrupt = np.abs(s) > cfg.square_sharp * np.maximum(before, after)
        ev = _events(s, valid & ~is_ref & (np.abs(s) > thr) & abrupt)
        if thr > 0 and len(ev) >= cfg.square_min:
            signs = np.sign(s[ev])
            flips = int(np.sum(signs[1:] != signs[:-1]))
            if flips >= cfg.square_min - 1:
                return done(
                    FaultClass.SQUARE,
                    float(tf[ev[0]]),
                    phrase(
                        "{count} alternating steps of up to {size:.3g} (threshold {threshold:.3g} "
                        "from the reference)",
                        count=len(ev),
                        size=float(np.max(np.abs(s[ev]))),
                        threshold=float(thr),
                    ),
                )

    # --- trend / drift: block medians of the residual
    if ref_blocks.size >= 4:
        med_b = _group_median(r, bf, n_full, min_n=3)
        if drv is not None:
            med_b = _explain_by_drivers(med_b, drv, ok, tf, is_ref, a, bf, n_full, ref_blocks)
        ref_med = med_b[ref_blocks]
        ref_med = ref_med[np.isfinite(ref_med)]
        spread = max(_mad(ref_med), _mad(r[is_ref]) / np.sqrt(per_block), 1e-12)
        z = med_b[test_blocks] / spread
        zf = np.nan_to_num(z, nan=0.0)
        sign = np.sign(zf[-1])
        far = (np.abs(zf) > cfg.level_z) & (np.sign(zf) == sign)
        run = _trailing_run(far)
        if run >= cfg.persist_blocks and sign != 0:
            same = (np.sign(zf) == sign) & (np.abs(zf) > 1.0)
            back = _trailing_run(same)
            first = n_test - back
            seg_b = test_blocks[first:]
            zs = zf[first:]
            tb = np.arange(zs.size, dtype=np.float64)
            if zs.size >= 3:
                fit = np.polyval(np.polyfit(tb, zs, 1), tb)
                shape = float(np.sqrt(np.mean((zs - fit) ** 2)))
            else:
                shape = 0.0
            label = FaultClass.TREND if shape <= cfg.shape_z else FaultClass.DRIFT
            since = float(tf[np.argmax(bf <= seg_b[0])])
            jumps = [i for i in ev if abs(float(tf[i]) - since) <= 2 * block]
            if jumps:  # the departure began with an abrupt step: an offset switched on
                return done(
                    FaultClass.SQUARE,
                    float(tf[jumps[0]]),
                    phrase(
                        "abrupt step of {step:+.3g} (threshold from the reference), level held "
                        "{z:+.1f} block spreads off for {hours:.0f} h",
                        step=float(s[jumps[0]]),
                        z=float(zf[-1]),
                        hours=run * block / 3600,
                    ),
                )
            return done(
                label,
                since,
                phrase(
                    "residual level {level:+.3g} ({z:+.1f} block spreads), beyond {limit:g} for "
                    "{hours:.0f} h; {shape:.1f} spreads off a straight line",
                    level=float(med_b[0]),
                    z=float(zf[-1]),
                    limit=float(cfg.level_z),
                    hours=run * block / 3600,
                    shape=shape,
                ),
            )
    return done(FaultClass.NORMAL, None, phrase("no persistent departure"))


def _explain_by_drivers(
    med_b: FloatArray,
    drv: FloatArray,
    ok: NDArray[np.bool_],
    tf: FloatArray,
    is_ref: NDArray[np.bool_],
    a: FloatArray,
    bf: NDArray[np.int64],
    n_full: int,
    ref_blocks: NDArray[np.int64],
) -> FloatArray:
    """Block medians minus what the drivers' own block departures explain on the reference."""
    cols = []
    for j in range(drv.shape[1]):
        d = drv[ok, j]
        fin = np.isfinite(d)
        use = fin & is_ref
        if use.sum() < 4 * a.shape[1]:
            continue
        dr = np.full(d.size, np.nan)
        dr[fin] = d[fin] - a[fin] @ _robust_fit(a[use], d[use])
        col = _group_median(dr[fin], bf[fin], n_full, min_n=3)
        cols.append(col)
        cols.append(np.concatenate([col[1:], [np.nan]]))  # the block before: thermal lag
    if not cols:
        return med_b
    design = np.column_stack([np.ones(n_full), *cols])
    rows = ref_blocks[np.all(np.isfinite(design[ref_blocks]), axis=1)]
    rows = rows[np.isfinite(med_b[rows])]
    if rows.size < 4 * design.shape[1]:
        return med_b
    gamma = _robust_fit(design[rows], med_b[rows])
    explained = design @ gamma
    out: FloatArray = np.where(np.isfinite(explained), med_b - explained, med_b)
    return out


def _group_median(v: FloatArray, bid: NDArray[np.int64], count: int, min_n: int = 1) -> FloatArray:
    """Median of ``v`` in each block ``0 .. count-1`` (NaN with fewer than ``min_n`` values)."""
    sel = (bid >= 0) & (bid < count)
    v, bid = v[sel], bid[sel]
    out = np.full(count, np.nan)
    if v.size == 0:
        return out
    order = np.lexsort((v, bid))
    vs = v[order]
    n = np.bincount(bid, minlength=count)
    first = np.concatenate([[0], np.cumsum(n)[:-1]])
    has = n >= max(min_n, 1)
    lo = first[has] + (n[has] - 1) // 2
    hi = first[has] + n[has] // 2
    out[has] = 0.5 * (vs[lo] + vs[hi])
    return out


def _group_mad(v: FloatArray, bid: NDArray[np.int64], count: int) -> FloatArray:
    """1.4826 x median absolute deviation of ``v`` in each block (NaN when empty)."""
    med = _group_median(v, bid, count)
    safe = np.clip(bid, 0, count - 1)
    dev = np.abs(v - med[safe])
    dev[(bid < 0) | (bid >= count)] = np.nan
    return 1.4826 * _group_median(dev, np.where(np.isfinite(dev), bid, -1), count)


def _q999(v: FloatArray) -> float:
    return float(np.quantile(v, 0.999)) if v.size else 0.0


def _longest_run(flags: NDArray[np.bool_]) -> int:
    if not flags.any():
        return 0
    padded = np.concatenate([[0], flags.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return int(np.max(edges[1::2] - edges[::2]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """A channel's finding and whether it is the gauge's fault.

    Attributes
    ----------
    finding : HealthFinding
    is_sensor_fault : bool
        True for a sensor-fault class, and for a slow class that no co-located channel shares.
    """

    finding: HealthFinding
    is_sensor_fault: bool


def _driver_matrix(
    t: FloatArray, windows: Mapping[str, tuple[ArrayLike, ArrayLike]], keys: list[str]
) -> FloatArray | None:
    cols = []
    for key in keys:
        tk = np.asarray(windows[key][0], dtype=np.float64)
        xk = np.asarray(windows[key][1], dtype=np.float64)
        fin = np.isfinite(xk)
        if fin.sum() < 2:
            continue
        col = np.interp(t, tk[fin], xk[fin], left=np.nan, right=np.nan)
        cols.append(col)
    return np.column_stack(cols) if cols else None


def judge_asset(
    windows: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    drivers: Collection[str] = (),
    only: Collection[str] | None = None,
    config: HealthConfig | None = None,
) -> dict[str, Verdict]:
    """Judge the channels of one asset together.

    Parameters
    ----------
    windows : mapping of channel -> (times_s, values)
        Every channel of the asset over the same span (epoch seconds, the channel's unit).
    drivers : collection of str
        Keys of ``windows`` that are temperatures: each channel's slow departures are judged
        after what the *other* drivers explain (interpolated onto its times).
    only : collection of str, optional
        Channels to judge (default all); the others serve as drivers and peers.
    config : HealthConfig, optional

    Returns
    -------
    dict of channel -> Verdict
        Channels with too little data are left out. A slow class (trend, drift) is a gauge
        fault only if no other channel of the asset departs slowly at the
        :meth:`HealthConfig.for_peers` bar, judged without the suspect as a driver.
    """
    cfg = config or HealthConfig()
    drv = [k for k in drivers if k in windows]
    out: dict[str, Verdict] = {}

    def judge(key: str, conf: HealthConfig, exclude: str | None = None) -> HealthFinding | None:
        t = np.asarray(windows[key][0], dtype=np.float64)
        use = [d for d in drv if d not in (key, exclude)]
        try:
            return assess_channel(
                t, windows[key][1], drivers=_driver_matrix(t, windows, use), config=conf
            )
        except NotEnoughDataError:
            return None

    for key in windows if only is None else [k for k in only if k in windows]:
        finding = judge(key, cfg)
        if finding is None:
            continue
        gauge = finding.is_sensor_fault
        if finding.is_slow:
            peers = cfg.for_peers()
            moving = False
            for other in windows:
                if other == key:
                    continue
                seen = judge(other, peers, exclude=key)
                if seen is not None and seen.is_slow:
                    moving = True
                    break
            gauge = not moving
        out[key] = Verdict(finding=finding, is_sensor_fault=gauge)
    return out
