"""Channels (one quantity at one place) and the downsampled reading queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field, StrictFloat
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from infrasight.api.deps import CallerDep, SessionDep
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
from infrasight.core.domain import Action
from infrasight.core.errors import ConflictError, InvalidInputError, NotFoundError
from infrasight.core.timeparse import datetime_to_us, us_to_datetime
from infrasight.core.units import check_unit_for_quantity
from infrasight.services.audit import record_audit
from infrasight.services.compensation import describe, fit_channel_compensation
from infrasight.storage.models import (
    Channel,
    ChannelCompensation,
    Device,
    Element,
    Reading,
)
from infrasight.storage.readings import downsample, session_plan, time_bounds

router = APIRouter(tags=["channels"])

KEY_PATTERN = r"^[A-Za-z0-9_.:/\-]+$"


class ChannelCreate(RequestModel):
    key: str = Field(min_length=1, max_length=200, pattern=KEY_PATTERN)
    quantity: str = Field(min_length=1, max_length=60, examples=["strain", "crack_width"])
    unit: str = Field(min_length=1, max_length=60, examples=["µε", "mm"])
    element_id: DbId
    device_id: DbId | None = None
    description: str = ""


class ChannelUpdate(RequestModel):
    description: str | SkipJsonSchema[None] = None
    device_id: DbId | None = None
    unit: Annotated[str, Field(min_length=1, max_length=60)] | SkipJsonSchema[None] = None


class ChannelRead(ReadModel):
    id: int
    key: str
    quantity: str
    unit: str
    element_id: DbId
    device_id: DbId | None
    description: str
    created_at: datetime


class ReadingPoint(BaseModel):
    time: datetime = Field(description="Start of the bucket (UTC)")
    min: float
    mean: float
    max: float
    count: int


class ReadingSeries(BaseModel):
    channel_id: DbId
    unit: str
    start: datetime | None
    end: datetime | None
    bucket_seconds: float | None
    points: list[ReadingPoint]


def _check_refs(session: Session, org_id: int, element_id: DbId, device_id: DbId | None) -> None:
    element = session.get(Element, element_id)
    if element is None or element.asset.organization_id != org_id:
        raise InvalidInputError(f"element {element_id} not found", field="element_id")
    if device_id is not None:
        device = session.get(Device, device_id)
        if device is None or device.organization_id != org_id:
            raise InvalidInputError(f"device {device_id} not found", field="device_id")


@router.post("/channels", status_code=status.HTTP_201_CREATED)
def create_channel(body: ChannelCreate, session: SessionDep, caller: CallerDep) -> ChannelRead:
    """Create a channel: a measured quantity with its unit on an element, optionally bound to the
    device that sends it. Its key is what ingest names.
    """
    caller.require(Action.CONFIGURE)
    check_unit_for_quantity(body.quantity, body.unit)
    _check_refs(session, caller.organization_id, body.element_id, body.device_id)
    channel = Channel(organization_id=caller.organization_id, **body.model_dump())
    session.add(channel)
    flush_or_conflict(session, f"channel key {body.key!r}")
    record_audit(session, caller, "create", "channel", channel.id, {"key": channel.key})
    commit_or_conflict(session, f"channel key {body.key!r}")
    return ChannelRead.model_validate(channel)


@router.get("/channels")
def list_channels(
    session: SessionDep,
    caller: CallerDep,
    element_id: DbId | None = None,
    device_id: DbId | None = None,
    asset_id: DbId | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ChannelRead]:
    """The organisation's channels, optionally of one element, device or asset; paged."""
    caller.require(Action.READ)
    query = (
        select(Channel)
        .where(Channel.organization_id == caller.organization_id)
        .order_by(Channel.id)
    )
    if element_id is not None:
        query = query.where(Channel.element_id == element_id)
    if device_id is not None:
        query = query.where(Channel.device_id == device_id)
    if asset_id is not None:
        query = query.where(
            Channel.element_id.in_(select(Element.id).where(Element.asset_id == asset_id))
        )
    return page_of(session, query, limit, offset, ChannelRead)


@router.get("/channels/{channel_id}")
def get_channel(channel_id: DbId, session: SessionDep, caller: CallerDep) -> ChannelRead:
    """One channel of the caller's organisation."""
    caller.require(Action.READ)
    return ChannelRead.model_validate(
        get_owned(session, Channel, channel_id, caller.organization_id)
    )


@router.patch("/channels/{channel_id}")
def update_channel(
    channel_id: DbId, body: ChannelUpdate, session: SessionDep, caller: CallerDep
) -> ChannelRead:
    """Change a channel's description, device or unit (the unit only while it has no readings)."""
    caller.require(Action.CONFIGURE)
    channel = get_owned(session, Channel, channel_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, frozenset({"device_id"}))
    if "device_id" in changes:
        _check_refs(session, caller.organization_id, channel.element_id, changes["device_id"])
    if changes.get("unit") is not None and changes["unit"] != channel.unit:
        check_unit_for_quantity(channel.quantity, changes["unit"])
        if session.scalar(select(exists().where(Reading.channel_id == channel_id))):
            raise ConflictError("the unit of a channel with readings cannot change")
    for name, value in changes.items():
        if value is None and name != "device_id":
            raise InvalidInputError("may not be null", field=name)
        setattr(channel, name, value)
    record_audit(session, caller, "update", "channel", channel.id, {"changed": sorted(changes)})
    session.commit()
    return ChannelRead.model_validate(channel)


