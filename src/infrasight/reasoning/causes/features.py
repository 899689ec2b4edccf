"""Evidence tests on an element's observations: each returns a value in [0, 1] (or ``None`` when
it cannot be computed) with the evidence it read.

The signal tests work on each channel's *damage signal*: the channel less what its drivers
(temperature at the best lag, traffic) explain, fitted jointly with a slow trend so that daily
cycles identify the driver coefficients. A structural change shows as a lasting change of that
signal, seen by more than one channel at about the same time; a sensor fault as spikes, a stuck
value, a noise burst or a change that no co-located channel confirms.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, ndtr

from infrasight.core.phrases import N_, phrase
from infrasight.reasoning.causes.types import ChannelData, ChannelRole, FloatArray, Observations
from infrasight.reasoning.evidence import Evidence, EvidenceKind

__all__ = ["ChannelChange", "Feature", "compute_features", "damage_signal"]

_LAGS_H = tuple(float(h) for h in range(9))  # temperature lags tried: 0-8 h, hourly
_KNOT_H = 7 * 24.0
Z_CHANGE = 5.0  # |z| at which a channel's change counts as significant
Z_CONFIRM = 3.0  # |z| at which another channel's change can confirm it
Z_FOLLOW = 2.0  # |z| at which a channel that follows the lead's course can confirm it
FOLLOW_CORR = 0.8  # correlation of daily means with the lead's, since its onset, to follow it
Z_MODAL = 6.5  # frequency drop (in its environmental spread) at which modal_drop is 0.5
MIN_GAIN_RISE_SIGMAS = 3.0  # rain-gain rise, in its standard errors, below which it is no evidence
LOAD_COSINE = float(np.cos(np.pi / 4))  # an earlier excursion within 45° of the present change
LOAD_SIZE = 0.5  # its size, as a share of the present change, for the change to read as a load
AR_INFLATION = 2.0  # standard-error inflation for autocorrelated residuals (AR(1) phi ~0.6)
MIN_SHARE = 0.5  # least share of a structural change that a co-located gauge sees
MIN_BURST_SIGMAS = 3.0  # noise-level ratio (log) beyond its sampling error to count as a burst


@dataclass(frozen=True, slots=True, kw_only=True)
class Feature:
    """One evidence test's value (0-1, or None) and the evidence it read."""

    value: float | None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelChange:
    """The lasting change of one channel's damage signal.

    Attributes
    ----------
    key : str
    role : ChannelRole
    z : float
        Change between the first and last 15 % of the record in noise units (signed).
    delta : float
        The change in the channel's unit.
    index : int
        Sample where half of the change is reached.
    onset_index : int
        Sample where a tenth of it is reached.
    signal : ndarray
        The damage signal, smoothed with a 13-sample moving median.
    raw : ndarray
        The damage signal.
    noise : float
        Its noise level (robust, same unit).
    step_noise : float
        The noise a step within hours is judged against: a gauge's short-term noise (its
        high-passed damage signal), not inflated by what moved slowly or stepped in the first
        30 %; a frequency's environmental wander (``noise``).
    """

    key: str
    role: ChannelRole
    z: float
    delta: float
    index: int
    onset_index: int
    signal: FloatArray
    raw: FloatArray
    noise: float
    step_noise: float


def _sigmoid(x: float) -> float:
    return float(expit(x))  # no overflow warning for a very negative x


def _window(ch: ChannelData, i0: int, i1: int) -> str:
    t = ch.times_h
    i0, i1 = max(0, i0), min(t.size - 1, i1)
    return f"channel:{ch.key}[{t[i0]:.0f}h/{t[i1]:.0f}h]"


def _moving_median(x: FloatArray, w: int) -> FloatArray:
    if x.size < w:
        return x.copy()
    pad = w // 2
    xp = np.pad(x, pad, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(xp, w)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)  # a gap stays NaN
        return np.asarray(np.nanmedian(view, axis=1)[: x.size], dtype=np.float64)


def _robust_std(x: FloatArray) -> float:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    return 1.4826 * float(np.median(np.abs(x - np.median(x))))


def _hat_basis(t: FloatArray, spacing: float) -> FloatArray:
    knots = np.arange(t[0], t[-1] + spacing, spacing)
    if knots.size < 2:
        return np.ones((t.size, 1))
    cols = [np.clip(1.0 - np.abs(t - k) / spacing, 0.0, None) for k in knots]
    return np.column_stack(cols)


def _lstsq(X: FloatArray, y: FloatArray) -> FloatArray:
    """Least squares by the normal equations (small, well-conditioned designs)."""
    xtx = X.T @ X
    ridge = 1e-9 * float(np.trace(xtx)) / max(xtx.shape[0], 1)
    return np.asarray(np.linalg.solve(xtx + ridge * np.eye(xtx.shape[0]), X.T @ y))


