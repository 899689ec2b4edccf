"""Evidence a hazard links to besides its cause's tests: alarms, anomaly windows, defects with
their measurements, and forecasts of the time to a limit (which also give the prediction).

Each collector reads what is stored for one element and returns :class:`Evidence` items with
stable refs (``alarm:ID``, ``anomaly:KEY[t0/t1]``, ``defect:ID#capture:N#bbox=...``,
``forecast:KEY@LEVEL``), so a later update finds the same items again and refreshes them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.phrases import N_, Phrase, PhraseParam, phrase, phrase_list
from infrasight.reasoning.evidence import Evidence, EvidenceKind
from infrasight.signals import SignalsError, fit_best_trend, time_to_limit
from infrasight.storage.models import AlarmRecord, AlarmRule, Channel, ChannelAnalytics, Defect
from infrasight.storage.readings import downsample

__all__ = [
    "ChannelLimit",
    "Forecast",
    "alarm_evidence",
    "anomaly_evidence",
    "channel_limits",
    "defect_evidence",
    "forecast_evidence",
    "iso_hour",
]

_log = logging.getLogger(__name__)

HOUR_US = 3_600_000_000
DAY_S = 86_400.0
HORIZONS_DAYS = (30, 90, 365)
#: Alarm states and the usual level names, translated in the evidence phrases (``{name!t}``).
WORDS = (
    N_("active"),
    N_("acknowledged"),
    N_("cleared"),
    N_("amber"),
    N_("red"),
    N_("yellow"),
    N_("action"),
    N_("fault"),
    N_("change"),
)
"""Horizons of the forecast's probabilities (days)."""


def iso_hour(us: int) -> str:
    """``2026-01-03T04:00Z`` for a time in µs since the epoch."""
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")


# -- alarms ---------------------------------------------------------------------------------------


def _alarm_channels(alarm: AlarmRecord, rules: dict[int, AlarmRule]) -> tuple[str, ...]:
    if alarm.category == "maintenance" and alarm.key.startswith("sensor-fault/"):
        return (alarm.key.removeprefix("sensor-fault/"),)
    rule = rules.get(alarm.rule_id) if alarm.rule_id is not None else None
    if rule is not None:
        return tuple(str(c) for c in rule.definition.get("channels", ()))
    return ()


def alarm_evidence(
    session: Session,
    organization_id: int,
    asset_id: int,
    channel_keys: Iterable[str],
    *,
    hazard_kind: str,
    since: datetime,
) -> list[Evidence]:
    """Alarms raised since ``since`` that concern the hazard.

    Rule alarms on one of ``channel_keys`` concern any hazard; a sensor-fault alarm
    (``maintenance``) concerns only a maintenance hazard, the asset's coherent-change alarm
    (``structural``) only a structural or durability one.
    """
    keys = set(channel_keys)
    alarms = session.scalars(
        select(AlarmRecord)
        .where(AlarmRecord.organization_id == organization_id, AlarmRecord.raised_at >= since)
        .order_by(AlarmRecord.id)
    ).all()
    rule_ids = {a.rule_id for a in alarms if a.rule_id is not None}
    rules = (
        {r.id: r for r in session.scalars(select(AlarmRule).where(AlarmRule.id.in_(rule_ids)))}
        if rule_ids
        else {}
    )
    out = []
    for a in alarms:
        if a.category == "structural":
            if hazard_kind not in ("structural", "durability") or a.key != (
                f"structural-change/asset-{asset_id}"
            ):
                continue
        elif a.category == "maintenance":
            if hazard_kind != "maintenance" or not keys.intersection(_alarm_channels(a, rules)):
                continue
        elif not keys.intersection(_alarm_channels(a, rules)):
            continue
        said = phrase(
            "{key} {level!t} ({status!t}) raised {raised!d}",
            key=a.key,
            level=a.level_name,
            status=a.status,
            raised=f"{a.raised_at:%Y-%m-%dT%H:%MZ}",
        )
        if a.note:  # the raiser's note: its phrase where the alarm keeps one
            told = Phrase.from_dict(a.note_message)
            said = phrase_list(said, told or phrase("{note}", note=a.note[:1800]))
        out.append(
            Evidence(
                kind=EvidenceKind.ALARM,
                ref=f"alarm:{a.id}",
                test_phrase=phrase("{category!t} alarm", category=a.category),
                phrase=said,
                value=float(a.level),
            )
        )
    return out


# -- anomaly windows ------------------------------------------------------------------------------


