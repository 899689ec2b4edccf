"""Device status from heartbeats: online, degraded (with reasons) and offline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infrasight.services.device_health import classify
from infrasight.storage.models import Device, DeviceStatus

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _status(seconds_ago: float, **health: object) -> DeviceStatus:
    return DeviceStatus(
        device_id=1,
        reported_at=NOW - timedelta(seconds=seconds_ago),
        clock_offset_s=health.pop("offset", 0.0),
        health={"interval_s": 60.0, **health},
    )


def test_classification() -> None:
    device = Device(id=1, last_seen_at=NOW - timedelta(seconds=30))
    assert classify(device, _status(30, queue_depth=0), now=NOW).state == "online"
    offline = classify(device, _status(181), now=NOW)
    assert (offline.state, offline.reasons) == ("offline", ["no heartbeat for 181 s"])
    degraded = classify(
        device,
        _status(10, oldest_age_s=3600.0, disk_free_bytes=10_000_000, dropped_routine=5),
        now=NOW,
    )
    assert degraded.state == "degraded"
    assert degraded.reasons == [
        "backlog: oldest queued item is 3600 s old",
        "disk nearly full: 10 MB free",
        "dropped routine: 5 items",
    ]
    assert classify(device, None, now=NOW).state == "online"
    assert classify(Device(id=1, last_seen_at=None), None, now=NOW).state == "offline"