def _slope_error(X: FloatArray, r: FloatArray) -> float:
    """Standard error of the slope (second column of ``X``) of a least-squares fit.

    Parameters
    ----------
    X : FloatArray
        Design matrix ``(n, 2)``: intercept and regressor.
    r : FloatArray
        Residuals of the fit ``(n,)``, in the response's unit.

    Returns
    -------
    float
        Standard error in response unit per regressor unit; ``inf`` when the regressor does
        not vary (no excitation) or there are too few samples.
    """
    if r.size < 3:
        return float("inf")
    s2 = float(r @ r) / (r.size - 2)
    xc = X[:, 1] - float(np.mean(X[:, 1]))
    sxx = float(xc @ xc)
    if sxx <= 1e-12 * max(float(X[:, 1] @ X[:, 1]), 1.0):
        return float("inf")
    return float(np.sqrt(s2 / sxx))


def damage_signal(ch: ChannelData, obs: Observations) -> FloatArray:
    """The channel less its driver response (temperature at the best lag, traffic).

    The temperature enters at each lag of ``_LAGS_H`` with its rate of change (degC/h), a
    first-order correction for a lag between the grid's; the lag with the least residual wins.

    Parameters
    ----------
    ch : ChannelData
    obs : Observations
        Supplies the drivers on ``obs.times_h``.

    Returns
    -------
    ndarray, shape (n,)
        In the channel's unit, offset so that its first 15 % has median zero.
    """
    y = ch.values.astype(np.float64)
    t = ch.times_h
    ok = np.isfinite(y)
    temp = obs.drivers.get("temperature")
    traffic = obs.drivers.get("traffic")
    hourly = t.size > 2 and float(np.median(np.diff(t))) <= 2.0
    best: tuple[float, FloatArray] | None = None
    if hourly and ok.sum() > 48:
        trend = _hat_basis(t, _KNOT_H)
        lags = _LAGS_H if temp is not None else (0.0,)
        for lag in lags:
            cols: list[FloatArray] = []
            if temp is not None:
                tl = np.interp(t - lag, obs.times_h, temp)
                # a lag between the grid's: T(t - lag - e) ~ T(t - lag) - e dT/dt, so the
                # rate (degC/h) takes up what the grid's 1-h spacing leaves
                cols.extend((tl, np.gradient(tl, t)))
            if traffic is not None:
                cols.append(np.interp(t, obs.times_h, traffic))
            if not cols:
                break
            drv = np.column_stack(cols)
            X = np.column_stack([trend, drv])
            beta = _lstsq(X[ok], y[ok])
            sse = float(np.sum((y[ok] - X[ok] @ beta) ** 2))
            if best is None or sse < best[0]:
                best = (sse, y - drv @ beta[trend.shape[1] :])
    elif temp is not None and ok.sum() > 8:
        # sparse channels (daily frequencies): driver fitted on the first 30 %
        tt = np.interp(t, obs.times_h, temp)
        nb = max(int(0.3 * t.size), 4)
        sel = ok.copy()
        sel[nb:] = False
        X = np.column_stack([np.ones(t.size), tt])
        beta = _lstsq(X[sel], y[sel])
        best = (0.0, y - tt * beta[1])
    d = y.copy() if best is None else best[1]
    n0 = max(int(0.15 * d.size), 1)
    return np.asarray(d - _edge_median(d, n0, head=True), dtype=np.float64)


def _edge_median(x: FloatArray, n0: int, *, head: bool) -> float:
    """Median of the first (``head``) or last ``n0`` samples; when they are all missing (a
    channel that started late or stopped early), of its first or last ``n0`` readings."""
    part = x[:n0] if head else x[-n0:]
    if not np.isfinite(part).any():
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            return 0.0
        part = finite[:n0] if head else finite[-n0:]
    return float(np.nanmedian(part))


def _change(ch: ChannelData, obs: Observations) -> ChannelChange:
    d = damage_signal(ch, obs)
    n = d.size
    n0 = max(int(0.15 * n), 1)
    hourly = n > 2 and float(np.median(np.diff(ch.times_h))) <= 2.0
    s = _moving_median(d, 13) if hourly else d
    hp = d - _moving_median(d, 25) if hourly else np.diff(d)
    spread = _robust_std(d[: max(int(0.3 * n), 3)])
    # a frequency's own environmental wander is its noise; gauges use their short-term noise
    share = 1.0 if ch.role is ChannelRole.FREQUENCY else 0.25
    noise = max(_robust_std(hp), share * spread, 1e-12)
    m0 = _edge_median(s, n0, head=True)
    m1 = _edge_median(s, n0, head=False)
    delta = m1 - m0
    z = delta / noise
    sign = 1.0 if delta >= 0 else -1.0
    prog = (s - m0) * sign
    half = np.flatnonzero(prog >= 0.5 * abs(delta))
    tenth = np.flatnonzero(prog >= 0.1 * abs(delta))
    idx = int(half[0]) if half.size else n // 2
    on = int(tenth[0]) if tenth.size else idx
    return ChannelChange(
        key=ch.key,
        role=ch.role,
        z=z,
        delta=delta,
        index=idx,
        onset_index=on,
        signal=s,
        raw=d,
        noise=noise,
        step_noise=noise if ch.role is ChannelRole.FREQUENCY else max(_robust_std(hp), 1e-12),
    )