def anomaly_evidence(
    session: Session,
    channels: Sequence[Channel],
    start_us: int,
    hours: int,
    *,
    threshold: float = 0.9,
    join_gap_h: int = 6,
    max_windows: int = 3,
) -> list[Evidence]:
    """Windows where a channel's online anomaly score (``KEY.anomaly``) reached ``threshold``.

    Hours whose highest score is at least ``threshold`` form windows (gaps up to ``join_gap_h``
    hours joined); the ``max_windows`` strongest per channel are cited with their peak score.
    """
    if hours <= 0 or not channels:
        return []
    links = {
        a.channel_id: a.anomaly_channel_id
        for a in session.scalars(
            select(ChannelAnalytics).where(
                ChannelAnalytics.channel_id.in_([c.id for c in channels])
            )
        )
    }
    out = []
    for ch in channels:
        derived = links.get(ch.id)
        if derived is None:
            continue
        peak = np.zeros(hours)
        for b in downsample(session, derived, start_us, start_us + hours * HOUR_US, hours):
            i = (b.start_us - start_us) // HOUR_US
            if 0 <= i < hours:
                peak[i] = b.maximum
        hot = np.flatnonzero(peak >= threshold)
        if hot.size == 0:
            continue
        windows: list[list[int]] = [[int(hot[0]), int(hot[0])]]
        for i in hot[1:]:
            if i - windows[-1][1] <= join_gap_h:
                windows[-1][1] = int(i)
            else:
                windows.append([int(i), int(i)])
        scored = sorted(windows, key=lambda w: (-float(peak[w[0] : w[1] + 1].max()), w[0]))
        for w0, w1 in sorted(scored[:max_windows]):
            top = float(peak[w0 : w1 + 1].max())
            t0, t1 = start_us + w0 * HOUR_US, start_us + (w1 + 1) * HOUR_US
            out.append(
                Evidence(
                    kind=EvidenceKind.ANOMALY_WINDOW,
                    ref=f"anomaly:{ch.key}[{iso_hour(t0)}/{iso_hour(t1)}]",
                    test=N_("online anomaly score"),
                    phrase=phrase(
                        "{channel} anomaly score up to {score:.2f} for {hours} h",
                        channel=ch.key,
                        score=top,
                        hours=w1 - w0 + 1,
                    ),
                    value=round(top, 3),
                )
            )
    return out


# -- defects --------------------------------------------------------------------------------------


def defect_region(defect: Defect) -> str:
    """``capture:N#bbox=x,y,w,h`` (the image region of the defect)."""
    bbox = defect.geometry.get("bbox") if isinstance(defect.geometry, dict) else None
    if isinstance(bbox, list) and len(bbox) == 4:
        return f"capture:{defect.capture_id}#bbox={','.join(str(int(v)) for v in bbox)}"
    return f"capture:{defect.capture_id}"


def _measure(m: dict[str, Any], key: str) -> float | None:
    v = m.get(key)
    if isinstance(v, dict):
        v = v.get("value")
    return float(v) if isinstance(v, int | float) else None


def defect_evidence(defects: Iterable[Defect]) -> list[Evidence]:
    """Each defect with its measurements (widths and length in mm when the capture had a
    scale, else pixels) and its image region."""
    out = []
    for d in defects:
        m = d.measurements if isinstance(d.measurements, dict) else {}
        unit = str(m.get("unit", "px"))
        parts = [phrase("{kind!t}", kind=d.kind)]
        width = _measure(m, "width_max")
        if width is not None:
            parts.append(phrase("max width {width:.2f} {unit}", width=width, unit=unit))
        length = _measure(m, "length")
        if length is not None:
            parts.append(phrase("length {length:.0f} {unit}", length=length, unit=unit))
        angle = _measure(m, "angle_to_axis_deg")
        if angle is not None:
            parts.append(phrase("{angle:.0f}° to the element axis", angle=angle))
        if m.get("pattern"):
            parts.append(phrase("pattern {pattern!t}", pattern=str(m["pattern"])))
        out.append(
            Evidence(
                kind=EvidenceKind.DEFECT,
                ref=f"defect:{d.id}#{defect_region(d)}",
                test_phrase=phrase("detected defect ({model})", model=d.model_version),
                phrase=phrase_list(*parts),
                value=None if width is None else round(width, 3),
                unit=unit if width is not None else "",
            )
        )
    return out


# -- forecasts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLimit:
    """A value limit of an alarm-rule level on a channel (channel unit)."""

    level: str
    severity: int
    value: float
    upper: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecast:
    """When a channel is expected to reach its next limit.

    ``expected_days``/``earliest_days``/``latest_days`` are None when not within a year;
    ``probability`` maps 30/90/365 days to the probability of being beyond the limit then.
    """

    channel: str
    unit: str
    level: str
    limit: float
    trend: str
    expected_days: float | None
    earliest_days: float | None
    latest_days: float | None
    probability: dict[int, float]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "channel": self.channel,
            "unit": self.unit,
            "level": self.level,
            "limit": self.limit,
            "trend": self.trend,
            "expected_days": self.expected_days,
            "earliest_days": self.earliest_days,
            "latest_days": self.latest_days,
            "probability": {str(k): v for k, v in self.probability.items()},
        }


