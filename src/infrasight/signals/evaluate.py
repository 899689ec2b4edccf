"""Vectorised, incremental evaluation of alarm rules over reading batches.

The platform calls :func:`evaluate_rule` for every stored batch with the rule, the new readings of
the rule's channels (numpy arrays of times in seconds and values) and the :class:`RuleState`
returned by the previous call (``None`` the first time). It receives the grade of the rule at every
reading time of the batch, the :class:`LevelTransition` s and :class:`NoDataEvent` s to feed into
the alarm lifecycle (:mod:`infrasight.signals.lifecycle`), and the new state to store (JSON via
:meth:`RuleState.to_dict`). Evaluating a series in one call or in any split into batches gives the
same grades and transitions.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError
from infrasight.signals.rules import Rule
from infrasight.signals.series import validate_series

__all__ = [
    "ChannelState",
    "LevelTransition",
    "NoDataEvent",
    "RuleEvaluation",
    "RuleState",
    "evaluate_rule",
]

FloatArray = NDArray[np.float64]


@dataclass(slots=True, kw_only=True)
class ChannelState:
    """Per-channel memory of a rule between batches (JSON-serialisable via ``RuleState``)."""

    last_time: float | None = None
    last_value: float | None = None
    baseline: float | None = None
    grade: int = 0
    limit_active: list[list[bool]] = field(default_factory=list)
    tail_times: list[float] = field(default_factory=list)
    tail_values: list[float] = field(default_factory=list)
    no_data: bool = False


@dataclass(slots=True, kw_only=True)
class RuleState:
    """Memory of one rule between batches.

    Attributes
    ----------
    rule_id : str
        Rule the state belongs to (checked on use).
    level : int
        Confirmed grade after the last reading (0 = normal).
    run_count : list of int
        Per level, consecutive combined readings at or above it.
    run_start : list of float or None
        Per level, start time of the current exceedance run in seconds.
    last_time : float or None
        Time of the last combined reading.
    channels : dict
        Per-channel :class:`ChannelState`.
    """

    rule_id: str
    level: int = 0
    run_count: list[int] = field(default_factory=list)
    run_start: list[float | None] = field(default_factory=list)
    last_time: float | None = None
    channels: dict[str, ChannelState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible form (inverse of :meth:`from_dict`)."""
        return {
            "rule_id": self.rule_id,
            "level": self.level,
            "run_count": list(self.run_count),
            "run_start": list(self.run_start),
            "last_time": self.last_time,
            "channels": {
                k: {
                    "last_time": c.last_time,
                    "last_value": c.last_value,
                    "baseline": c.baseline,
                    "grade": c.grade,
                    "limit_active": [list(x) for x in c.limit_active],
                    "tail_times": list(c.tail_times),
                    "tail_values": list(c.tail_values),
                    "no_data": c.no_data,
                }
                for k, c in self.channels.items()
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuleState:
        """Rebuild a state stored with :meth:`to_dict`."""
        try:
            return cls(
                rule_id=str(d["rule_id"]),
                level=int(d["level"]),
                run_count=[int(x) for x in d["run_count"]],
                run_start=[None if x is None else float(x) for x in d["run_start"]],
                last_time=None if d["last_time"] is None else float(d["last_time"]),
                channels={
                    str(k): ChannelState(
                        last_time=c["last_time"],
                        last_value=c.get("last_value"),
                        baseline=c["baseline"],
                        grade=int(c["grade"]),
                        limit_active=[[bool(b) for b in x] for x in c["limit_active"]],
                        tail_times=[float(x) for x in c["tail_times"]],
                        tail_values=[float(x) for x in c["tail_values"]],
                        no_data=bool(c["no_data"]),
                    )
                    for k, c in d["channels"].items()
                },
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputDataError(f"rule state is malformed: {err!r}") from err


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelTransition:
    """The confirmed grade of a rule changed at ``time``.

    ``to_level`` 0 means back to normal. ``values`` holds the latest reading of each channel.
    """

    rule_id: str
    time: float
    from_level: int
    to_level: int
    level_name: str
    severity: int
    values: dict[str, float]

    def __post_init__(self) -> None:
        if self.from_level == self.to_level:
            raise ValueError("a transition must change the level")


@dataclass(frozen=True, slots=True, kw_only=True)
class NoDataEvent:
    """A channel went quiet (``resumed`` False) or reported again (``resumed`` True)."""

    rule_id: str
    channel: str
    time: float
    resumed: bool
    silent_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleEvaluation:
    """Result of :func:`evaluate_rule` on one batch.

    Attributes
    ----------
    times : ndarray, shape (m,)
        Union of the batch's reading times (s).
    levels : ndarray of int8, shape (m,)
        Confirmed grade at each time (0 = normal, k = ``rule.levels[k-1]``).
    transitions : tuple of LevelTransition
    no_data : tuple of NoDataEvent
    state : RuleState
        To pass to the next call.
    """

    rule_id: str
    times: FloatArray
    levels: NDArray[np.int8]
    transitions: tuple[LevelTransition, ...]
    no_data: tuple[NoDataEvent, ...]
    state: RuleState

    def __post_init__(self) -> None:
        if self.times.shape != self.levels.shape:
            raise ValueError("times and levels must have the same shape")


def _ffill_bool(
    set_: NDArray[np.bool_], reset: NDArray[np.bool_], initial: bool
) -> NDArray[np.bool_]:
    """Latch: True after a ``set``, False after a ``reset``, else the previous state."""
    n = set_.size
    idx = np.where(set_ | reset, np.arange(n), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.empty(n, dtype=bool)
    seen = idx >= 0
    out[seen] = set_[idx[seen]]
    out[~seen] = initial
    return out


def _rate(
    t_all: FloatArray, v_all: FloatArray, start: int, window: float, unit: float
) -> FloatArray:
    t = t_all[start:]
    j = np.searchsorted(t_all, t - window, side="right") - 1
    ok = j >= 0
    out = np.full(t.size, np.nan)
    jj = j[ok]
    out[ok] = (v_all[start:][ok] - v_all[jj]) / (t[ok] - t_all[jj]) * unit
    return out


def _channel_grades(rule: Rule, t: FloatArray, v: FloatArray, cs: ChannelState) -> NDArray[np.int8]:
    n = t.size
    grade = np.zeros(n, dtype=np.int8)
    finite = np.isfinite(v)
    if cs.baseline is None:
        if rule.baseline is not None:
            cs.baseline = float(rule.baseline)
        elif finite.any():
            cs.baseline = float(v[finite][0])
    needs_rate = any(lim.quantity == "rate" for lv in rule.levels for lim in lv.limits)
    rate: FloatArray | None = None
    if needs_rate:
        tt = np.concatenate([np.asarray(cs.tail_times), t])
        vv = np.concatenate([np.asarray(cs.tail_values), v])
        keep = np.isfinite(vv)
        tt_k, vv_k = tt[keep], vv[keep]
        rate = np.full(n, np.nan)
        k_batch = keep[len(cs.tail_times) :]
        n_tail_k = int(keep[: len(cs.tail_times)].sum())
        rate[k_batch] = _rate(tt_k, vv_k, n_tail_k, rule.rate_window_s, rule.rate_unit_s)
        cut = tt_k[-1] - rule.rate_window_s if tt_k.size else 0.0
        first = max(int(np.searchsorted(tt_k, cut, side="right")) - 1, 0)
        cs.tail_times = tt_k[first:].tolist()
        cs.tail_values = vv_k[first:].tolist()
    if not cs.limit_active:
        cs.limit_active = [[False] * len(lv.limits) for lv in rule.levels]
    base = cs.baseline if cs.baseline is not None else 0.0
    for k, lv in enumerate(rule.levels, start=1):
        exceeded = np.zeros(n, dtype=bool)
        for j, lim in enumerate(lv.limits):
            if lim.quantity == "value":
                q = v
            elif lim.quantity == "change":
                q = v - base
            else:
                assert rate is not None
                q = rate
            lo, hi = lim.resolved(rule.control_value)
            with np.errstate(invalid="ignore"):
                set_ = (q > hi) | (q < lo)
                reset = (q <= hi - lim.hysteresis) & (q >= lo + lim.hysteresis)
            act = _ffill_bool(set_, reset, cs.limit_active[k - 1][j])
            if n:
                cs.limit_active[k - 1][j] = bool(act[-1])
            exceeded |= act
        grade[exceeded] = k
    return grade


def evaluate_rule(
    rule: Rule,
    batch: Mapping[str, tuple[ArrayLike, ArrayLike]],
    state: RuleState | None = None,
    *,
    now: float | None = None,
) -> RuleEvaluation:
    """Evaluate ``rule`` on a new batch of readings.

    Parameters
    ----------
    rule : Rule
        The rule definition.
    batch : mapping of channel key -> (times, values)
        New readings per channel: times in seconds (strictly increasing within a channel and later
        than the channel's previous batch), values in the channel's unit (NaN = missing reading,
        it neither sets nor clears a limit). Channels without new readings may be omitted.
    state : RuleState, optional
        State returned by the previous call; ``None`` starts fresh.
    now : float, optional
        Evaluation time (s) for the no-data check; defaults to the latest reading time.

    Returns
    -------
    RuleEvaluation
    """
    unknown = set(batch) - set(rule.channels)
    if unknown:
        raise InputDataError(f"rule {rule.id!r} does not read channel(s) {sorted(unknown)}")
    if state is None:
        state = RuleState(rule_id=rule.id)
    elif state.rule_id != rule.id:
        raise InputDataError(f"state belongs to rule {state.rule_id!r}, not {rule.id!r}")
    else:
        state = copy.deepcopy(state)
    n_lv = len(rule.levels)
    shape = [len(lv.limits) for lv in rule.levels]
    if len(state.run_count) != n_lv:
        # fresh state, or the rule's levels were redefined: restart the persistence counters
        state.run_count = [0] * n_lv
        state.run_start = [None] * n_lv
        state.level = min(state.level, n_lv)
    for cs in state.channels.values():
        if cs.limit_active and [len(x) for x in cs.limit_active] != shape:
            cs.limit_active = []  # limits redefined: their latches restart
            cs.grade = min(cs.grade, n_lv)
    per: dict[str, tuple[FloatArray, FloatArray, NDArray[np.int8]]] = {}
    nodata: list[NoDataEvent] = []
    for ch in rule.channels:
        cs = state.channels.setdefault(ch, ChannelState())
        if ch not in batch:
            continue
        t, v = validate_series(*batch[ch], name=f"{rule.id}/{ch}", min_points=0)
        if t.size == 0:
            continue
        if cs.last_time is not None and t[0] <= cs.last_time:
            raise InputDataError(
                f"{rule.id}/{ch}: batch starts at {t[0]!r}, not after the previous reading "
                f"{cs.last_time!r} (out-of-order or duplicated batch)"
            )
        if rule.no_data_s is not None:
            prev = np.concatenate([[cs.last_time], t[:-1]]) if cs.last_time is not None else t[:-1]
            nxt = t if cs.last_time is not None else t[1:]
            gaps = np.flatnonzero(nxt - prev > rule.no_data_s)
            for gi in gaps:
                if not cs.no_data:
                    nodata.append(
                        NoDataEvent(
                            rule_id=rule.id,
                            channel=ch,
                            time=float(prev[gi] + rule.no_data_s),
                            resumed=False,
                            silent_s=float(rule.no_data_s),
                        )
                    )
                nodata.append(
                    NoDataEvent(
                        rule_id=rule.id,
                        channel=ch,
                        time=float(nxt[gi]),
                        resumed=True,
                        silent_s=float(nxt[gi] - prev[gi]),
                    )
                )
                cs.no_data = False
            if cs.no_data:
                nodata.append(
                    NoDataEvent(
                        rule_id=rule.id,
                        channel=ch,
                        time=float(t[0]),
                        resumed=True,
                        silent_s=float(t[0] - (cs.last_time or t[0])),
                    )
                )
                cs.no_data = False
        g = _channel_grades(rule, t, v, cs)
        per[ch] = (t, v, g)
    if rule.no_data_s is not None:
        ref_now = now
        if ref_now is None:
            times_seen = [per[c][0][-1] for c in per]
            times_seen += [c.last_time for c in state.channels.values() if c.last_time is not None]
            ref_now = max(times_seen) if times_seen else None
        if ref_now is not None:
            for ch in rule.channels:
                cs = state.channels[ch]
                last = per[ch][0][-1] if ch in per else cs.last_time
                if last is not None and not cs.no_data and ref_now - last > rule.no_data_s:
                    nodata.append(
                        NoDataEvent(
                            rule_id=rule.id,
                            channel=ch,
                            time=float(last + rule.no_data_s),
                            resumed=False,
                            silent_s=float(ref_now - last),
                        )
                    )
                    cs.no_data = True
    if not per:
        empty = np.zeros(0)
        return RuleEvaluation(
            rule_id=rule.id,
            times=empty,
            levels=np.zeros(0, dtype=np.int8),
            transitions=(),
            no_data=tuple(nodata),
            state=state,
        )
    if len(per) == 1 and len(rule.channels) == 1:
        u = next(iter(per.values()))[0]
    else:
        u = np.unique(np.concatenate([p[0] for p in per.values()]))
    comb: NDArray[np.int8] | None = None
    for ch in rule.channels:
        cs = state.channels[ch]
        if ch in per:
            t, _, g = per[ch]
            if t.size == u.size:
                gu = g
            else:
                j = np.searchsorted(t, u, side="right") - 1
                gu = np.where(j >= 0, g[np.maximum(j, 0)], np.int8(cs.grade)).astype(np.int8)
            cs.grade = int(g[-1])
        else:
            gu = np.full(u.size, cs.grade, dtype=np.int8)
        if comb is None:
            comb = gu
        elif rule.combine == "any":
            comb = np.maximum(comb, gu)
        else:
            comb = np.minimum(comb, gu)
    assert comb is not None
    m = u.size
    level = np.zeros(m, dtype=np.int8)
    ar = np.arange(m)
    for k in range(1, n_lv + 1):
        a = comb >= k
        if not a.any() and state.run_count[k - 1] == 0:
            continue
        last_false = np.where(~a, ar, -1)
        np.maximum.accumulate(last_false, out=last_false)
        carried = state.run_count[k - 1]
        c_start = state.run_start[k - 1]
        run_len = ar - last_false
        start_idx = np.minimum(last_false + 1, m - 1)
        start_t = u[start_idx]
        fresh = last_false < 0
        if carried > 0 and c_start is not None:
            run_len = np.where(fresh, run_len + carried, run_len)
            start_t = np.where(fresh, c_start, start_t)
        ok = a & (run_len >= rule.persistence_count) & (u - start_t >= rule.persistence_s)
        level[ok] = k
        if a[-1]:
            state.run_count[k - 1] = int(run_len[-1])
            state.run_start[k - 1] = float(start_t[-1])
        else:
            state.run_count[k - 1] = 0
            state.run_start[k - 1] = None
    prev_lv = np.concatenate([[state.level], level[:-1]]).astype(np.int8)
    changes = np.flatnonzero(level != prev_lv)
    transitions = []
    if changes.size:
        tc = u[changes]
        vals_at: dict[str, FloatArray] = {}
        for ch in rule.channels:
            prev_v = state.channels[ch].last_value
            before = np.nan if prev_v is None else prev_v
            if ch in per:
                t, v, _ = per[ch]
                # the latest finite reading at or before each transition
                fin = np.isfinite(v)
                tf, vf = t[fin], v[fin]
                jj = np.searchsorted(tf, tc, side="right") - 1
                vals_at[ch] = np.where(
                    jj >= 0, vf[np.maximum(jj, 0)] if vf.size else before, before
                )
            else:
                vals_at[ch] = np.full(tc.size, before)
        for n_c, i in enumerate(changes.tolist()):
            to = int(level[i])
            vals = {ch: float(a[n_c]) for ch, a in vals_at.items() if math.isfinite(a[n_c])}
            lv = rule.levels[to - 1] if to > 0 else None
            transitions.append(
                LevelTransition(
                    rule_id=rule.id,
                    time=float(u[i]),
                    from_level=int(prev_lv[i]),
                    to_level=to,
                    level_name=lv.name if lv else "normal",
                    severity=lv.severity if lv else 0,
                    values=vals,
                )
            )
    state.level = int(level[-1])
    state.last_time = float(u[-1])
    for ch, (t, v, _) in per.items():
        state.channels[ch].last_time = float(t[-1])
        fin = np.flatnonzero(np.isfinite(v))
        if fin.size:
            state.channels[ch].last_value = float(v[fin[-1]])
    return RuleEvaluation(
        rule_id=rule.id,
        times=u,
        levels=level,
        transitions=tuple(transitions),
        no_data=tuple(nodata),
        state=state,
    )