def _daily(x: FloatArray, t: FloatArray, agg: str) -> FloatArray:
    """Daily ``sum`` or ``mean`` of an hourly series."""
    day = np.floor((t - t[0]) / 24.0).astype(int)
    out = np.full(day.max() + 1, np.nan)
    for k in range(out.size):
        v = x[day == k]
        v = v[np.isfinite(v)]
        if v.size:
            out[k] = float(np.sum(v)) if agg == "sum" else float(np.mean(v))
    return out


def _corr(a: FloatArray, b: FloatArray) -> float | None:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _spike_mask(d: FloatArray) -> NDArray[np.bool_]:
    """Samples more than 10 noise sigmas off their 5-sample moving median."""
    sig = max(_robust_std(d - _moving_median(d, 25)), 1e-12)
    return np.asarray(np.abs(d - _moving_median(d, 5)) > 10.0 * sig, dtype=np.bool_)


def _peer_findings(key: str, raws: Mapping[str, FloatArray]) -> NDArray[np.bool_]:
    """Samples (within one) where another gauge of the element moves: a spike or a transient
    beyond 10 of its noise sigmas. What several gauges show at once is the structure (a load, an
    impulse), not one gauge's health.

    Parameters
    ----------
    key : str
        This gauge.
    raws : Mapping[str, ndarray]
        Damage signal of every structural gauge of the element (channel units); gauges on
        another grid (a different length) are not compared.
    """
    n = raws[key].size
    shared = np.zeros(n, dtype=np.bool_)
    for other, d in raws.items():
        if other == key or d.size != n:
            continue
        hp = d - _moving_median(d, 25)
        sig = max(_robust_std(hp), 1e-12)
        with np.errstate(invalid="ignore"):
            m = _spike_mask(d) | (np.abs(hp) > 10.0 * sig)
        shared |= m
        shared[1:] |= m[:-1]  # within one sample, no wrap-around at the ends
        shared[:-1] |= m[1:]
    return shared


def _noise_change(hp: FloatArray) -> tuple[int, float]:
    """Samples per half and the ratio of the second half's noise level to the first's.

    Parameters
    ----------
    hp : ndarray
        High-passed damage signal, present samples only (channel unit).
    """
    half = hp.size // 2
    s0 = max(_robust_std(hp[:half]), 1e-12)
    s1 = max(_robust_std(hp[half:]), 1e-12)
    return half, s1 / s0


def _fault_checks(
    ch: ChannelData,
    d: FloatArray,
    shared: NDArray[np.bool_] | None = None,
    peer_ratios: tuple[float, ...] = (),
) -> list[Evidence]:
    """Sensor-health checks of one gauge (missing data, stuck value, spikes, noise burst).

    A spike, or a transient, that another gauge of the element shows at the same samples is
    the structure's response (a load, an impulse) and no finding: those samples are left out.

    Parameters
    ----------
    ch : ChannelData
    d : ndarray
        Its damage signal (channel unit).
    shared : ndarray of bool, optional
        Samples where another gauge moves (:func:`_peer_findings`).
    peer_ratios : tuple of float
        Other gauges' noise-level ratios (second half over first, :func:`_noise_change`).
    """
    out: list[Evidence] = []
    if shared is None or shared.size != d.size:
        shared = np.zeros(d.size, dtype=np.bool_)
    n = d.size
    if n < 48:
        return out
    due = ch.values if ch.judged_until is None else ch.values[: max(ch.judged_until, 0)]
    miss = float(np.mean(~np.isfinite(due))) if due.size else 0.0
    if miss > 0.2:
        out.append(
            Evidence(
                kind=EvidenceKind.READING_WINDOW,
                ref=_window(ch, 0, n - 1),
                test=N_("missing data"),
                phrase=phrase("{share:.0%} of samples missing", share=miss),
                value=miss,
            )
        )
    v = ch.values
    dv = np.diff(v)
    stuck = np.isfinite(dv) & (dv == 0.0)
    run = best = 0
    end = 0
    for i, flag in enumerate(stuck):
        run = run + 1 if flag else 0
        if run > best:
            best, end = run, i
    if best >= 12:
        out.append(
            Evidence(
                kind=EvidenceKind.READING_WINDOW,
                ref=_window(ch, end - best, end + 1),
                test=N_("stuck value"),
                phrase=phrase("value unchanged for {count} samples", count=best + 1),
                value=float(best + 1),
            )
        )
    hp = d - _moving_median(d, 25)
    # a spike that a co-located gauge shows at the same sample is the structure's (a load
    # placed or an impulse), not this gauge's
    spikes = np.flatnonzero(_spike_mask(d) & ~shared)
    if 3 <= spikes.size < 0.02 * n:
        out.append(
            Evidence(
                kind=EvidenceKind.READING_WINDOW,
                ref=_window(ch, int(spikes[0]), int(spikes[-1])),
                test=N_("spikes"),
                phrase=phrase(
                    "{count} isolated spikes beyond {limit} noise sigmas",
                    count=int(spikes.size),
                    limit=10,
                ),
                value=float(spikes.size),
            )
        )
    # halves of the samples present: a gap (data not yet sent, a dropout) is no noise level
    half, ratio = _noise_change(hp[np.isfinite(hp) & ~shared])
    # the ratio must exceed 3-fold and its own sampling error (MAD scale of ``half`` samples per
    # half: var(log s) ~ 1.36 / half, x AR_INFLATION for autocorrelated noise) by MIN_BURST_SIGMAS;
    # a noise-level change that another gauge shows the same way (at least half as large on a
    # log scale) is a change of excitation, not of this gauge
    se = AR_INFLATION * float(np.sqrt(2.0 * 1.36 / max(half, 1)))
    if (
        half >= 24
        and abs(np.log(ratio)) > max(np.log(3.0), MIN_BURST_SIGMAS * se)
        and not any(
            np.sign(np.log(r)) == np.sign(np.log(ratio)) and abs(np.log(r)) > 0.5 * np.log(3.0)
            for r in peer_ratios
        )
    ):
        out.append(
            Evidence(
                kind=EvidenceKind.READING_WINDOW,
                ref=_window(ch, 0, n - 1),
                test=N_("noise burst"),
                phrase=phrase(
                    "noise level changed {ratio:.1f}-fold between halves",
                    ratio=max(ratio, 1.0 / ratio),
                ),
                value=max(ratio, 1.0 / ratio),
            )
        )
    return out


