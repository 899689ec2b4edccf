"""Helpers shared by the resource routers: tenant-scoped lookup, paging, commits."""

from __future__ import annotations

import re
import types
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from annotated_types import Ge, Le
from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator
from sqlalchemy import Select, func, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from infrasight.core.errors import ConflictError, InvalidInputError, NotFoundError
from infrasight.services.auth import Principal
from infrasight.storage.models import Asset, Device, Element, Inspection

__all__ = [
    "MAX_ID",
    "DbId",
    "IsoTime",
    "Limit",
    "Offset",
    "Page",
    "ReadModel",
    "RequestModel",
    "check_references",
    "commit_or_conflict",
    "flush_or_conflict",
    "get_owned",
    "page_of",
    "parse_form_time",
    "reject_nulls",
]

T = TypeVar("T")
M = TypeVar("M")
R = TypeVar("R", bound="ReadModel")

MAX_ID = 2**63 - 1
"""Ids and offsets are signed 64-bit integers in every backend."""

DbId = Annotated[int, Ge(1), Le(MAX_ID)]
"""An object id: a positive signed 64-bit integer (larger ones are a 422, not a 500)."""


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _iso_only(value: object) -> object:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an ISO-8601 date-time string, not a number")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]
"""A date-time given as ISO-8601 text (numbers are refused, as the schema says)."""

Limit = Annotated[int, Query(ge=1, le=1000, description="Most items to return")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip")]


def _numeric_shape(annotation: object) -> str | None:
    """``"scalar"`` or ``"list"`` where ``annotation`` is a number (or a list of numbers)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _numeric_shape(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        shapes = {_numeric_shape(arg) for arg in get_args(annotation)} - {None}
        return shapes.pop() if len(shapes) == 1 else None
    if origin in (list, tuple, set, frozenset):
        numeric = any(_numeric_shape(arg) == "scalar" for arg in get_args(annotation))
        return "list" if numeric else None
    if annotation in (int, float):
        return "scalar"
    return None


def _is_time(annotation: object) -> bool:
    """Whether ``annotation`` is a date-time (possibly optional or annotated)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_time(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_is_time(arg) for arg in get_args(annotation))
    return annotation is datetime


class RequestModel(BaseModel):
    """Base of request bodies: a JSON ``true``/``false`` is not a number.

    Pydantic's lax mode reads ``true`` as ``1`` and a number as a Unix time; the schema says
    ``integer``/``number`` and ``date-time`` text, so a boolean given for a number (or inside a
    list of numbers) or a number given for a date-time is a 422 naming the field.
    """

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            key = field.alias or name
            if key not in data:
                continue
            value = data[key]
            if _is_time(field.annotation) and isinstance(value, int | float):
                raise InvalidInputError(
                    "expected an ISO-8601 date-time string, not a number", field=key
                )
            shape = _numeric_shape(field.annotation)
            if shape == "scalar" and isinstance(value, bool):
                raise InvalidInputError("expected a number, not a boolean", field=key)
            if (
                shape == "list"
                and isinstance(value, list)
                and any(isinstance(item, bool) for item in value)
            ):
                raise InvalidInputError("expected numbers, not booleans", field=key)
        return data


class ReadModel(BaseModel):
    """Base of the ``XRead`` schemas: built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    limit: int
    offset: int


def get_owned(session: Session, model: type[M], object_id: int, organization_id: int) -> M:
    """The object of ``model`` with this id in the caller's organisation, else 404.

    An id beyond what the id column holds (PostgreSQL ``integer`` is 32-bit) names no object:
    404, as on SQLite, not the database's out-of-range error.
    """
    try:
        obj = session.get(model, object_id)
    except DataError as err:
        session.rollback()
        raise NotFoundError(f"{model.__name__.lower()} {object_id} not found") from err
    owner = getattr(obj, "organization_id", None) if obj is not None else None
    if obj is None or owner != organization_id:
        raise NotFoundError(f"{model.__name__.lower()} {object_id} not found")
    return obj


def page_of(
    session: Session, query: Select[Any], limit: int, offset: int, schema: type[R]
) -> Page[R]:
    """One page of ``query`` as ``schema`` items, with the total count."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.limit(limit).offset(offset))
    items = [schema.model_validate(row) for row in rows]
    return Page[R](items=items, total=int(total or 0), limit=limit, offset=offset)


def flush_or_conflict(session: Session, what: str) -> None:
    """Flush; a uniqueness clash becomes a 409 naming ``what`` (the transaction is rolled back)."""
    try:
        session.flush()
    except IntegrityError as err:
        session.rollback()
        raise ConflictError(f"{what} already exists") from err


def commit_or_conflict(session: Session, what: str) -> None:
    """Commit; a uniqueness clash becomes a 409 naming ``what``; an object that another
    request deleted meanwhile (the update matched no row) is a 404."""
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise ConflictError(f"{what} already exists or is still referenced") from err
    except StaleDataError as err:
        session.rollback()
        raise NotFoundError(f"{what} was deleted meanwhile") from err


def parse_form_time(value: str, field: str) -> datetime:
    """An ISO-8601 form field as an aware datetime (UTC when it has no offset)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise InvalidInputError(
            f"malformed time {value!r} (ISO-8601 expected)", field=field
        ) from err
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_references(
    session: Session,
    caller: Principal,
    asset_id: int,
    *,
    element_id: int | None = None,
    device_id: int | None = None,
    inspection_id: int | None = None,
) -> None:
    """Check that an upload's asset, element, device and inspection exist in the caller's
    organisation (the element within the asset; a device uploading only as itself)."""
    org = caller.organization_id
    asset = session.get(Asset, asset_id)
    if asset is None or asset.organization_id != org:
        raise InvalidInputError(f"asset {asset_id} not found", field="asset_id")
    if element_id is not None:
        element = session.get(Element, element_id)
        if element is None or element.asset_id != asset_id:
            raise InvalidInputError(
                f"element {element_id} is not part of asset {asset_id}", field="element_id"
            )
    if device_id is not None:
        device = session.get(Device, device_id)
        if device is None or device.organization_id != org:
            raise InvalidInputError(f"device {device_id} not found", field="device_id")
        if caller.device_id is not None and device_id != caller.device_id:
            raise InvalidInputError("a device may only upload as itself", field="device_id")
    if inspection_id is not None:
        inspection = session.get(Inspection, inspection_id)
        if inspection is None or inspection.organization_id != org:
            raise InvalidInputError(f"inspection {inspection_id} not found", field="inspection_id")


def reject_nulls(changes: dict[str, Any], nullable: frozenset[str] = frozenset()) -> None:
    """422 naming the first field of a partial update set to null that may not be null.

    Checked before anything is applied, so a rejected update writes nothing.
    """
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise InvalidInputError("may not be null", field=name)