def channel_limits(session: Session, organization_id: int) -> dict[str, list[ChannelLimit]]:
    """Value limits of the organisation's enabled alarm rules, per channel key, by severity."""
    out: dict[str, list[ChannelLimit]] = {}
    rules = session.scalars(
        select(AlarmRule).where(
            AlarmRule.organization_id == organization_id, AlarmRule.enabled.is_(True)
        )
    ).all()
    for rule in rules:
        d = rule.definition or {}
        for level in d.get("levels", ()):
            for lim in level.get("limits", ()):
                if lim.get("quantity", "value") != "value":
                    continue
                for side in ("upper", "lower"):
                    v = lim.get(side)
                    if isinstance(v, int | float):
                        for key in d.get("channels", ()):
                            out.setdefault(str(key), []).append(
                                ChannelLimit(
                                    level=str(level.get("name", "")),
                                    severity=int(level.get("severity", 0)),
                                    value=float(v),
                                    upper=side == "upper",
                                )
                            )
    for limits in out.values():
        limits.sort(key=lambda lim: (lim.severity, lim.value))
    return out


def _days(s: float | None) -> float | None:
    return None if s is None else round(s / DAY_S, 1)


def forecast_channel(
    key: str, unit: str, times_s: np.ndarray, values: np.ndarray, limits: Sequence[ChannelLimit]
) -> Forecast | None:
    """Forecast one channel to the lowest-severity limit it has not reached yet.

    The trend is chosen among the automatic candidates for a one-year horizon
    (:func:`infrasight.signals.fit_best_trend`) on the channel's hourly means.
    """
    ok = np.isfinite(values)
    if ok.sum() < 24 or not limits:
        return None
    t, v = times_s[ok], values[ok]
    latest = float(np.median(v[-min(24, v.size) :]))
    pending = [lim for lim in limits if (latest < lim.value if lim.upper else latest > lim.value)]
    if not pending:
        return None
    lim = pending[0]
    try:
        model = fit_best_trend(t, v, horizon_s=HORIZONS_DAYS[-1] * DAY_S)
        crossings = {
            h: time_to_limit(model, lim.value, horizon_s=h * DAY_S, upper=lim.upper)
            for h in HORIZONS_DAYS
        }
    except SignalsError as err:
        _log.info("no forecast for %s: %s", key, err)
        return None
    year = crossings[HORIZONS_DAYS[-1]]
    return Forecast(
        channel=key,
        unit=unit,
        level=lim.level,
        limit=lim.value,
        trend=model.best.kind,
        expected_days=_days(year.eta_s),
        earliest_days=_days(year.eta_early_s),
        latest_days=_days(year.eta_late_s),
        probability={h: round(float(c.probability), 3) for h, c in crossings.items()},
    )


def forecast_evidence(forecasts: Iterable[Forecast]) -> list[Evidence]:
    """One evidence item per forecast (value: expected days to the limit)."""
    out = []
    for f in forecasts:
        reach: dict[str, PhraseParam] = {
            "channel": f.channel,
            "limit": f.limit,
            "unit": f.unit,
            "level": f.level,
        }
        if f.expected_days is None:
            parts = [
                phrase(
                    "{channel} reaches {limit:g} {unit} ({level!t}) not within a year (expected)",
                    **reach,
                )
            ]
        else:
            parts = [
                phrase(
                    "{channel} reaches {limit:g} {unit} ({level!t}) in {days:g} days",
                    days=f.expected_days,
                    **reach,
                )
            ]
        if f.earliest_days is not None and f.latest_days is not None:
            parts.append(
                phrase(
                    "95 %: {earliest:g} to {latest:g} days",
                    earliest=f.earliest_days,
                    latest=f.latest_days,
                )
            )
        elif f.earliest_days is not None:
            parts.append(phrase("95 %: {earliest:g} to > 365 days", earliest=f.earliest_days))
        p30, p90, p365 = (f.probability[h] for h in HORIZONS_DAYS)
        parts.append(
            phrase(
                "P(beyond it within 30/90/365 days) = {p30:.2f}/{p90:.2f}/{p365:.2f}",
                p30=p30,
                p90=p90,
                p365=p365,
            )
        )
        out.append(
            Evidence(
                kind=EvidenceKind.FORECAST,
                ref=f"forecast:{f.channel}@{f.level}",
                test_phrase=phrase("time to limit ({trend!t} trend)", trend=f.trend),
                phrase=phrase_list(*parts),
                value=f.expected_days,
                unit="d" if f.expected_days is not None else "",
            )
        )
    return out