def compute_features(obs: Observations) -> dict[str, Feature]:
    """Run the signal evidence tests on the observations.

    Returns
    -------
    dict
        Feature name -> :class:`Feature`. Names: ``residual_change``, ``corroboration``,
        ``fault_signature``, ``abrupt``, ``decelerating``, ``load_at_change``,
        ``accel_at_change``, ``settlement_change``, ``rain_modulation``,
        ``freeze_modulation``, ``traffic_modulation``, ``moisture_rain_gain``,
        ``modal_drop``, ``applied_load``.
    """
    feats: dict[str, Feature] = {}
    structural = [
        c for c in obs.channels if c.role in (ChannelRole.RESPONSE, ChannelRole.SETTLEMENT)
    ]
    changes = {c.key: _change(c, obs) for c in structural}
    by_key = {c.key: c for c in obs.channels}
    freq = [c for c in obs.channels if c.role is ChannelRole.FREQUENCY]
    fchanges = {c.key: _change(c, obs) for c in freq}

    # sensor health
    fault_ev: list[Evidence] = []
    raws = {c.key: changes[c.key].raw for c in structural}
    shared = {k: _peer_findings(k, raws) for k in raws}
    ratios = {}
    for k, d in raws.items():
        hp = d - _moving_median(d, 25)
        half, r = _noise_change(hp[np.isfinite(hp) & ~shared[k]])
        if half >= 24:
            ratios[k] = r
    for c in structural:
        peers = tuple(r for k, r in ratios.items() if k != c.key)
        fault_ev.extend(_fault_checks(c, raws[c.key], shared[c.key], peers))
    feats["fault_signature"] = Feature(
        value=1.0 if fault_ev else 0.0,
        evidence=tuple(fault_ev)
        or (
            Evidence(
                kind=EvidenceKind.READING_WINDOW,
                ref=f"element:{obs.context.element_id}",
                test=N_("sensor health"),
                phrase=phrase("no spikes, stuck values, gaps or noise bursts"),
                value=0.0,
            ),
        ),
    )

    # the lasting change of the response channels
    resp = [changes[c.key] for c in structural if c.role is ChannelRole.RESPONSE]
    primary = max(resp, key=lambda ch: abs(ch.z), default=None)
    if primary is not None:
        pch = by_key[primary.key]
        n = primary.signal.size
        feats["residual_change"] = Feature(
            value=_sigmoid((abs(primary.z) - Z_CHANGE) / 1.5),
            evidence=(
                Evidence(
                    kind=EvidenceKind.READING_WINDOW,
                    ref=_window(pch, primary.onset_index, n - 1),
                    test=N_("lasting change after driver compensation"),
                    phrase=phrase(
                        "{channel} changed by {delta:+.4g} {unit} ({z:+.1f} noise sigmas) "
                        "after removing temperature and traffic",
                        channel=pch.key,
                        delta=primary.delta,
                        unit=pch.unit,
                        z=primary.z,
                    ),
                    value=primary.z,
                    unit="",  # value: the change in noise sigmas
                ),
            ),
        )
    settle = [changes[c.key] for c in structural if c.role is ChannelRole.SETTLEMENT]
    if settle:
        sc = max(settle, key=lambda ch: abs(ch.z))
        feats["settlement_change"] = Feature(
            value=_sigmoid((abs(sc.z) - Z_CHANGE) / 1.5),
            evidence=(
                Evidence(
                    kind=EvidenceKind.READING_WINDOW,
                    ref=_window(by_key[sc.key], sc.onset_index, sc.signal.size - 1),
                    test=N_("support movement"),
                    phrase=phrase(
                        "{channel} moved {delta:+.4g} {unit} ({z:+.1f} sigmas)",
                        channel=sc.key,
                        delta=sc.delta,
                        unit=by_key[sc.key].unit,
                        z=sc.z,
                    ),
                    value=sc.z,
                    unit="",  # value: the change in noise sigmas
                ),
            ),
        )
    load = _applied_load(settle, by_key)
    if load is not None:
        feats["applied_load"] = load
    modal: list[tuple[float, Evidence]] = []
    for fc in fchanges.values():
        fch = by_key[fc.key]
        base = float(np.nanmedian(fch.values[: max(int(0.15 * fch.values.size), 1)]))
        rel = fc.delta / base if base else 0.0
        modal.append(
            (
                _sigmoid(-fc.z - Z_MODAL),
                Evidence(
                    kind=EvidenceKind.MODAL_SHIFT,
                    ref=_window(fch, fc.onset_index, fch.values.size - 1),
                    test=N_("modal stiffness loss"),
                    phrase=phrase(
                        "{channel} shifted {shift:+.2%} after temperature compensation "
                        "({z:+.1f} sigmas)",
                        channel=fch.key,
                        shift=rel,
                        z=fc.z,
                    ),
                    value=rel,
                ),
            )
        )
    if modal:
        modal.sort(key=lambda m: -m[0])
        feats["modal_drop"] = Feature(value=modal[0][0], evidence=tuple(e for _, e in modal))
    # which changes are significant, and do other channels confirm the primary one?
    sig = {k: c for k, c in {**changes, **fchanges}.items() if abs(c.z) >= Z_CONFIRM}
    lead = max(
        (c for c in changes.values() if abs(c.z) >= Z_CHANGE),
        key=lambda c: (c.role is ChannelRole.RESPONSE, abs(c.z)),
        default=None,
    )
    if lead is not None:
        t_lead = by_key[lead.key].times_h[lead.index]
        confirm = [
            cc for k, cc in sig.items() if k != lead.key and _same_change(lead, cc, by_key, t_lead)
        ] + [
            cc
            for k, cc in changes.items()
            if k not in sig and abs(cc.z) >= Z_FOLLOW and _follows(lead, cc)
        ]
        feats["corroboration"] = Feature(
            value=1.0 if confirm else _unconfirmed(lead.z),
            evidence=tuple(
                Evidence(
                    kind=EvidenceKind.READING_WINDOW,
                    ref=_window(by_key[cc.key], cc.onset_index, cc.signal.size - 1),
                    test=N_("co-located change"),
                    phrase=phrase(
                        "{channel} changed {z:+.1f} sigmas at about the same time",
                        channel=cc.key,
                        z=cc.z,
                    ),
                    value=cc.z,
                )
                for cc in confirm
            )
            or (
                Evidence(
                    kind=EvidenceKind.READING_WINDOW,
                    ref=_window(by_key[lead.key], lead.onset_index, lead.signal.size - 1),
                    test=N_("co-located change"),
                    phrase=phrase(
                        "no other channel at the element confirms the change of {channel}",
                        channel=lead.key,
                    ),
                    value=_unconfirmed(lead.z),
                ),
            ),
        )
        _shape_features(feats, lead, by_key[lead.key], obs)
    _moisture_feature(feats, obs)
    return feats


