"""Heartbeats from field terminals and the device status they give (online/degraded/offline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import Base64Bytes, BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infrasight.api.deps import CallerDep, PlatformDep, SessionDep
from infrasight.api.routes.common import DbId, RequestModel, check_references, get_owned
from infrasight.core.domain import Action
from infrasight.core.errors import PermissionDeniedError
from infrasight.platform import Platform
from infrasight.services.auth import Principal
from infrasight.services.device_config import device_config
from infrasight.services.device_health import Heartbeat, classify, record_heartbeat
from infrasight.services.edge_captures import EdgeCaptureRequest, EdgeDefect, store_edge_capture
from infrasight.storage.models import Defect, Device, DeviceStatus

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


class EdgeDefectBody(RequestModel):
    kind: Literal["crack"] = "crack"
    confidence: float = Field(ge=0, le=1, description="Mean confidence of the crack's pixels")
    geometry: dict[str, Any] = Field(description="bbox, polyline_px... in px of the frame")
    measurements: dict[str, Any] = Field(description="Length, width... in mm (or an error)")
    thumbnail: Base64Bytes | None = Field(default=None, description="JPEG crop, base64")


class EdgeCaptureBody(RequestModel):
    key: str = Field(
        min_length=1, max_length=128, description="Idempotency key: a resend is a no-op"
    )
    camera: str = Field(min_length=1, max_length=100)
    time: datetime = Field(description="When the frame was taken (the terminal's clock)")
    asset_id: DbId | None = Field(default=None, description="Default: the device's asset")
    element_id: DbId | None = None
    mm_per_px: float | None = Field(default=None, gt=0)
    model_version: str = Field(min_length=1, max_length=100)
    summary: dict[str, Any] = Field(default_factory=dict)
    image: Base64Bytes = Field(description="The original frame or a preview, base64")
    image_kind: Literal["original", "preview"]
    defects: list[EdgeDefectBody] = Field(default_factory=list, max_length=1000)


class EdgeCaptureAnswer(BaseModel):
    capture_id: int
    duplicate: bool = Field(description="True: this key was stored before; nothing written")
    defects: int


@router.post("/devices/captures", status_code=status.HTTP_201_CREATED)
def edge_capture(
    body: EdgeCaptureBody,
    response: Response,
    caller: CallerDep,
    session: SessionDep,
    platform: PlatformDep,
) -> EdgeCaptureAnswer:
    """A terminal's agent sends a frame it analysed itself, with its cracks (device token).

    Stored once per key: a resend answers 200 with the capture stored the first time.
    """
    answer = receive_edge_capture(platform, session, caller, body)
    if answer.duplicate:
        response.status_code = status.HTTP_200_OK
    return answer


def receive_edge_capture(
    platform: Platform, session: Session, caller: Principal, body: EdgeCaptureBody
) -> EdgeCaptureAnswer:
    """Check, store and commit an edge capture, then enqueue its tracking and publish its event.

    Shared by ``POST /devices/captures`` and the MQTT bridge (``.../captures``).

    Raises
    ------
    PermissionDeniedError
        For a caller that is not a device.
    InvalidInputError
        For an unknown asset or element, or an image that is not one (naming the field).
    """
    if caller.device_id is None:
        raise PermissionDeniedError("only a device token may send edge captures")
    device = get_owned(session, Device, caller.device_id, caller.organization_id)
    asset_id = body.asset_id if body.asset_id is not None else device.asset_id
    check_references(session, caller, asset_id, element_id=body.element_id)
    stored = store_edge_capture(
        session,
        blobs=platform.blobs,
        jobs=platform.jobs,
        caller=caller,
        request=EdgeCaptureRequest(
            key=body.key,
            camera=body.camera,
            time=body.time,
            asset_id=asset_id,
            element_id=body.element_id,
            mm_per_px=body.mm_per_px,
            image=body.image,
            image_kind=body.image_kind,
            model_version=body.model_version,
            summary=body.summary,
            defects=tuple(
                EdgeDefect(
                    kind=d.kind,
                    confidence=d.confidence,
                    geometry=d.geometry,
                    measurements=d.measurements,
                    thumbnail=d.thumbnail,
                )
                for d in body.defects
            ),
        ),
        max_pixels=platform.settings.max_image_pixels,
    )
    session.commit()
    if stored.job_id is not None:
        platform.jobs.enqueue(stored.job_id)
    if stored.event is not None:
        platform.bus.publish(stored.event)
    count = session.scalar(
        select(func.count()).select_from(Defect).where(Defect.capture_id == stored.capture.id)
    )
    return EdgeCaptureAnswer(
        capture_id=stored.capture.id, duplicate=stored.duplicate, defects=int(count or 0)
    )
