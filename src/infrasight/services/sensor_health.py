"""Tell a broken gauge from a changing structure, and route each to the right people.

After each batch is scored, channels with a high anomaly score (or an open sensor-fault alarm)
have their recent window classified into the IPC-SHM 2020 classes
(:func:`infrasight.signals.classify_window`). :func:`infrasight.signals.route_anomalies` then
decides: a gauge whose window shows a sensor-fault pattern (missing, minor/flat, outlier,
square) raises a ``maintenance`` alarm for the device (key ``sensor-fault/<channel>``), which
clears once the channel looks normal again; a change on one channel alone that looks like real
behaviour (trend, drift) is left to the alarm rules; a coherent change on several channels
raises a ``structural`` alarm for the engineers (key ``structural-change/asset-<id>``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.services.alarms import current_alarm, persist_alarm
from infrasight.signals import (
    AlarmStatus,
    FaultClassification,
    LevelTransition,
    apply_transition,
    classify_window,
    route_anomalies,
)
from infrasight.storage.models import Channel, Element
from infrasight.storage.readings import fetch_last

__all__ = ["ANOMALOUS_SCORE", "assess_sensor_health"]

ANOMALOUS_SCORE = 0.6
WINDOW = 128
MIN_WINDOW = 64
ACTOR = "sensor-health"


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
) -> int:
    alarm = current_alarm(session, organization_id, key)
    level = alarm.level if alarm is not None and alarm.status is not AlarmStatus.CLEARED else 0
    if level == to_level:
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
    persist_alarm(session, organization_id, alarm, events, category=category, device_id=device_id)
    return len(events)


def assess_sensor_health(
    session: Session, organization_id: int, peak_scores: dict[int, float]
) -> int:
    """Classify and route the channels of a scored batch; return the alarm transitions stored.

    ``peak_scores`` maps channel id to the highest anomaly score of its new readings.
    """
    channels = session.scalars(select(Channel).where(Channel.id.in_(peak_scores))).all()
    labels: dict[str, FaultClassification] = {}
    changed: dict[str, bool] = {}
    latest: dict[str, float] = {}
    by_key: dict[str, Channel] = {}
    for channel in channels:
        anomalous = peak_scores[channel.id] >= ANOMALOUS_SCORE
        open_alarm = current_alarm(session, organization_id, f"sensor-fault/{channel.key}")
        watched = open_alarm is not None and open_alarm.status is not AlarmStatus.CLEARED
        if not anomalous and not watched:
            continue
        stamps, values = fetch_last(session, channel.id, WINDOW)
        if values.size < MIN_WINDOW:
            continue
        labels[channel.key] = classify_window(values)
        changed[channel.key] = anomalous
        latest[channel.key] = float(stamps[-1]) / 1e6
        by_key[channel.key] = channel
    if not labels:
        return 0
    routing = route_anomalies(labels, changed)
    count = 0
    for key, channel in by_key.items():
        faulty = key in routing.maintenance and labels[key].is_sensor_fault
        count += _move(
            session,
            organization_id,
            f"sensor-fault/{key}",
            1 if faulty else 0,
            labels[key].label.value if faulty else "normal",
            1,
            latest[key],
            category="maintenance",
            device_id=channel.device_id,
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
                max(latest[c.key] for c in moving),
                category="structural",
                device_id=None,
            )
    return count