def _follows(lead: ChannelChange, other: ChannelChange) -> bool:
    """Whether ``other``, a change too small to confirm the lead's by its size alone, follows
    the lead's course since the lead's onset: daily means of both damage signals correlated at
    ``FOLLOW_CORR`` or more (and the same sign as the changes), on at least 7 days.

    Daily means leave out what a day's temperature cycle and traffic leave in the damage
    signal, so the correlation reads the slow course only: a slow structural change that a
    less sensitive co-located gauge shows at 2 of its noise sigmas, following the same course,
    confirms it; a drifting gauge's neighbour stays flat and does not.

    Parameters
    ----------
    lead, other : ChannelChange
        Changes on one grid (channels of different lengths never follow).
    """
    a, b = lead.raw, other.raw
    if a.size != b.size or a.size < 48:
        return False
    on = lead.onset_index - lead.onset_index % 24
    n_days = (a.size - on) // 24
    if n_days < 7:
        return False
    seg = slice(on, on + 24 * n_days)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        da = np.nanmean(a[seg].reshape(n_days, 24), axis=1)
        db = np.nanmean(b[seg].reshape(n_days, 24), axis=1)
    ok = np.isfinite(da) & np.isfinite(db)
    if ok.sum() < 7 or np.std(da[ok]) == 0 or np.std(db[ok]) == 0:
        return False
    c = float(np.corrcoef(da[ok], db[ok])[0, 1]) * float(np.sign(lead.delta * other.delta))
    return c >= FOLLOW_CORR


