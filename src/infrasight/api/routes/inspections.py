"""Inspections: a visit or robot run grouping captures and observations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import select

from infrasight.api.deps import CallerDep, SessionDep
from infrasight.api.routes.common import (
    DbId,
    IsoTime,
    Limit,
    Offset,
    Page,
    ReadModel,
    RequestModel,
    get_owned,
    page_of,
    reject_nulls,
)
from infrasight.core.domain import Action, InspectionStatus
from infrasight.core.errors import InvalidInputError
from infrasight.services.audit import record_audit
from infrasight.storage.models import Asset, Inspection

router = APIRouter(tags=["inspections"])


class InspectionCreate(RequestModel):
    asset_id: DbId
    kind: str = Field(default="visual", max_length=60)
    status: InspectionStatus = InspectionStatus.PLANNED
    started_at: IsoTime | None = None
    ended_at: IsoTime | None = None
    inspector: str = Field(default="", max_length=200)
    notes: str = ""


class InspectionUpdate(RequestModel):
    status: InspectionStatus | SkipJsonSchema[None] = None
    started_at: IsoTime | None = None
    ended_at: IsoTime | None = None
    inspector: Annotated[str, Field(max_length=200)] | SkipJsonSchema[None] = None
    notes: str | SkipJsonSchema[None] = None


class InspectionRead(ReadModel):
    id: int
    asset_id: DbId
    kind: str
    status: InspectionStatus
    started_at: datetime | None
    ended_at: datetime | None
    inspector: str
    notes: str
    created_at: datetime


def _check_times(started: datetime | None, ended: datetime | None) -> None:
    if started and ended and ended < started:
        raise InvalidInputError("ended_at is before started_at", field="ended_at")


@router.post("/inspections", status_code=status.HTTP_201_CREATED)
def create_inspection(
    body: InspectionCreate, session: SessionDep, caller: CallerDep
) -> InspectionRead:
    """Plan or log an inspection of an asset."""
    caller.require(Action.FIELD_WORK)
    asset = session.get(Asset, body.asset_id)
    if asset is None or asset.organization_id != caller.organization_id:
        raise InvalidInputError(f"asset {body.asset_id} not found", field="asset_id")
    _check_times(body.started_at, body.ended_at)
    inspection = Inspection(organization_id=caller.organization_id, **body.model_dump())
    session.add(inspection)
    session.flush()
    record_audit(session, caller, "create", "inspection", inspection.id)
    session.commit()
    return InspectionRead.model_validate(inspection)


@router.get("/inspections")
def list_inspections(
    session: SessionDep,
    caller: CallerDep,
    asset_id: DbId | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[InspectionRead]:
    """The organisation's inspections, newest first, optionally of one asset; paged."""
    caller.require(Action.READ)
    query = (
        select(Inspection)
        .where(Inspection.organization_id == caller.organization_id)
        .order_by(Inspection.id.desc())
    )
    if asset_id is not None:
        query = query.where(Inspection.asset_id == asset_id)
    return page_of(session, query, limit, offset, InspectionRead)


@router.get("/inspections/{inspection_id}")
def get_inspection(inspection_id: DbId, session: SessionDep, caller: CallerDep) -> InspectionRead:
    """One inspection of the caller's organisation."""
    caller.require(Action.READ)
    return InspectionRead.model_validate(
        get_owned(session, Inspection, inspection_id, caller.organization_id)
    )


@router.patch("/inspections/{inspection_id}")
def update_inspection(
    inspection_id: DbId, body: InspectionUpdate, session: SessionDep, caller: CallerDep
) -> InspectionRead:
    """Change an inspection's status, times, inspector or notes."""
    caller.require(Action.FIELD_WORK)
    inspection = get_owned(session, Inspection, inspection_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, frozenset({"started_at", "ended_at"}))
    _check_times(
        changes.get("started_at", inspection.started_at),
        changes.get("ended_at", inspection.ended_at),
    )
    for name, value in changes.items():
        if value is None and name in ("status", "inspector", "notes"):
            raise InvalidInputError("may not be null", field=name)
        setattr(inspection, name, value)
    record_audit(
        session, caller, "update", "inspection", inspection.id, {"changed": sorted(changes)}
    )
    session.commit()
    return InspectionRead.model_validate(inspection)
