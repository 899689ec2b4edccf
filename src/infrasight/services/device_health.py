"""Heartbeats of field terminals and the device status derived from them.

A terminal's agent reports its queue depth, the age of its oldest queued item, disk free and its
own clock; the server keeps the last report and classifies the device as online, degraded or
offline. Readings keep the terminal's timestamps: the clock offset is reported, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from infrasight.core.errors import PermissionDeniedError
from infrasight.services.auth import Principal
from infrasight.storage.models import Device, DeviceStatus

__all__ = ["DeviceState", "Heartbeat", "classify", "record_heartbeat"]

#: Heartbeats missed before a device counts as offline.
OFFLINE_AFTER_HEARTBEATS = 3.0
#: A device with no heartbeat at all is offline after this long without data (s).
OFFLINE_WITHOUT_HEARTBEAT_S = 900.0
#: Degraded when the oldest queued item is older than this (s): it is catching up.
BACKLOG_DEGRADED_S = 600.0
#: Degraded when less disk than this is free on the terminal (bytes).
DISK_DEGRADED_BYTES = 1 << 30
#: Degraded when the terminal's clock is further off than this (s).
CLOCK_DEGRADED_S = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """What an agent reports; ``device_time`` is the terminal's own clock at sending."""

    device_time: datetime
    interval_s: float
    health: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceState:
    """``state`` is online, degraded or offline; ``reasons`` says why it is not online."""

    state: str
    reasons: list[str] = field(default_factory=list)


def record_heartbeat(
    session: Session, caller: Principal, beat: Heartbeat, *, now: datetime | None = None
) -> float:
    """Store the device's last heartbeat; return its clock offset (device - server, s)."""
    if caller.device_id is None:
        raise PermissionDeniedError("heartbeats take a device token")
    moment = now or datetime.now(UTC)
    device_time = beat.device_time
    if device_time.tzinfo is None:
        device_time = device_time.replace(tzinfo=UTC)
    offset = (device_time - moment).total_seconds()
    health = {**beat.health, "interval_s": beat.interval_s}
    status = session.get(DeviceStatus, caller.device_id)
    if status is None:
        session.add(
            DeviceStatus(
                device_id=caller.device_id,
                reported_at=moment,
                clock_offset_s=offset,
                health=health,
            )
        )
    else:
        status.reported_at = moment
        status.clock_offset_s = offset
        status.health = health
    session.execute(update(Device).where(Device.id == caller.device_id).values(last_seen_at=moment))
    return offset


def classify(
    device: Device, status: DeviceStatus | None, *, now: datetime | None = None
) -> DeviceState:
    """Online, degraded or offline, from the last heartbeat (or the last data without one)."""
    moment = now or datetime.now(UTC)
    if status is None:
        seen = device.last_seen_at
        if seen is None or (moment - seen).total_seconds() > OFFLINE_WITHOUT_HEARTBEAT_S:
            return DeviceState(state="offline", reasons=["no heartbeat and no recent data"])
        return DeviceState(state="online")
    interval = float(status.health.get("interval_s", 60.0))
    silent = (moment - status.reported_at).total_seconds()
    if silent > OFFLINE_AFTER_HEARTBEATS * interval:
        return DeviceState(state="offline", reasons=[f"no heartbeat for {silent:.0f} s"])
    health = status.health
    reasons = []
    oldest = health.get("oldest_age_s")
    if isinstance(oldest, int | float) and oldest > BACKLOG_DEGRADED_S:
        reasons.append(f"backlog: oldest queued item is {oldest:.0f} s old")
    disk = health.get("disk_free_bytes")
    if isinstance(disk, int | float) and disk < DISK_DEGRADED_BYTES:
        reasons.append(f"disk nearly full: {disk / 1e6:.0f} MB free")
    for key in ("dropped_routine", "dropped_alarm", "dead"):
        count = health.get(key)
        if isinstance(count, int) and count > 0:
            reasons.append(f"{key.replace('_', ' ')}: {count} items")
    cameras = health.get("cameras")
    if isinstance(cameras, dict):
        for name, camera in sorted(cameras.items()):
            state = camera.get("state") if isinstance(camera, dict) else None
            if state in ("no_frames", "error"):
                detail = camera.get("error") or ""  # type: ignore[union-attr]
                reasons.append(f"camera {name}: {state.replace('_', ' ')} {detail}".rstrip())
    offset = status.clock_offset_s
    if offset is not None and abs(offset) > CLOCK_DEGRADED_S:
        reasons.append(f"clock off by {offset:+.0f} s")
    return DeviceState(state="degraded" if reasons else "online", reasons=reasons)
