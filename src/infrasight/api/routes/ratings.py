"""Inspector-recorded condition ratings and the deterioration forecast fitted to them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import Field
from sqlalchemy import select

from infrasight.api.deps import CallerDep, LocaleDep, SessionDep
from infrasight.api.routes.common import ReadModel, RequestModel, get_owned
from infrasight.core.domain import Action
from infrasight.locales.phrases import evidence_translator
from infrasight.services.ratings import deterioration_forecast, record_rating
from infrasight.storage.models import Asset, ConditionRatingRecord

router = APIRouter(tags=["condition"])


class RatingCreate(RequestModel):
    element_id: int
    standard: str = Field(min_length=1, max_length=60, examples=["aashto-mbei", "nbi"])
    rating: int = Field(description="in the standard's recorded range (CS 1-4, NBI 0-9, ...)")
    inspected_at: datetime
    inspector: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=4000)


class RatingRead(ReadModel):
    id: int
    asset_id: int
    element_id: int
    standard: str
    rating: int
    inspected_at: datetime
    inspector: str
    note: str
    created_at: datetime


@router.post("/assets/{asset_id}/ratings", status_code=status.HTTP_201_CREATED)
def post_rating(
    asset_id: int, body: RatingCreate, session: SessionDep, caller: CallerDep
) -> RatingRead:
    """Record an inspector's rating (422 names an unknown standard or an out-of-range rating)."""
    caller.require(Action.FIELD_WORK)
    row = record_rating(session, caller, asset_id, **body.model_dump())
    session.commit()
    return RatingRead.model_validate(row)


@router.get("/assets/{asset_id}/ratings")
def list_ratings(asset_id: int, session: SessionDep, caller: CallerDep) -> list[RatingRead]:
    """The asset's recorded ratings, oldest first."""
    caller.require(Action.READ)
    get_owned(session, Asset, asset_id, caller.organization_id)
    rows = session.scalars(
        select(ConditionRatingRecord)
        .where(ConditionRatingRecord.asset_id == asset_id)
        .order_by(ConditionRatingRecord.inspected_at, ConditionRatingRecord.id)
    ).all()
    return [RatingRead.model_validate(r) for r in rows]


@router.get("/assets/{asset_id}/deterioration")
def get_deterioration(
    asset_id: int,
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
    standard: Annotated[str, Query()] = "aashto-mbei",
) -> dict[str, Any]:
    """Markov deterioration fitted to the recorded ratings; per element: time to the next state
    and the probability of reaching it within 30/90/365 days (``why_none``, where there is no
    forecast, in the reader's language)."""
    caller.require(Action.READ)
    out = deterioration_forecast(session, caller.organization_id, asset_id, standard)
    t = evidence_translator(locale)
    for entry in out.get("elements", []):
        if entry.get("why_none"):
            entry["why_none"] = t.optional(str(entry["why_none"]))
    return out
