"""Recommendations for a hazard: its top cause, risk band, activity and the element's exposure,
ranked by the remediation catalogue (reasoning/remediation)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.reasoning.remediation import (
    Activity,
    Recommendation,
    RemediationCatalogue,
    infer_activity,
    recommend,
)
from infrasight.storage.models import Defect, Element, Hazard, HazardEvidenceLink

__all__ = ["HazardRecommendations", "element_exposure", "hazard_recommendations"]

_DEFECT_REF = re.compile(r"^defect:(\d+)")
EXPOSURES = frozenset({"chloride", "freeze_thaw"})


@dataclass(frozen=True, slots=True, kw_only=True)
class HazardRecommendations:
    """The ranked actions for one hazard and what they were ranked on."""

    hazard: Hazard
    mechanism: str
    band: str
    activity: Activity
    activity_inferred: bool
    exposure: frozenset[str]
    recommendations: tuple[Recommendation, ...]


def element_exposure(element: Element | None) -> frozenset[str]:
    """Exposures of an element from its EN 206 exposure class (XD/XS chloride, XF freeze)."""
    if element is None:
        return frozenset()
    cls = element.exposure_class.strip().upper()
    out = set()
    if cls.startswith(("XD", "XS")):
        out.add("chloride")
    if cls.startswith("XF"):
        out.add("freeze_thaw")
    return frozenset(out)


def hazard_recommendations(
    session: Session,
    organization_id: int,
    hazard_id: int,
    catalogue: RemediationCatalogue,
    *,
    activity: Activity | None = None,
    exposure: frozenset[str] | None = None,
) -> HazardRecommendations:
    """Rank the catalogue's actions for a hazard of the organisation.

    ``activity`` and ``exposure`` override what is read from the hazard's evidence and its
    element.

    Raises
    ------
    NotFoundError
        No such hazard in the organisation.
    InvalidInputError
        An unknown exposure (field ``exposure``).
    """
    hazard = session.get(Hazard, hazard_id)
    if hazard is None or hazard.organization_id != organization_id:
        raise NotFoundError(f"hazard {hazard_id} not found")
    if exposure is not None and exposure - EXPOSURES:
        raise InvalidInputError(
            f"unknown exposure {sorted(exposure - EXPOSURES)}; known: {sorted(EXPOSURES)}",
            field="exposure",
        )
    evidence = session.execute(
        select(HazardEvidenceLink.kind, HazardEvidenceLink.ref).where(
            HazardEvidenceLink.hazard_id == hazard.id
        )
    ).all()
    defect_ids = [int(m.group(1)) for _, ref in evidence if (m := _DEFECT_REF.match(ref))]
    defect_kinds = (
        session.scalars(select(Defect.kind).where(Defect.id.in_(defect_ids))).all()
        if defect_ids
        else []
    )
    mechanism = hazard.causes[0]["mechanism"] if hazard.causes else hazard.mechanism
    inferred = activity is None
    act = (
        activity
        if activity is not None
        else infer_activity(
            catalogue,
            mechanism=mechanism,
            evidence_kinds=[k for k, _ in evidence],
            defect_kinds=defect_kinds,
        )
    )
    element = session.get(Element, hazard.element_id) if hazard.element_id is not None else None
    exp = exposure if exposure is not None else element_exposure(element)
    recs = recommend(
        catalogue, mechanism=mechanism, band=hazard.risk_band, activity=act, exposure=exp
    )
    return HazardRecommendations(
        hazard=hazard,
        mechanism=mechanism,
        band=hazard.risk_band,
        activity=act,
        activity_inferred=inferred,
        exposure=exp,
        recommendations=recs,
    )
