"""Condition of an asset under a named standard (AASHTO MBEI, NBI, JTG/T H21, tunnel lining)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from infrasight.api.deps import CallerDep, LocaleDep, SessionDep
from infrasight.core.domain import Action
from infrasight.locales import Translator
from infrasight.locales.phrases import (
    evidence_translator,
    localised_detail,
    localised_test,
    localised_text,
)
from infrasight.services.condition import asset_condition

router = APIRouter(tags=["condition"])


def _localised(rating: dict[str, Any], t: Translator) -> dict[str, Any]:
    """A rating's label, clause and evidence details in ``t``'s locale (the ``*message`` fields
    keep the keys and numbers)."""
    return {
        **rating,
        "label": localised_text(rating.get("label_message"), str(rating["label"]), t),
        "clause": localised_text(rating.get("clause_message"), str(rating["clause"]), t),
        "evidence": [
            {
                **e,
                "test": localised_test(e.get("test_message"), str(e.get("test", "")), t),
                "detail": localised_detail(e.get("message"), str(e.get("detail", "")), t),
            }
            for e in rating.get("evidence", [])
        ],
    }


@router.get("/assets/{asset_id}/condition")
def get_condition(
    asset_id: int,
    session: SessionDep,
    caller: CallerDep,
    standard: Annotated[
        str, Query(description="aashto-mbei | nbi | jtg-h21 | tunnel-lining (or an added file)")
    ],
    locale: LocaleDep,
) -> dict[str, Any]:
    """Per-element ratings, intermediate groups and the summary, each with clause and evidence,
    in the language ``Accept-Language`` asks for (else the user's own).

    422 names an unknown standard or the value an element lacks; 404 for another organisation's
    asset.
    """
    caller.require(Action.READ)
    result = asset_condition(session, caller.organization_id, asset_id, standard)
    t = evidence_translator(locale)
    return {
        "asset_id": asset_id,
        "standard": result.standard,
        "elements": [_localised(r.as_dict(), t) for r in result.elements],
        "groups": [_localised(r.as_dict(), t) for r in result.groups],
        "summary": _localised(result.summary.as_dict(), t),
    }
