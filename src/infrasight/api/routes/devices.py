"""Devices (field terminals), their ingest tokens and calibration records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import Field, StrictBool
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import exists, select

from infrasight.api.deps import CallerDep, PlatformDep, SessionDep
from infrasight.api.routes.common import (
    DbId,
    IsoTime,
    Limit,
    Offset,
    Page,
    ReadModel,
    RequestModel,
    commit_or_conflict,
    flush_or_conflict,
    get_owned,
    page_of,
    reject_nulls,
)
from infrasight.core.domain import Action, DeviceKind
from infrasight.core.errors import ConflictError, InvalidInputError
from infrasight.services.audit import record_audit
from infrasight.services.auth import device_token_expiry, new_device_token
from infrasight.services.calibrations import validate_calibration
from infrasight.storage.models import Asset, Calibration, Capture, Channel, Device, Record

router = APIRouter(tags=["devices"])


class DeviceCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    kind: DeviceKind
    asset_id: DbId
    model: str = Field(default="", max_length=200)
    serial_number: str = Field(default="", max_length=200)


class DeviceUpdate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = None
    asset_id: DbId | SkipJsonSchema[None] = None
    model: Annotated[str, Field(max_length=200)] | SkipJsonSchema[None] = None
    serial_number: Annotated[str, Field(max_length=200)] | SkipJsonSchema[None] = None
    is_active: StrictBool | SkipJsonSchema[None] = None


class DeviceRead(ReadModel):
    id: int
    name: str
    kind: DeviceKind
    asset_id: DbId
    model: str
    serial_number: str
    is_active: bool
    last_seen_at: datetime | None
    token_expires_at: datetime | None = Field(default=None, description="None: never")
    created_at: datetime


class DeviceWithToken(DeviceRead):
    token: str = Field(description="The device's ingest token; shown only once")


class CalibrationCreate(RequestModel):
    kind: str = Field(
        min_length=1, max_length=60, examples=["camera_intrinsics", "scale", "sensor_gain"]
    )
    parameters: dict[str, Any]
    valid_from: IsoTime | None = None
    notes: str = ""


class CalibrationRead(ReadModel):
    id: int
    device_id: DbId
    kind: str
    parameters: dict[str, Any]
    valid_from: datetime
    notes: str
    created_at: datetime
    created_by: str


@router.post("/devices", status_code=status.HTTP_201_CREATED)
def create_device(
    body: DeviceCreate, session: SessionDep, caller: CallerDep, platform: PlatformDep
) -> DeviceWithToken:
    """Register a device (datalogger, camera, robot) on an asset; the answer carries its bearer
    token, shown only once.
    """
    caller.require(Action.CONFIGURE)
    try:
        get_owned(session, Asset, body.asset_id, caller.organization_id)
    except LookupError as err:
        raise InvalidInputError(f"asset {body.asset_id} not found", field="asset_id") from err
    token, digest = new_device_token()
    device = Device(organization_id=caller.organization_id, token_hash=digest, **body.model_dump())
    device.token_expires_at = device_token_expiry(platform.settings.device_token_days)
    session.add(device)
    flush_or_conflict(session, f"device {body.name!r}")
    record_audit(session, caller, "create", "device", device.id, {"name": device.name})
    commit_or_conflict(session, f"device {body.name!r}")
    return DeviceWithToken(**DeviceRead.model_validate(device).model_dump(), token=token)


@router.get("/devices")
def list_devices(
    session: SessionDep,
    caller: CallerDep,
    asset_id: DbId | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[DeviceRead]:
    """The organisation's devices, optionally of one asset; paged."""
    caller.require(Action.READ)
    query = (
        select(Device).where(Device.organization_id == caller.organization_id).order_by(Device.id)
    )
    if asset_id is not None:
        query = query.where(Device.asset_id == asset_id)
    return page_of(session, query, limit, offset, DeviceRead)


