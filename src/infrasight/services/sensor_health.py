"""Tell a broken gauge from a changing structure, and route each to the right people.

After each scored batch, every channel of the batch is judged with the other channels of its
asset on the last 21 days of readings (:func:`infrasight.signals.health.judge_asset`: the
recent 7 days against the earlier 14, after the channel's own level, slope and daily cycle and
what the asset's thermometers explain, with persistence). A sensor-fault class
(missing, minor, outlier, square) raises a ``maintenance`` alarm for the device (key
``sensor-fault/<channel>``, level name ``fault``, the note says the class, since when and the
evidence window); a slow class (trend, drift) does so only when no other channel of the same
asset shows a slow departure at the same time, since a shared one is the structure moving. The
alarm clears once the channel is judged normal again. A coherent change on several channels
(anomaly score at least :data:`ANOMALOUS_SCORE`, not a faulty gauge) raises a ``structural``
alarm for the engineers (key ``structural-change/asset-<id>``).

The anomaly score is used only for that structural routing: sensor health itself reads the
readings, so it does not depend on the score's scale.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.services.alarms import current_alarm, persist_alarm
from infrasight.signals import (
    AlarmStatus,
    LevelTransition,
    apply_transition,
    route_anomalies,
)
from infrasight.signals.health import Verdict, judge_asset
from infrasight.storage.models import Channel, Element
from infrasight.storage.readings import fetch_last, fetch_series

__all__ = ["ANOMALOUS_SCORE", "WINDOW_S", "assess_sensor_health"]

ANOMALOUS_SCORE = 0.6
WINDOW_S = 21 * 86_400
ACTOR = "sensor-health"
FAULT_LEVEL_NAME = "fault"


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
    note: str = "",
) -> int:
    alarm = current_alarm(session, organization_id, key)
    level = alarm.level if alarm is not None and alarm.status is not AlarmStatus.CLEARED else 0
    if level == to_level:
        if alarm is not None and to_level and note and alarm.note != note:
            persist_alarm(session, organization_id, replace(alarm, note=note), [])
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
        alarm = replace(alarm, note=note)
    events = [replace(e, note=note) for e in events]
    persist_alarm(session, organization_id, alarm, events, category=category, device_id=device_id)
    return len(events)


def _asset_windows(
    session: Session, channels: list[Channel]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """The last 21 days of every channel of one asset (up to its newest reading); temperatures."""
    ends = []
    for channel in channels:
        last, _ = fetch_last(session, channel.id, 1)
        if last.size:
            ends.append(int(last[-1]))
    if not ends:
        return {}, []
    end_us = max(ends)
    windows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for channel in channels:
        stamps, values = fetch_series(session, channel.id, from_us=end_us - WINDOW_S * 1_000_000)
        keep = stamps <= end_us
        if np.count_nonzero(keep) >= 2:
            windows[channel.key] = (stamps[keep] / 1e6, values[keep])
    temps = [c.key for c in channels if c.quantity == "temperature" and c.key in windows]
    return windows, temps


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
    session: Session, organization_id: int, peak_scores: dict[int, float]
) -> int:
    """Judge and route the channels of a scored batch; return the alarm transitions stored.

    ``peak_scores`` maps channel id to the highest anomaly score of its new readings (used only
    to spot a coherent structural change).
    """
    channels = list(session.scalars(select(Channel).where(Channel.id.in_(peak_scores))).all())
    batch = {c.key for c in channels}
    verdicts: dict[str, Verdict] = {}
    changed: dict[str, bool] = {}
    by_key: dict[str, Channel] = {}
    for members in _by_asset(session, channels).values():
        windows, temps = _asset_windows(session, members)
        judged = judge_asset(
            windows, drivers=temps, only=[c.key for c in members if c.key in batch]
        )
        for channel in members:
            if channel.key in judged:
                verdicts[channel.key] = judged[channel.key]
                changed[channel.key] = peak_scores[channel.id] >= ANOMALOUS_SCORE
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
            FAULT_LEVEL_NAME if faulty else "normal",
            1,
            finding.window_end_s,
            category="maintenance",
            device_id=channel.device_id,
            note=finding.message(key),
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
                "coherent change",
                2,
                float(np.max([verdicts[c.key].finding.window_end_s for c in moving])),
                category="structural",
                device_id=None,
            )
    return count