def _unconfirmed(z: float) -> float:
    """Corroboration when no other channel confirms a change of ``z`` noise sigmas.

    The absence of a confirmation is evidence against a structural change only as far as a
    co-located gauge would have shown it: one that sees ``MIN_SHARE`` of the change (gauges on
    one element across one crack system see comparable openings; a reasoned round number, not
    fitted) reaches ``Z_CONFIRM`` with probability ``power = Phi(MIN_SHARE |z| - Z_CONFIRM)``.
    The value falls from the uninformed 0.5 as that power rises: a slow change that has just
    become significant on its most sensitive gauge is not yet a sensor fault (0.35 at 5 sigmas),
    a step of 10 sigmas that no other gauge shows is (0.01).

    Parameters
    ----------
    z : float
        The lead channel's change in its noise sigmas (signed).

    Returns
    -------
    float
        In [0, 0.5].
    """
    power = float(ndtr(MIN_SHARE * abs(z) - Z_CONFIRM))
    return 0.5 * (1.0 - power)


def _applied_load(settle: list[ChannelChange], by_key: Mapping[str, ChannelData]) -> Feature | None:
    """Whether the support channels' change is an applied load rather than a support movement.

    A load on the structure moves every support channel the same way, in about the same
    proportion each time it is applied, and goes away; a support movement redistributes the
    reactions in a new proportion and stays. The test looks for an earlier excursion of the
    support channels with the sign of the present change on every channel, within 45° of its
    direction (cosine >= ``LOAD_COSINE``) and at least ``LOAD_SIZE`` of its size, that came
    back to within a quarter of its own size from the baseline: the element has carried such
    a load before and shed it (the present change may be what is left of it).

    Parameters
    ----------
    settle : list of ChannelChange
        The support channels' changes (support reactions in kN, settlements in mm, tilts).
    by_key : Mapping[str, ChannelData]

    Returns
    -------
    Feature or None
        1.0 when such an excursion exists, else 0.0; None with fewer than two support
        channels on one grid (a proportion needs two) or no significant change.
    """
    n = settle[0].signal.size if settle else 0
    if len(settle) < 2 or any(c.signal.size != n for c in settle):
        return None
    if max(abs(c.delta) / c.step_noise for c in settle) < Z_CHANGE or n < 24:
        return None
    delta = np.array([c.delta for c in settle])
    size = float(np.linalg.norm(delta))
    if size == 0.0:
        return None
    sig = np.column_stack([c.signal for c in settle])
    u = delta / size
    proj = np.nan_to_num(sig @ u, nan=0.0)
    # lowest projection after each sample: did an excursion there come back?
    later_min = np.minimum.accumulate(proj[::-1])[::-1]
    later_min = np.append(later_min[1:], np.inf)
    back = (proj >= LOAD_SIZE * size) & (later_min <= 0.25 * proj)
    ratio = cos = 0.0
    j = 0
    if back.any():
        j = int(np.flatnonzero(back)[np.argmax(proj[back])])
        past = np.nan_to_num(sig[j])
        norm = float(np.linalg.norm(past))
        ratio = float(proj[j]) / size
        cos = float(past @ u) / norm if norm > 0 else 0.0
        same_sign = bool(np.all(np.sign(past) == np.sign(delta)))
        cos = cos if same_sign else 0.0
    value = 1.0 if ratio >= LOAD_SIZE and cos >= LOAD_COSINE else 0.0
    ch = by_key[settle[0].key]
    return Feature(
        value=value,
        evidence=(
            Evidence(
                kind=EvidenceKind.READING_WINDOW,
                ref=_window(ch, max(j - 6, 0), min(j + 6, n - 1)),
                test=N_("applied load"),
                phrase=phrase(
                    "an earlier excursion of the support channels {size:.0%} of the present "
                    "change, in the same proportion (cosine {cos:.2f}), came back",
                    size=ratio,
                    cos=cos,
                )
                if value
                else phrase(
                    "no earlier excursion of the support channels in the proportion of the "
                    "present change came back"
                ),
                value=value,
            ),
        ),
    )


def _steps_at(other: ChannelChange, ch: ChannelData, t: float) -> bool:
    """Whether ``other`` steps by ``Z_CHANGE`` of its short-term noise sigmas (``step_noise``)
    within 6 samples of time ``t``.

    A support reaction's noise level over the record is inflated by the load steps of a load
    test in its first 30 %; a step at the lead's change is judged against the reaction's
    short-term noise (Munich: the reactions fell 3.6 kN, 2.8 of the inflated sigmas, when a
    test load moved and the girder strain changed).
    """
    s = other.signal
    i = int(np.clip(np.searchsorted(ch.times_h, t), 0, s.size - 1))
    a, b = s[max(i - 6, 0)], s[min(i + 6, s.size - 1)]
    return bool(np.isfinite(a) and np.isfinite(b) and abs(b - a) >= Z_CHANGE * other.step_noise)


