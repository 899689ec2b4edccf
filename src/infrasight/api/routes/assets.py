"""Assets (structures) and their element hierarchy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import ConfigDict, Field, StrictFloat, StrictInt, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import exists, select

from infrasight.api.deps import CallerDep, SessionDep
from infrasight.api.routes.common import (
    DbId,
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
from infrasight.core.domain import Action, AssetKind
from infrasight.core.errors import ConflictError, InvalidInputError, NotFoundError
from infrasight.services.audit import record_audit
from infrasight.storage.models import (
    Asset,
    Capture,
    Channel,
    Device,
    Element,
    Inspection,
    ModalReference,
    Record,
)

router = APIRouter(tags=["assets"])


class AssetCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Viaduct A7 km 12.4",
                    "kind": "bridge",
                    "description": "Three-span prestressed concrete box girder, 1978",
                    "latitude": 47.3769,
                    "longitude": 8.5417,
                    "governing_standard": "EN 1992-2",
                    "design_data": {"spans_m": [38, 52, 38]},
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    kind: AssetKind
    description: str = ""
    latitude: StrictFloat | None = Field(default=None, ge=-90, le=90)
    longitude: StrictFloat | None = Field(default=None, ge=-180, le=180)
    governing_standard: str = Field(default="", max_length=200)
    design_data: dict[str, Any] = Field(default_factory=dict)
    criticality: StrictInt = Field(default=3, ge=1, le=5, description="1 minor - 5 critical (risk)")


class AssetUpdate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = None
    kind: AssetKind | SkipJsonSchema[None] = None
    description: str | SkipJsonSchema[None] = None
    latitude: StrictFloat | None = Field(default=None, ge=-90, le=90)
    longitude: StrictFloat | None = Field(default=None, ge=-180, le=180)
    governing_standard: Annotated[str, Field(max_length=200)] | SkipJsonSchema[None] = None
    design_data: dict[str, Any] | SkipJsonSchema[None] = None
    criticality: Annotated[StrictInt, Field(ge=1, le=5)] | SkipJsonSchema[None] = None


class AssetRead(ReadModel):
    id: int
    name: str
    kind: AssetKind
    description: str
    latitude: float | None
    longitude: float | None
    governing_standard: str
    design_data: dict[str, Any]
    criticality: int
    created_at: datetime
    updated_at: datetime

    @field_validator("design_data", mode="before")
    @classmethod
    def _null_as_empty(cls, value: object) -> object:
        # Rows written before nulls were refused may hold null: still list them.
        return {} if value is None else value


class ElementCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=60, examples=["span", "pier", "lining_ring"])
    parent_id: DbId | None = None
    material: str = Field(default="", max_length=60)
    exposure_class: str = Field(default="", max_length=20)
    axis_deg: StrictFloat = Field(
        default=0.0, ge=-180, le=180, description="Element axis in images"
    )
    criticality: StrictInt = Field(default=3, ge=1, le=5, description="1 minor - 5 critical (risk)")
    construction_year: StrictInt | None = Field(
        default=None, ge=1800, le=2100, description="Year built or commissioned (None: unknown)"
    )


class ElementUpdate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = None
    kind: Annotated[str, Field(min_length=1, max_length=60)] | SkipJsonSchema[None] = None
    parent_id: DbId | None = None
    material: Annotated[str, Field(max_length=60)] | SkipJsonSchema[None] = None
    exposure_class: Annotated[str, Field(max_length=20)] | SkipJsonSchema[None] = None
    axis_deg: Annotated[StrictFloat, Field(ge=-180, le=180)] | SkipJsonSchema[None] = None
    criticality: Annotated[StrictInt, Field(ge=1, le=5)] | SkipJsonSchema[None] = None
    construction_year: Annotated[StrictInt, Field(ge=1800, le=2100)] | None = None


class ElementRead(ReadModel):
    id: int
    asset_id: DbId
    parent_id: DbId | None
    name: str
    kind: str
    material: str
    exposure_class: str
    axis_deg: float
    criticality: int
    construction_year: int | None = None
    created_at: datetime


@router.post("/assets", status_code=status.HTTP_201_CREATED)
def create_asset(body: AssetCreate, session: SessionDep, caller: CallerDep) -> AssetRead:
    """Create an asset (a bridge, tunnel, rail line...) in the caller's organisation; names are
    unique per organisation. Needs the configure right.
    """
    caller.require(Action.CONFIGURE)
    asset = Asset(organization_id=caller.organization_id, **body.model_dump())
    session.add(asset)
    flush_or_conflict(session, f"asset {body.name!r}")
    record_audit(session, caller, "create", "asset", asset.id, {"name": asset.name})
    commit_or_conflict(session, f"asset {body.name!r}")
    return AssetRead.model_validate(asset)


@router.get("/assets")
def list_assets(
    session: SessionDep,
    caller: CallerDep,
    kind: AssetKind | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AssetRead]:
    """The organisation's assets, oldest first, optionally of one kind; paged with limit and
    offset.
    """
    caller.require(Action.READ)
    query = select(Asset).where(Asset.organization_id == caller.organization_id).order_by(Asset.id)
    if kind is not None:
        query = query.where(Asset.kind == kind)
    return page_of(session, query, limit, offset, AssetRead)


@router.get("/assets/{asset_id}")
def get_asset(asset_id: DbId, session: SessionDep, caller: CallerDep) -> AssetRead:
    """One asset of the caller's organisation."""
    caller.require(Action.READ)
    return AssetRead.model_validate(get_owned(session, Asset, asset_id, caller.organization_id))


