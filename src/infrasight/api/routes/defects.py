"""Defects: an inspector's review of a detection (kept as a label for later training)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import ConfigDict, Field
from sqlalchemy import select

from infrasight.api.deps import CallerDep, SessionDep
from infrasight.api.routes.common import DbId, ReadModel, RequestModel, get_owned
from infrasight.core.domain import Action
from infrasight.services.defect_reviews import MAX_NOTE, review_defect
from infrasight.services.defect_tracking import defect_history
from infrasight.storage.models import Defect, DefectReview

router = APIRouter(tags=["defects"])


class DefectReviewCreate(RequestModel):
    verdict: Literal["confirmed", "rejected"] = Field(
        description="confirmed: a real defect; rejected: not a defect (e.g. a formwork joint)"
    )
    note: str = Field(default="", max_length=MAX_NOTE)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"verdict": "rejected", "note": "formwork joint"}]}
    )


class DefectReviewRead(ReadModel):
    id: int
    defect_id: int
    verdict: str
    note: str
    reviewer: str
    created_at: datetime


@router.post("/defects/{defect_id}/review", status_code=status.HTTP_201_CREATED)
def create_review(
    defect_id: int, body: DefectReviewCreate, session: SessionDep, caller: CallerDep
) -> DefectReviewRead:
    """Confirm or reject a detected defect (inspector or above); the newest review counts.

    Reviews are kept (who, when, verdict, note), audited, and exported as training data by
    `infrasight cracks export-reviews`.
    """
    caller.require(Action.FIELD_WORK)
    review = review_defect(session, caller, defect_id, body.verdict, body.note)
    session.commit()
    return DefectReviewRead.model_validate(review)


@router.get("/defects/{defect_id}/reviews")
def list_reviews(defect_id: int, session: SessionDep, caller: CallerDep) -> list[DefectReviewRead]:
    """Every review of the defect, oldest first."""
    get_owned(session, Defect, defect_id, caller.organization_id)
    rows = session.scalars(
        select(DefectReview).where(DefectReview.defect_id == defect_id).order_by(DefectReview.id)
    )
    return [DefectReviewRead.model_validate(r) for r in rows]


@router.get("/defects/{defect_id}/history")
def get_history(defect_id: DbId, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    """The physical defect across captures of its element: every sighting (matched defect,
    length and width with uncertainty, overlap and registration, or not detected), its status
    and growth rates (mm per day)."""
    caller.require(Action.READ)
    return defect_history(session, caller.organization_id, defect_id)