@router.get("/devices/{device_id:int}")
def get_device(device_id: DbId, session: SessionDep, caller: CallerDep) -> DeviceRead:
    """One device of the caller's organisation (never its token)."""
    caller.require(Action.READ)
    return DeviceRead.model_validate(get_owned(session, Device, device_id, caller.organization_id))


@router.patch("/devices/{device_id:int}")
def update_device(
    device_id: DbId, body: DeviceUpdate, session: SessionDep, caller: CallerDep
) -> DeviceRead:
    """Change some fields of a device; none may be null."""
    caller.require(Action.CONFIGURE)
    device = get_owned(session, Device, device_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes)
    if changes.get("asset_id") is not None:
        try:
            get_owned(session, Asset, changes["asset_id"], caller.organization_id)
        except LookupError as err:
            raise InvalidInputError("asset not found", field="asset_id") from err
    for name, value in changes.items():
        if value is None:
            raise InvalidInputError("may not be null", field=name)
        setattr(device, name, value)
    record_audit(session, caller, "update", "device", device.id, {"changed": sorted(changes)})
    commit_or_conflict(session, f"device {device.name!r}")
    return DeviceRead.model_validate(device)


@router.post("/devices/{device_id:int}/token")
def rotate_device_token(
    device_id: DbId, session: SessionDep, caller: CallerDep, platform: PlatformDep
) -> DeviceWithToken:
    """Issue a new ingest token; the old one stops working at once."""
    caller.require(Action.CONFIGURE)
    device = get_owned(session, Device, device_id, caller.organization_id)
    token, digest = new_device_token()
    device.token_hash = digest
    device.token_expires_at = device_token_expiry(platform.settings.device_token_days)
    record_audit(session, caller, "rotate_token", "device", device.id)
    session.commit()
    return DeviceWithToken(**DeviceRead.model_validate(device).model_dump(), token=token)


@router.delete("/devices/{device_id:int}", status_code=status.HTTP_204_NO_CONTENT)
def delete_device(device_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    """Delete a device and its calibrations; refused (409) while other objects refer to it."""
    caller.require(Action.DELETE)
    device = get_owned(session, Device, device_id, caller.organization_id)
    for model, label in ((Channel, "channels"), (Capture, "captures"), (Record, "records")):
        if session.scalar(select(exists().where(model.device_id == device_id))):  # type: ignore[attr-defined]
            raise ConflictError(
                f"device {device_id} still has {label}; deactivate it instead (is_active=false)"
            )
    for calibration in session.scalars(
        select(Calibration).where(Calibration.device_id == device_id)
    ):
        session.delete(calibration)
    session.delete(device)
    record_audit(session, caller, "delete", "device", device_id, {"name": device.name})
    session.commit()


@router.post("/devices/{device_id:int}/calibrations", status_code=status.HTTP_201_CREATED)
def create_calibration(
    device_id: DbId, body: CalibrationCreate, session: SessionDep, caller: CallerDep
) -> CalibrationRead:
    """Record a calibration of a device (certificate, factors, validity period)."""
    caller.require(Action.CONFIGURE)
    get_owned(session, Device, device_id, caller.organization_id)
    validate_calibration(session, caller.organization_id, device_id, body.kind, body.parameters)
    values = body.model_dump(exclude_none=True)
    calibration = Calibration(device_id=device_id, created_by=caller.name, **values)
    session.add(calibration)
    session.flush()
    record_audit(session, caller, "create", "calibration", calibration.id, {"kind": body.kind})
    session.commit()
    return CalibrationRead.model_validate(calibration)


@router.get("/devices/{device_id:int}/calibrations")
def list_calibrations(
    device_id: DbId, session: SessionDep, caller: CallerDep
) -> list[CalibrationRead]:
    """A device's calibrations, newest first."""
    caller.require(Action.READ)
    get_owned(session, Device, device_id, caller.organization_id)
    rows = session.scalars(
        select(Calibration)
        .where(Calibration.device_id == device_id)
        .order_by(Calibration.valid_from.desc(), Calibration.id.desc())
    )
    return [CalibrationRead.model_validate(c) for c in rows]
