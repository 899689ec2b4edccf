"""An inspector records a defect seen on a capture: its kind, crack orientation, where on the
element it lies and its width. The row is what a detection stores (kind, geometry,
measurements), marked as the inspection's, and the element's hazards are re-evaluated as for a
detection (a ``hazards_due`` row in the same transaction)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.core.events import DefectsStored
from infrasight.reasoning.causes.positions import load_position_rules, position_on_element
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.storage.models import Capture, CaptureAnalysis, Defect, Element

__all__ = ["INSPECTION_MODEL", "ORIENTATIONS", "DefectRecord", "RecordedDefect", "record_defect"]

_log = logging.getLogger(__name__)

INSPECTION_MODEL = "inspection"
"""``CaptureAnalysis.model_name`` (and ``Defect.model_version``) of defects a person recorded."""

ORIENTATIONS = frozenset({"transverse", "diagonal", "longitudinal", "map", "vertical"})
"""Crack orientations to the element axis (map: a pattern without one direction)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectRecord:
    """A defect as an inspector records it on a capture.

    ``position`` is a word of the position vocabulary (``reasoning/causes/positions.toml``);
    without it, ``face`` and ``span_fraction`` (0 and 1 at the supports, dimensionless) give it
    by the rules there. ``width_mm`` and ``length_mm`` in mm.
    """

    kind: str
    orientation: str = ""
    position: str = ""
    face: str = ""
    span_fraction: float | None = None
    width_mm: float | None = None
    length_mm: float | None = None
    element_id: int | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedDefect:
    """The stored row and the event to publish after the commit."""

    defect: Defect
    event: DefectsStored


def _validated(spec: DefectRecord) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(kind, geometry, measurements) of a valid record; InvalidInputError naming the field."""
    kind = spec.kind.strip().lower()
    if not kind or len(kind) > 40:
        raise InvalidInputError("must be 1-40 characters", field="kind")
    orientation = spec.orientation.strip().lower()
    if orientation and orientation not in ORIENTATIONS:
        raise InvalidInputError(f"must be one of {sorted(ORIENTATIONS)}", field="orientation")
    rules = load_position_rules()
    face = spec.face.strip().lower()
    if face and face not in rules.faces:
        raise InvalidInputError(f"must be one of {sorted(rules.faces)}", field="face")
    span = spec.span_fraction
    if span is not None and not 0.0 <= span <= 1.0:
        raise InvalidInputError("is a fraction of the span, 0 to 1", field="span_fraction")
    if span is not None and not face:
        raise InvalidInputError("needs the face it lies on", field="span_fraction")
    position = spec.position.strip().lower()
    if position and position not in rules.positions:
        raise InvalidInputError(f"must be one of {sorted(rules.positions)}", field="position")
    if not position and face:
        position = position_on_element(face, span, rules)
    for name, value in (("width_mm", spec.width_mm), ("length_mm", spec.length_mm)):
        if value is not None and not 0.0 < value < 1e5:
            raise InvalidInputError("must be > 0 mm", field=name)
    geometry: dict[str, Any] = {"position": position} if position else {}
    if face:
        geometry["face"] = face
    if span is not None:
        geometry["span_fraction"] = span
    measurements: dict[str, Any] = {"unit": "mm"}
    if orientation:
        measurements["orientation"] = orientation
    if spec.width_mm is not None:
        measurements["width_max"] = {"value": spec.width_mm}
    if spec.length_mm is not None:
        measurements["length"] = {"value": spec.length_mm}
    if spec.note:
        measurements["note"] = spec.note
    return kind, geometry, measurements


def record_defect(
    session: Session, caller: Principal, capture_id: int, spec: DefectRecord
) -> RecordedDefect:
    """Store ``spec`` as a defect of the capture (in the caller's organisation), audited, and
    make the element's hazards due. The element is the capture's unless ``spec`` names one of
    the same asset; a capture placed on no element needs one named.

    Raises
    ------
    NotFoundError
        The capture or the element does not exist in the caller's organisation.
    InvalidInputError
        A field out of range (named), or no element to record the defect on.
    """
    from infrasight.services.hazard_effects import hazards_due

    capture = session.get(Capture, capture_id)
    if capture is None or capture.organization_id != caller.organization_id:
        raise NotFoundError(f"capture {capture_id} not found")
    kind, geometry, measurements = _validated(spec)
    element_id = spec.element_id if spec.element_id is not None else capture.element_id
    if element_id is None:
        raise InvalidInputError("the capture is on no element: name one", field="element_id")
    element = session.get(Element, element_id)
    if element is None or element.asset_id != capture.asset_id:
        raise NotFoundError(f"element {element_id} not found on asset {capture.asset_id}")
    run = session.scalars(
        select(CaptureAnalysis).where(
            CaptureAnalysis.capture_id == capture.id,
            CaptureAnalysis.model_name == INSPECTION_MODEL,
        )
    ).first()
    if run is None:
        run = CaptureAnalysis(
            capture_id=capture.id, model_name=INSPECTION_MODEL, model_version=INSPECTION_MODEL
        )
        session.add(run)
        session.flush()
    defect = Defect(
        organization_id=caller.organization_id,
        capture_id=capture.id,
        analysis_id=run.id,
        element_id=element.id,
        kind=kind,
        confidence=1.0,
        model_version=INSPECTION_MODEL,
        geometry=geometry,
        measurements=measurements,
    )
    session.add(defect)
    session.flush()
    record_audit(
        session,
        caller,
        "defect.record",
        "defect",
        defect.id,
        {"capture_id": capture.id, "kind": kind, **geometry},
    )
    hazards_due(session, caller.organization_id, {capture.asset_id: [element.id]})
    _log.info("defect %s recorded on capture %s by %s", defect.id, capture.id, caller.name)
    return RecordedDefect(
        defect=defect,
        event=DefectsStored(
            organization_id=caller.organization_id, capture_id=capture.id, defect_ids=(defect.id,)
        ),
    )
