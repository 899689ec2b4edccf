"""Condition of an asset under a named standard (AASHTO MBEI, NBI, JTG/T H21, tunnel lining)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from infrasight.api.deps import CallerDep, SessionDep
from infrasight.core.domain import Action
from infrasight.services.condition import asset_condition

router = APIRouter(tags=["condition"])


@router.get("/assets/{asset_id}/condition")
def get_condition(
    asset_id: int,
    session: SessionDep,
    caller: CallerDep,
    standard: Annotated[
        str, Query(description="aashto-mbei | nbi | jtg-h21 | tunnel-lining (or an added file)")
    ],
) -> dict[str, Any]:
    """Per-element ratings, intermediate groups and the summary, each with clause and evidence.

    422 names an unknown standard or the value an element lacks; 404 for another organisation's
    asset.
    """
    caller.require(Action.READ)
    result = asset_condition(session, caller.organization_id, asset_id, standard)
    return {"asset_id": asset_id, **result.as_dict()}
