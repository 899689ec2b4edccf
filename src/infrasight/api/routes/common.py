"""Helpers shared by the resource routers: tenant-scoped lookup, paging, commits."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infrasight.core.errors import ConflictError, NotFoundError

__all__ = [
    "Limit",
    "Offset",
    "Page",
    "ReadModel",
    "commit_or_conflict",
    "flush_or_conflict",
    "get_owned",
    "page_of",
]

T = TypeVar("T")
M = TypeVar("M")
R = TypeVar("R", bound="ReadModel")

Limit = Annotated[int, Query(ge=1, le=1000, description="Most items to return")]
Offset = Annotated[int, Query(ge=0, description="Items to skip")]


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
    """The object of ``model`` with this id in the caller's organisation, else 404."""
    obj = session.get(model, object_id)
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
    """Commit; a uniqueness clash becomes a 409 naming ``what``."""
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise ConflictError(f"{what} already exists or is still referenced") from err
