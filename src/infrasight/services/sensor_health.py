"""Tell a broken gauge from a changing structure, and route each to the right people.

After each scored batch, every channel of the batch is judged on its last 21 days of readings
(:func:`infrasight.signals.health.assess_channel`: the recent 7 days against the earlier 14,
after the channel's own level, slope and daily cycle, with persistence). A sensor-fault class
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

from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.services.alarms import current_alarm, persist_alarm
from infrasight.signals import (
    AlarmStatus,
    LevelTransition,
    NotEnoughDataError,
    apply_transition,
    route_anomalies,
)
from infrasight.signals.health import HealthConfig, HealthFinding, assess_channel
from infrasight.storage.models import Channel, Element
from infrasight.storage.readings import fetch_last, fetch_series

__all__ = ["ANOMALOUS_SCORE", "WINDOW_S", "assess_sensor_health"]

ANOMALOUS_SCORE = 0.6
WINDOW_S = 21 * 86_400
ACTOR = "sensor-health"
FAULT_LEVEL_NAME = "fault"


@dataclass(frozen=True, slots=True)
class _Verdict:
    is_sensor_fault: bool


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


def _judge(
    session: Session,
    channel_id: int,
    end_us: int | None = None,
    config: HealthConfig | None = None,
) -> HealthFinding | None:
    """The finding on the channel's readings of the 21 days up to ``end_us`` (its last)."""
    if end_us is None:
        last, _ = fetch_last(session, channel_id, 1)
        if not last.size:
            return None
        end_us = int(last[-1])
    stamps, values = fetch_series(session, channel_id, from_us=end_us - WINDOW_S * 1_000_000)
    keep = stamps <= end_us
    try:
        return assess_channel(stamps[keep] / 1e6, values[keep], config=config)
    except NotEnoughDataError:
        return None


def _peers_move(session: Session, channel: Channel, end_us: int) -> bool:
    """Whether another channel of the same asset departs slowly too (the structure moving)."""
    element = session.get(Element, channel.element_id)
    if element is None:
        return False
    peers = session.scalars(
        select(Channel)
        .join(Element, Element.id == Channel.element_id)
        .where(
            Element.asset_id == element.asset_id,
            Channel.organization_id == channel.organization_id,
            Channel.id != channel.id,
            Channel.quantity != "dimensionless",
        )
    ).all()
    for peer in peers:
        finding = _judge(session, peer.id, end_us, HealthConfig().for_peers())
        if finding is not None and finding.is_slow:
            return True
    return False


def assess_sensor_health(
    session: Session, organization_id: int, peak_scores: dict[int, float]
) -> int:
    """Judge and route the channels of a scored batch; return the alarm transitions stored.

    ``peak_scores`` maps channel id to the highest anomaly score of its new readings (used only
    to spot a coherent structural change).
    """
    channels = session.scalars(select(Channel).where(Channel.id.in_(peak_scores))).all()
    verdicts: dict[str, _Verdict] = {}
    findings: dict[str, HealthFinding] = {}
    changed: dict[str, bool] = {}
    by_key: dict[str, Channel] = {}
    for channel in channels:
        finding = _judge(session, channel.id)
        if finding is None:
            continue
        gauge = finding.is_sensor_fault or (
            finding.is_slow and not _peers_move(session, channel, round(finding.window_end_s * 1e6))
        )
        verdicts[channel.key] = _Verdict(is_sensor_fault=gauge)
        findings[channel.key] = finding
        changed[channel.key] = peak_scores[channel.id] >= ANOMALOUS_SCORE
        by_key[channel.key] = channel
    if not verdicts:
        return 0
    routing = route_anomalies(verdicts, changed)
    count = 0
    for key, channel in by_key.items():
        finding = findings[key]
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
                float(np.max([findings[c.key].window_end_s for c in moving])),
                category="structural",
                device_id=None,
            )
    return count