def _same_change(
    lead: ChannelChange, other: ChannelChange, by_key: Mapping[str, ChannelData], t_lead: float
) -> bool:
    """Whether ``other`` changed with ``lead``: at about the same time (abrupt changes) or
    following the same course (gradual changes, correlation of the smoothed signals)."""
    t_other = by_key[other.key].times_h[other.index]
    if abs(t_other - t_lead) <= 96.0:
        return True
    if _steps_at(other, by_key[other.key], t_lead):  # a step at the lead's change
        return True
    a, b = by_key[lead.key], by_key[other.key]
    if a.times_h.size != b.times_h.size:
        return False
    on = min(lead.onset_index, other.onset_index)
    c = _corr(lead.signal[on:], other.signal[on:])
    return c is not None and abs(c) >= 0.8


def _near_max(x: FloatArray, t: FloatArray, t0: float, half_h: float) -> float | None:
    near = np.abs(t - t0) <= half_h
    far = ~near & np.isfinite(x)
    if not near.any() or far.sum() < 10:
        return None
    ref = float(np.quantile(x[far], 0.995))
    return float(np.nanmax(x[near])) / ref if ref > 0 else None


def _shape_features(
    feats: dict[str, Feature], lead: ChannelChange, ch: ChannelData, obs: Observations
) -> None:
    s = lead.signal
    n = s.size
    t = ch.times_h
    total = abs(lead.delta)
    i = lead.index
    a = float(abs(s[min(i + 6, n - 1)] - s[max(i - 6, 0)])) / total if total > 0 else 0.0
    abrupt = float(np.clip(a, 0.0, 1.0))
    ref = _window(ch, max(i - 6, 0), min(i + 6, n - 1))
    feats["abrupt"] = Feature(
        value=abrupt,
        evidence=(
            Evidence(
                kind=EvidenceKind.READING_WINDOW,
                ref=ref,
                test=N_("abrupt change"),
                phrase=phrase(
                    "{share:.0%} of the change happened within {hours} h", share=abrupt, hours=12
                ),
                value=abrupt,
            ),
        ),
    )
    t_change = float(t[i])
    traffic = obs.drivers.get("traffic")
    if traffic is not None:
        r = _near_max(traffic, obs.times_h, t_change, 3.0)
        if r is not None:
            feats["load_at_change"] = Feature(
                value=float(np.clip((r - 1.1) / 0.6, 0.0, 1.0)),
                evidence=(
                    Evidence(
                        kind=EvidenceKind.READING_WINDOW,
                        ref=f"driver:traffic[{t_change - 3:.0f}h/{t_change + 3:.0f}h]",
                        test=N_("load at the change"),
                        phrase=phrase(
                            "peak load {ratio:.2f}x the 99.5th percentile elsewhere", ratio=r
                        ),
                        value=r,
                    ),
                ),
            )
    acc = [c for c in obs.channels if c.role is ChannelRole.ACCELERATION]
    if acc:
        r = _near_max(acc[0].values, acc[0].times_h, t_change, 3.0)
        if r is not None:
            feats["accel_at_change"] = Feature(
                value=float(np.clip((r - 1.2) / 1.0, 0.0, 1.0)),
                evidence=(
                    Evidence(
                        kind=EvidenceKind.READING_WINDOW,
                        ref=_window(acc[0], max(i - 3, 0), min(i + 3, n - 1)),
                        test=N_("impulse at the change"),
                        phrase=phrase(
                            "peak acceleration {ratio:.2f}x the 99.5th percentile elsewhere",
                            ratio=r,
                        ),
                        value=r,
                    ),
                ),
            )
    if abrupt < 0.5:
        on = lead.onset_index
        seg = s[on:]
        if seg.size >= 72:
            k = seg.size // 3
            x = np.arange(seg.size, dtype=np.float64)
            s1 = np.polyfit(x[:k], seg[:k], 1)[0]
            s3 = np.polyfit(x[-k:], seg[-k:], 1)[0]
            ratio = s3 / s1 if s1 * np.sign(lead.delta) > 0 else 1.0
            dec = float(np.clip(1.0 - ratio, 0.0, 1.0))
            feats["decelerating"] = Feature(
                value=dec,
                evidence=(
                    Evidence(
                        kind=EvidenceKind.READING_WINDOW,
                        ref=_window(ch, on, n - 1),
                        test=N_("decelerating growth"),
                        phrase=phrase("late growth rate {ratio:.2f}x the early rate", ratio=ratio),
                        value=ratio,
                    ),
                ),
            )
        if obs.times_h.size == t.size:
            _modulation_features(feats, s, ch, obs, on)