@router.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_channel(
    channel_id: DbId,
    session: SessionDep,
    caller: CallerDep,
    purge_readings: Annotated[bool, Query(description="Also delete its readings")] = False,
) -> None:
    """Delete a channel; refused (409) while it has readings unless purge_readings is set."""
    caller.require(Action.DELETE)
    channel = get_owned(session, Channel, channel_id, caller.organization_id)
    has_readings = session.scalar(select(exists().where(Reading.channel_id == channel_id)))
    if has_readings and not purge_readings:
        raise ConflictError(
            f"channel {channel_id} has readings; pass purge_readings=true to delete them too"
        )
    session.execute(delete(Reading).where(Reading.channel_id == channel_id))
    session.delete(channel)
    record_audit(session, caller, "delete", "channel", channel_id, {"key": channel.key})
    session.commit()


@router.get("/channels/{channel_id}/readings")
def channel_readings(
    channel_id: DbId,
    session: SessionDep,
    caller: CallerDep,
    start: IsoTime | None = None,
    end: IsoTime | None = None,
    max_points: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> ReadingSeries:
    """Readings of ``[start, end)`` in at most ``max_points`` buckets (min/mean/max/count)."""
    caller.require(Action.READ)
    channel = get_owned(session, Channel, channel_id, caller.organization_id)
    bounds = time_bounds(session, channel_id)
    start_us = datetime_to_us(start) if start else (bounds[0] if bounds else None)
    end_us = datetime_to_us(end) if end else (bounds[1] + 1 if bounds else None)
    if start_us is None or end_us is None:
        return ReadingSeries(
            channel_id=channel_id,
            unit=channel.unit,
            start=None,
            end=None,
            bucket_seconds=None,
            points=[],
        )
    if end_us <= start_us:
        raise InvalidInputError("end must be after start", field="end")
    buckets = downsample(session, channel_id, start_us, end_us, max_points)
    width = session_plan(session, start_us, end_us, max_points).width_us
    return ReadingSeries(
        channel_id=channel_id,
        unit=channel.unit,
        start=us_to_datetime(start_us),
        end=us_to_datetime(end_us),
        bucket_seconds=width / 1e6,
        points=[
            ReadingPoint(
                time=us_to_datetime(b.start_us),
                min=b.minimum,
                mean=b.mean,
                max=b.maximum,
                count=b.count,
            )
            for b in buckets
        ],
    )


class CompensationSet(RequestModel):
    driver_channel_id: DbId = Field(description="The driver, e.g. a temperature channel")
    reference_start: IsoTime
    reference_end: IsoTime
    max_lag_hours: StrictFloat = Field(default=6.0, ge=0, le=240)


class CompensationRead(BaseModel):
    driver_channel_id: DbId
    gain: float = Field(description="Channel unit per driver unit")
    lag_s: float
    intercept: float
    residual_scale: float
    r2: float
    n_reference: int
    reference_start: datetime
    reference_end: datetime


def _compensation_read(record: ChannelCompensation) -> CompensationRead:
    data = describe(record)
    return CompensationRead(
        **{k: v for k, v in data.items() if not k.startswith("reference_")},
        reference_start=us_to_datetime(data["reference_start_us"]),
        reference_end=us_to_datetime(data["reference_end_us"]),
    )


@router.put("/channels/{channel_id}/compensation")
def set_compensation(
    channel_id: DbId, body: CompensationSet, session: SessionDep, caller: CallerDep
) -> CompensationRead:
    """Learn the channel's response to a driver on a reference period; score what is left."""
    caller.require(Action.CONFIGURE)
    channel = get_owned(session, Channel, channel_id, caller.organization_id)
    driver = session.get(Channel, body.driver_channel_id)
    if driver is None or driver.organization_id != caller.organization_id:
        raise InvalidInputError(
            f"channel {body.driver_channel_id} not found", field="driver_channel_id"
        )
    record = fit_channel_compensation(
        session,
        channel,
        driver,
        start_us=datetime_to_us(body.reference_start),
        end_us=datetime_to_us(body.reference_end),
        max_lag_s=body.max_lag_hours * 3600.0,
    )
    record_audit(session, caller, "compensate", "channel", channel_id, describe(record))
    session.commit()
    return _compensation_read(record)


@router.get("/channels/{channel_id}/compensation")
def get_compensation(channel_id: DbId, session: SessionDep, caller: CallerDep) -> CompensationRead:
    """The channel's environmental compensation (e.g. temperature), as fitted."""
    caller.require(Action.READ)
    get_owned(session, Channel, channel_id, caller.organization_id)
    record = session.get(ChannelCompensation, channel_id)
    if record is None:
        raise NotFoundError(f"channel {channel_id} has no compensation")
    return _compensation_read(record)


@router.delete("/channels/{channel_id}/compensation", status_code=status.HTTP_204_NO_CONTENT)
def delete_compensation(channel_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    """Remove the channel's compensation; readings are then shown uncompensated."""
    caller.require(Action.CONFIGURE)
    get_owned(session, Channel, channel_id, caller.organization_id)
    record = session.get(ChannelCompensation, channel_id)
    if record is None:
        raise NotFoundError(f"channel {channel_id} has no compensation")
    session.delete(record)
    record_audit(session, caller, "uncompensate", "channel", channel_id)
    session.commit()