@router.patch("/assets/{asset_id}")
def update_asset(
    asset_id: DbId, body: AssetUpdate, session: SessionDep, caller: CallerDep
) -> AssetRead:
    """Change some fields of an asset; only latitude and longitude may be set to null. A rejected
    update changes nothing.
    """
    caller.require(Action.CONFIGURE)
    asset = get_owned(session, Asset, asset_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, frozenset({"latitude", "longitude"}))
    for name, value in changes.items():
        setattr(asset, name, value)
    record_audit(session, caller, "update", "asset", asset.id, {"changed": sorted(changes)})
    commit_or_conflict(session, f"asset {asset.name!r}")
    return AssetRead.model_validate(asset)


@router.delete("/assets/{asset_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_asset(asset_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    """Delete an asset and its elements; refused (409) while devices, captures, records,
    inspections or channels still refer to it.
    """
    caller.require(Action.DELETE)
    asset = get_owned(session, Asset, asset_id, caller.organization_id)
    dependants = (
        (Device, "devices"),
        (Capture, "captures"),
        (Record, "records"),
        (Inspection, "inspections"),
    )
    for model, label in dependants:
        if session.scalar(select(exists().where(model.asset_id == asset_id))):  # type: ignore[attr-defined]
            raise ConflictError(f"asset {asset_id} still has {label}; remove them first")
    element_ids = select(Element.id).where(Element.asset_id == asset_id)
    if session.scalar(select(exists().where(Channel.element_id.in_(element_ids)))):
        raise ConflictError(f"asset {asset_id} still has channels; remove them first")
    for element in sorted(asset.elements, key=lambda e: e.parent_id is None):
        session.delete(element)
    reference = session.get(ModalReference, asset_id)
    if reference is not None:
        session.delete(reference)
    session.flush()
    session.delete(asset)
    record_audit(session, caller, "delete", "asset", asset_id, {"name": asset.name})
    commit_or_conflict(session, f"asset {asset_id}")


def _owned_element(session: SessionDep, element_id: DbId, organization_id: int) -> Element:
    element = session.get(Element, element_id)
    if element is None or element.asset.organization_id != organization_id:
        raise NotFoundError(f"element {element_id} not found")
    return element


def _check_parent(
    session: SessionDep, asset_id: DbId, parent_id: DbId | None, own: int | None
) -> None:
    if parent_id is None:
        return
    parent = session.get(Element, parent_id)
    if parent is None or parent.asset_id != asset_id:
        raise InvalidInputError(f"element {parent_id} is not part of this asset", field="parent_id")
    seen: set[int] = set()
    while parent is not None:
        if parent.id == own or parent.id in seen:
            raise InvalidInputError("would make the hierarchy a cycle", field="parent_id")
        seen.add(parent.id)
        parent = session.get(Element, parent.parent_id) if parent.parent_id else None


@router.post("/assets/{asset_id}/elements", status_code=status.HTTP_201_CREATED)
def create_element(
    asset_id: DbId, body: ElementCreate, session: SessionDep, caller: CallerDep
) -> ElementRead:
    """Add an element (span, pier, lining ring...) to an asset, optionally under a parent element
    of the same asset.
    """
    caller.require(Action.CONFIGURE)
    get_owned(session, Asset, asset_id, caller.organization_id)
    _check_parent(session, asset_id, body.parent_id, None)
    element = Element(asset_id=asset_id, **body.model_dump())
    session.add(element)
    flush_or_conflict(session, f"element {body.name!r}")
    record_audit(session, caller, "create", "element", element.id, {"name": element.name})
    commit_or_conflict(session, f"element {body.name!r}")
    return ElementRead.model_validate(element)


@router.get("/assets/{asset_id}/elements")
def list_elements(asset_id: DbId, session: SessionDep, caller: CallerDep) -> list[ElementRead]:
    """The elements of an asset, in creation order."""
    caller.require(Action.READ)
    get_owned(session, Asset, asset_id, caller.organization_id)
    elements = session.scalars(
        select(Element).where(Element.asset_id == asset_id).order_by(Element.id)
    )
    return [ElementRead.model_validate(e) for e in elements]


@router.get("/elements/{element_id}")
def get_element(element_id: DbId, session: SessionDep, caller: CallerDep) -> ElementRead:
    """One element of an asset of the caller's organisation."""
    caller.require(Action.READ)
    return ElementRead.model_validate(_owned_element(session, element_id, caller.organization_id))


@router.patch("/elements/{element_id}")
def update_element(
    element_id: DbId, body: ElementUpdate, session: SessionDep, caller: CallerDep
) -> ElementRead:
    """Change some fields of an element; only parent_id may be null (a top-level element). Cycles
    are refused.
    """
    caller.require(Action.CONFIGURE)
    element = _owned_element(session, element_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, frozenset({"parent_id", "construction_year"}))
    if "parent_id" in changes:
        _check_parent(session, element.asset_id, changes["parent_id"], element.id)
    for name, value in changes.items():
        if value is None and name not in ("parent_id", "construction_year"):
            raise InvalidInputError("may not be null", field=name)
        setattr(element, name, value)
    record_audit(session, caller, "update", "element", element.id, {"changed": sorted(changes)})
    commit_or_conflict(session, f"element {element.name!r}")
    return ElementRead.model_validate(element)


@router.delete("/elements/{element_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_element(element_id: DbId, session: SessionDep, caller: CallerDep) -> None:
    """Delete an element; refused (409) while it has child elements or channels."""
    caller.require(Action.DELETE)
    element = _owned_element(session, element_id, caller.organization_id)
    if session.scalar(select(exists().where(Element.parent_id == element_id))):
        raise ConflictError(f"element {element_id} has child elements; remove them first")
    if session.scalar(select(exists().where(Channel.element_id == element_id))):
        raise ConflictError(f"element {element_id} still has channels; remove them first")
    session.delete(element)
    record_audit(session, caller, "delete", "element", element_id, {"name": element.name})
    commit_or_conflict(session, f"element {element_id}")