def _modulation_features(
    feats: dict[str, Feature], s: FloatArray, ch: ChannelData, obs: Observations, on: int
) -> None:
    t = ch.times_h
    daily = _daily(s, t, "mean")
    inc = np.diff(daily)
    first_day = int((t[on] - t[0]) // 24)
    inc[: max(first_day, 0)] = np.nan
    inc = inc * np.sign(np.nansum(inc)) if np.isfinite(inc).any() else inc
    drivers: Mapping[str, FloatArray] = obs.drivers
    tests: list[tuple[str, FloatArray | None, str]] = []
    if "rain" in drivers:
        r = _daily(drivers["rain"], obs.times_h, "sum")
        wet = r[1:] + 0.5 * r[:-1]
        tests.append(("rain_modulation", wet, N_("daily rain")))
    if "temperature" in drivers:
        tmin = _daily(drivers["temperature"], obs.times_h, "mean")
        tt = drivers["temperature"]
        day = np.floor((obs.times_h - obs.times_h[0]) / 24.0).astype(int)
        ft = np.array(
            [float(tt[day == k].min() < 0.0 < tt[day == k].max()) for k in range(tmin.size)]
        )
        tests.append(
            ("freeze_modulation", ft[1:] if ft.sum() >= 3 else None, N_("freeze-thaw days"))
        )
    if "traffic" in drivers:
        tr = _daily(drivers["traffic"], obs.times_h, "sum")
        tests.append(("traffic_modulation", tr[1:], N_("daily traffic")))
    for name, x, what in tests:
        if x is None:
            continue
        c = _corr(inc, x[: inc.size])
        if c is None:
            continue
        feats[name] = Feature(
            value=float(np.clip(1.5 * c, 0.0, 1.0)),
            evidence=(
                Evidence(
                    kind=EvidenceKind.READING_WINDOW,
                    ref=_window(ch, on, t.size - 1),
                    test_phrase=phrase("growth follows {driver!t}", driver=what),
                    phrase=phrase(
                        "correlation of daily growth with {driver!t}: {r:+.2f}", driver=what, r=c
                    ),
                    value=c,
                ),
            ),
        )


def _moisture_feature(feats: dict[str, Feature], obs: Observations) -> None:
    rain = obs.drivers.get("rain")
    moist = [c for c in obs.channels if c.role is ChannelRole.MOISTURE]
    if rain is None or not moist:
        return
    ch = moist[0]
    tau = 6.0
    kernel = np.exp(-np.arange(0, 48) / tau)
    wet = np.convolve(rain, kernel)[: rain.size]
    x = np.interp(ch.times_h, obs.times_h, wet)
    y = ch.values
    n = y.size
    k = int(0.4 * n)
    first, last = _rain_split(x, k)
    gains = []
    errors = []
    resid = []
    for sl in (first, last):
        ok = np.isfinite(y[sl])
        X = np.column_stack([np.ones(ok.sum()), x[sl][ok]])
        beta = _lstsq(X, y[sl][ok])
        r = y[sl][ok] - X @ beta
        gains.append(float(beta[1]))
        errors.append(_slope_error(X, r))
        resid.append(r)
    # A gain fitted on a segment without rain (a dry spell) is not known: judge the rise by
    # the gains' own uncertainty (residuals are autocorrelated: x AR_INFLATION) before using it.
    rise = (gains[1] - gains[0]) / (AR_INFLATION * float(np.hypot(errors[0], errors[1])) + 1e-12)
    if not np.isfinite(rise) or rise < MIN_GAIN_RISE_SIGMAS:
        return
    noise = max(_robust_std(np.concatenate(resid)), 1e-12)
    z = (gains[1] - gains[0]) * float(np.std(x)) / noise
    feats["moisture_rain_gain"] = Feature(
        value=_sigmoid((z - 3.0) / 1.0),
        evidence=(
            Evidence(
                kind=EvidenceKind.READING_WINDOW,
                ref=_window(ch, last.start or 0, n - 1),
                test=N_("wetness follows rain"),
                phrase=phrase(
                    "{channel} response to rain rose from {before:.3g} to {after:.3g} {unit}/mm "
                    "({z:+.1f} sigmas)",
                    channel=ch.key,
                    before=gains[0],
                    after=gains[1],
                    unit=ch.unit,
                    z=z,
                ),
                value=z,
            ),
        ),
    )


def _rain_split(wet: FloatArray, k: int) -> tuple[slice, slice]:
    """The segments whose rain responses are compared.

    The first and last ``k`` samples (40 % of the window each), unless no rain wetted the first
    (``wet``: rain through the wetting kernel): a gain fitted on a dry spell is unknown, so the
    reference becomes the first rain instead, the samples that received the first 40 % of the
    wetting, against those that received the last 40 %. With too little rain to split that way
    (a segment under ``max(k // 4, 24)`` samples) the time split stands.

    Parameters
    ----------
    wet : ndarray
        Wetting driver on the channel's samples (mm, rain convolved with the wetting kernel).
    k : int
        Samples in each segment of the time split (40 % of the window).
    """
    n = wet.size
    time_split = (slice(0, k), slice(n - k, n))
    w = np.clip(np.nan_to_num(wet), 0.0, None)
    total = float(w.sum())
    if total <= 0.0 or k < 1:
        return time_split
    if float(w[:k].sum()) > 0.0:
        return time_split
    cum = np.cumsum(w) / total
    a = int(np.searchsorted(cum, 0.4)) + 1
    b = int(np.searchsorted(cum, 0.6))
    if a < max(k // 4, 24) or n - b < max(k // 4, 24):
        return time_split
    return slice(0, a), slice(b, n)
