"""Tell a broken gauge from a changing structure, and route each to the right people.

When a channel's stored readings pass a whole hour of data time, the channel is judged at that
instant with the other channels of its asset on the 21 days of readings ending there
(:func:`infrasight.signals.health.judge_asset`: the recent 7 days against the earlier 14, after
the channel's own level, slope and daily cycle and what the asset's thermometers explain, with
persistence). A sensor-fault class
(missing, minor, outlier, square) raises a ``maintenance`` alarm for the device (key
``sensor-fault/<channel>``, level name ``fault``, the note says the class, since when and the
evidence window); a slow class (trend, drift) does so only when no other channel of the same
asset shows a slow departure at the same time, since a shared one is the structure moving. The
alarm clears once the channel is judged normal again. A coherent change on several channels
(anomaly score at least :data:`ANOMALOUS_SCORE`, not a faulty gauge) raises a ``structural``
alarm for the engineers (key ``structural-change/asset-<id>``). The instants and windows are
defined by the stored readings alone, so a replay after a crash raises the same alarms.

The anomaly score is used only for that structural routing: sensor health itself reads the
readings, so it does not depend on the score's scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.phrases import N_, Phrase
from infrasight.services.alarms import current_alarm, persist_alarm
from infrasight.signals import (
    AlarmStatus,
    LevelTransition,
    apply_transition,
    route_anomalies,
)
from infrasight.signals.health import Verdict, judge_asset
from infrasight.storage.models import Channel, ChannelAnalytics, Element
from infrasight.storage.readings import fetch_series, latest_before

__all__ = [
    "ANOMALOUS_SCORE",
    "CHANGE_WINDOW_S",
    "JUDGE_EVERY_S",
    "MAX_INSTANTS",
    "WINDOW_S",
    "assess_sensor_health",
    "judgement_instants",
]

ANOMALOUS_SCORE = 0.6
WINDOW_S = 21 * 86_400
JUDGE_EVERY_S = 3600
"""Channels are judged at every whole hour of data time their readings pass."""
MAX_INSTANTS = 6
"""The most instants one batch brings (its latest): a back-fill is judged on its last 6 hours."""
CHANGE_WINDOW_S = MAX_INSTANTS * JUDGE_EVERY_S
"""A channel changed at an instant when its anomaly score reached :data:`ANOMALOUS_SCORE` in
this span before it."""
ACTOR = "sensor-health"
FAULT_LEVEL_NAME = N_("fault")


def _move(
    session: Session,
    organization_id: int,
    key: str,
    to_level: int,
    name: str,
    severity: int,
    time_s: float,
    *,
    category: str,
    device_id: int | None,
    note: str | Phrase = "",
) -> int:
    told = note if isinstance(note, Phrase) else None
    said = None if told is None else told.as_dict()  # the note's key and numbers
    if isinstance(note, Phrase):
        note = note.english()
    alarm = current_alarm(session, organization_id, key)
    level = alarm.level if alarm is not None and alarm.status is not AlarmStatus.CLEARED else 0
    if level == to_level:
        if alarm is not None and to_level and note and alarm.note != note:
            persist_alarm(
                session, organization_id, replace(alarm, note=note, note_message=said), []
            )
        return 0
    transition = LevelTransition(
        rule_id=key,
        time=time_s,
        from_level=level,
        to_level=to_level,
        level_name=name,
        severity=severity,
        values={},
    )
    alarm, events = apply_transition(alarm, transition, actor=ACTOR)
    if alarm is not None and to_level:
        alarm = replace(alarm, note=note, note_message=said)
    events = [replace(e, note=note, phrase=told) for e in events]
    persist_alarm(session, organization_id, alarm, events, category=category, device_id=device_id)
    return len(events)


def judgement_instants(
    session: Session, spans: Mapping[int, tuple[int, int]]
) -> dict[int, list[int]]:
    """Channel id -> the instants (µs) a batch's readings ``spans[id] = (first, last)`` bring.

    An instant is a multiple of :data:`JUDGE_EVERY_S` of data time after the channel's reading
    before ``first`` and at or before ``last``: judged once the channel's data reaches it. Call
    it when the batch is stored (its effect row keeps the instants): they depend only on the
    batch and the readings before it, so batches merged or applied one by one (after a crash)
    are judged at the same instants. A batch brings at most :data:`MAX_INSTANTS` (its latest),
    which bounds the work of a long back-fill.
    """
    step = JUDGE_EVERY_S * 1_000_000
    out: dict[int, list[int]] = {}
    befores = latest_before(session, {c: first for c, (first, _) in sorted(spans.items())})
    for channel_id, (first, last) in sorted(spans.items()):
        before = befores[channel_id]
        low = (first - 1 if before is None else int(before)) // step + 1
        high = last // step
        if high >= low:
            out[channel_id] = [k * step for k in range(max(low, high - MAX_INSTANTS + 1), high + 1)]
    return out


def _asset_series(
    session: Session, channels: list[Channel], from_us: int, to_us: int
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Readings of ``[from_us, to_us]`` of every channel of one asset (times in µs)."""
    out = {}
    for channel in channels:
        stamps, values = fetch_series(session, channel.id, from_us=from_us)
        keep = stamps <= to_us
        out[channel.id] = (stamps[keep], values[keep])
    return out


