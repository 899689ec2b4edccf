"""Condition of an asset under a named standard, from its stored elements and defects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import NotFoundError
from infrasight.reasoning.standards import (
    AssetCondition,
    DefectObservation,
    ElementObservation,
    StandardRegistry,
    load_standards,
    rate_condition,
)
from infrasight.storage.models import Asset, Defect, Element

__all__ = ["asset_condition", "element_observations"]

# stored material names -> the material keys the standards use
_MATERIALS = {
    "reinforced concrete": "rc",
    "precast concrete": "rc",
    "concrete": "rc",
    "rc": "rc",
    "prestressed concrete": "psc",
    "psc": "psc",
    "steel": "steel",
    "weathering steel": "steel",
}


def _width_mm(measurements: dict[str, Any]) -> float | None:
    if measurements.get("unit") != "mm":
        return None
    width = measurements.get("width_max")
    if isinstance(width, dict) and isinstance(width.get("value"), int | float):
        return float(width["value"])
    return None


def _region(defect: Defect) -> str:
    bbox = defect.geometry.get("bbox") if isinstance(defect.geometry, dict) else None
    if isinstance(bbox, list) and len(bbox) == 4:
        return f"capture:{defect.capture_id}#bbox={','.join(str(int(v)) for v in bbox)}"
    return f"capture:{defect.capture_id}"


def element_observations(session: Session, asset_id: int) -> list[ElementObservation]:
    """The asset's elements with their stored defects, as the standards read them.

    A crack's width is its measured maximum width when the capture had a scale (mm); cracks
    measured only in pixels carry no width, so a standard that needs one says so.
    """
    elements = session.scalars(
        select(Element).where(Element.asset_id == asset_id).order_by(Element.id)
    ).all()
    defects = session.scalars(
        select(Defect).where(Defect.element_id.in_([e.id for e in elements])).order_by(Defect.id)
    ).all()
    by_element: dict[int, list[DefectObservation]] = {}
    for d in defects:
        width = _width_mm(d.measurements)
        by_element.setdefault(d.element_id or 0, []).append(
            DefectObservation(
                defect_id=str(d.id),
                kind=d.kind,
                measurements={} if width is None else {"width_mm": width},
                region=_region(d),
            )
        )
    out = []
    for e in elements:
        attrs = {}
        material = _MATERIALS.get(e.material.strip().lower())
        if material:
            attrs["material"] = material
        out.append(
            ElementObservation(
                element_id=f"{e.id} {e.name}",
                element_type=e.kind,
                attributes=attrs,
                defects=tuple(by_element.get(e.id, [])),
            )
        )
    return out


def asset_condition(
    session: Session,
    organization_id: int,
    asset_id: int,
    standard: str,
    registry: StandardRegistry | None = None,
) -> AssetCondition:
    """Rate the asset's elements under ``standard``.

    Raises
    ------
    NotFoundError
        No such asset in the organisation.
    UnknownStandardError, MissingElementDataError, OutOfRangeError
        From the standard (HTTP 422 / CLI exit 2), naming what is wrong.
    """
    asset = session.get(Asset, asset_id)
    if asset is None or asset.organization_id != organization_id:
        raise NotFoundError(f"asset {asset_id} not found")
    reg = registry if registry is not None else load_standards()
    reg.get(standard)  # unknown standard before anything else
    return rate_condition(reg, standard, element_observations(session, asset_id))
