"""Heartbeats from field terminals and the device status they give (online/degraded/offline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from infrasight.api.deps import CallerDep, SessionDep
from infrasight.api.routes.common import RequestModel, get_owned
from infrasight.core.domain import Action
from infrasight.services.device_config import device_config
from infrasight.services.device_health import Heartbeat, classify, record_heartbeat
from infrasight.storage.models import Device, DeviceStatus

router = APIRouter(tags=["devices"])


class HeartbeatBody(RequestModel):
    device_time: datetime = Field(description="The terminal's own clock when it sent this")
    interval_s: float = Field(default=60.0, gt=0, le=86400)
    health: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"queue_depth": 0, "oldest_age_s": None, "disk_free_bytes": 12_000_000_000}],
    )


class HeartbeatAnswer(BaseModel):
    clock_offset_s: float = Field(description="Terminal clock minus server clock, seconds")


class DeviceConfigRead(BaseModel):
    version: int = Field(description="Grows with each change; 0: nothing set by the server")
    config: dict[str, Any] = Field(
        description="Intervals, thresholds per channel and cameras (docs/field.md)",
        examples=[{"heartbeat_s": 30, "thresholds": {"VD-SETTLE": {"high": 12.0}}}],
    )


class DeviceStatusRead(BaseModel):
    device_id: int
    state: str
    reasons: list[str]
    last_seen_at: datetime | None
    reported_at: datetime | None
    clock_offset_s: float | None
    health: dict[str, Any]


@router.post("/devices/heartbeat")
def heartbeat(body: HeartbeatBody, caller: CallerDep, session: SessionDep) -> HeartbeatAnswer:
    """A terminal's agent reports its health (device token)."""
    offset = record_heartbeat(
        session,
        caller,
        Heartbeat(device_time=body.device_time, interval_s=body.interval_s, health=body.health),
    )
    session.commit()
    return HeartbeatAnswer(clock_offset_s=offset)


@router.get("/devices/config")
def pull_config(caller: CallerDep, session: SessionDep) -> DeviceConfigRead:
    """A terminal's agent pulls its configuration (device token); set it as the device's
    ``edge_config`` calibration.
    """
    current = device_config(session, caller)
    return DeviceConfigRead(version=current.version, config=current.config)


@router.get("/devices/{device_id:int}/status")
def device_status(device_id: int, caller: CallerDep, session: SessionDep) -> DeviceStatusRead:
    """Online, degraded or offline, with the last heartbeat's health figures."""
    caller.require(Action.READ)
    device = get_owned(session, Device, device_id, caller.organization_id)
    status = session.get(DeviceStatus, device_id)
    state = classify(device, status)
    return DeviceStatusRead(
        device_id=device_id,
        state=state.state,
        reasons=state.reasons,
        last_seen_at=device.last_seen_at,
        reported_at=None if status is None else status.reported_at,
        clock_offset_s=None if status is None else status.clock_offset_s,
        health={} if status is None else status.health,
    )