def _windows_at(
    channels: list[Channel], series: dict[int, tuple[np.ndarray, np.ndarray]], instant_us: int
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """The 21 days ending at ``instant_us`` of every channel (times in s); temperatures."""
    windows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for channel in channels:
        stamps, values = series[channel.id]
        lo = int(np.searchsorted(stamps, instant_us - WINDOW_S * 1_000_000, "left"))
        hi = int(np.searchsorted(stamps, instant_us, "right"))
        if hi - lo >= 2:
            windows[channel.key] = (stamps[lo:hi] / 1e6, values[lo:hi])
    temps = [c.key for c in channels if c.quantity == "temperature" and c.key in windows]
    return windows, temps


def _score_series(
    session: Session, channels: list[Channel], from_us: int, to_us: int
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Stored anomaly scores of ``[from_us, to_us]`` of the channels (by source channel id)."""
    derived = dict(
        session.execute(
            select(ChannelAnalytics.channel_id, ChannelAnalytics.anomaly_channel_id).where(
                ChannelAnalytics.channel_id.in_([c.id for c in channels])
            )
        ).all()
    )
    out = {}
    for source, score_channel in derived.items():
        stamps, values = fetch_series(session, score_channel, from_us=from_us)
        keep = stamps <= to_us
        out[source] = (stamps[keep], values[keep])
    return out


def _peak_score(
    scores: dict[int, tuple[np.ndarray, np.ndarray]], channel_id: int, instant_us: int
) -> float:
    """Highest anomaly score of the channel in the change window up to ``instant_us``."""
    if channel_id not in scores:
        return 0.0
    stamps, values = scores[channel_id]
    lo = int(np.searchsorted(stamps, instant_us - CHANGE_WINDOW_S * 1_000_000, "right"))
    hi = int(np.searchsorted(stamps, instant_us, "right"))
    return float(values[lo:hi].max()) if hi > lo else 0.0


def _by_asset(session: Session, channels: list[Channel]) -> dict[int, list[Channel]]:
    """Every (non-derived) channel of the assets the given channels belong to."""
    element_ids = {c.element_id for c in channels}
    asset_ids = set(
        session.scalars(select(Element.asset_id).where(Element.id.in_(element_ids))).all()
    )
    rows = session.execute(
        select(Channel, Element.asset_id)
        .join(Element, Element.id == Channel.element_id)
        .where(
            Element.asset_id.in_(asset_ids),
            Channel.organization_id.in_({c.organization_id for c in channels}),
            Channel.quantity != "dimensionless",
        )
        .order_by(Channel.id)
    ).all()
    out: dict[int, list[Channel]] = {}
    for channel, asset_id in rows:
        out.setdefault(asset_id, []).append(channel)
    return out


def assess_sensor_health(
    session: Session, organization_id: int, instants: Mapping[int, list[int]]
) -> int:
    """Judge and route the channels of stored readings; return the alarm transitions stored.

    ``instants`` maps a channel id to the instants (µs) its new readings reached
    (:func:`judgement_instants`). Each channel is judged at each of them, each time on the
    21 days ending there, with the other channels of its asset as drivers and peers; the
    anomaly scores of the 6 hours up to the instant (at least :data:`ANOMALOUS_SCORE`) spot a
    coherent structural change. The same stored readings give the same alarms, however the
    batches were merged or replayed.
    """
    if not instants:
        return 0
    channels = list(session.scalars(select(Channel).where(Channel.id.in_(instants))).all())
    count = 0
    for members in _by_asset(session, channels).values():
        due: dict[int, list[Channel]] = {}
        for channel in members:
            for instant in instants.get(channel.id, []):
                due.setdefault(instant, []).append(channel)
        if not due:
            continue
        first, last = min(due), max(due)
        series = _asset_series(session, members, first - WINDOW_S * 1_000_000, last)
        judged = sorted({c.id: c for group in due.values() for c in group}.values(), key=_id)
        scores = _score_series(session, judged, first - CHANGE_WINDOW_S * 1_000_000, last)
        for instant in sorted(due):
            count += _judge(
                session, organization_id, members, (series, scores), instant, due[instant]
            )
    return count


def _id(channel: Channel) -> int:
    return channel.id


def _judge(
    session: Session,
    organization_id: int,
    members: list[Channel],
    data: tuple[dict[int, tuple[np.ndarray, np.ndarray]], dict[int, tuple[np.ndarray, np.ndarray]]],
    instant_us: int,
    judged_channels: list[Channel],
) -> int:
    """One judgement of an asset at ``instant_us``; the alarm transitions stored.

    ``data`` holds the readings of every member and the anomaly scores of the judged channels.
    """
    series, scores = data
    windows, temps = _windows_at(members, series, instant_us)
    judged = judge_asset(windows, drivers=temps, only=[c.key for c in judged_channels])
    verdicts: dict[str, Verdict] = {}
    changed: dict[str, bool] = {}
    by_key: dict[str, Channel] = {}
    for channel in judged_channels:
        if channel.key in judged:
            verdicts[channel.key] = judged[channel.key]
            changed[channel.key] = _peak_score(scores, channel.id, instant_us) >= ANOMALOUS_SCORE
            by_key[channel.key] = channel
    if not verdicts:
        return 0
    routing = route_anomalies(verdicts, changed)
    count = 0
    for key, channel in by_key.items():
        finding = verdicts[key].finding
        faulty = key in routing.maintenance and verdicts[key].is_sensor_fault
        count += _move(
            session,
            organization_id,
            f"sensor-fault/{key}",
            1 if faulty else 0,
            FAULT_LEVEL_NAME if faulty else N_("normal"),
            1,
            finding.window_end_s,
            category="maintenance",
            device_id=channel.device_id,
            note=finding.message_phrase(key),
        )
    if routing.structural:
        moving = [by_key[k] for k, c in changed.items() if c and k not in routing.maintenance]
        element = session.get(Element, moving[0].element_id)
        if element is not None:
            count += _move(
                session,
                organization_id,
                f"structural-change/asset-{element.asset_id}",
                1,
                N_("coherent change"),
                2,
                float(np.max([verdicts[c.key].finding.window_end_s for c in moving])),
                category="structural",
                device_id=None,
            )
    return count
