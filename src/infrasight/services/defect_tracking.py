"""Defects tracked across captures: each new capture of an element is registered to the
captures its tracked defects were last seen in, its defects are matched to them
(``measure.defect_tracking``), and each physical defect gets a history of sightings.

Runs in the transaction that stores a capture's crack analysis (``services/analysis.py``), so
it happens once per capture: a repeated job run, or another model version on the same capture,
adds no sightings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import NotFoundError
from infrasight.measure.defect_tracking import DefectShape, fit_growth, match_defects
from infrasight.measure.registration import RegistrationError, register_images
from infrasight.services.capture_pixels import defect_frame_pixels
from infrasight.storage.blobs import BlobStore
from infrasight.storage.models import Capture, CaptureAnalysis, Defect, DefectSighting, DefectTrack

__all__ = [
    "DETECTED",
    "NOT_DETECTED",
    "TrackingSettings",
    "defect_history",
    "defect_track",
    "track_analysis",
]

_log = logging.getLogger(__name__)

DETECTED = "detected"
NOT_DETECTED = "not_detected"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingSettings:
    """Tuning of the matching (see :func:`infrasight.measure.match_defects`)."""

    tolerance_px: float = 10.0
    min_overlap: float = 0.5
    max_pixels: int = 100_000_000


def _shape(defect: Defect) -> DefectShape | None:
    line = np.asarray(defect.geometry.get("polyline_px") or [], np.float64).reshape(-1, 2)
    return DefectShape(kind=defect.kind, polyline_px=line) if len(line) else None


def _references(
    session: Session, capture: Capture
) -> list[tuple[DefectTrack, DefectSighting, Defect]]:
    """Each track of the element with its newest detected sighting before ``capture``."""
    tracks = session.scalars(
        select(DefectTrack)
        .where(DefectTrack.element_id == capture.element_id)
        .order_by(DefectTrack.id)
    ).all()
    out = []
    for track in tracks:
        row = session.execute(
            select(DefectSighting, Defect)
            .join(Defect, DefectSighting.defect_id == Defect.id)
            .where(DefectSighting.track_id == track.id, DefectSighting.time <= capture.time)
            .where(DefectSighting.capture_id != capture.id)
            .order_by(DefectSighting.time.desc(), DefectSighting.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            out.append((track, row[0], row[1]))
    return out


def track_analysis(
    session: Session,
    blobs: BlobStore,
    capture: Capture,
    analysis: CaptureAnalysis,
    pixels: np.ndarray,
    *,
    settings: TrackingSettings | None = None,
) -> dict[str, int]:
    """Match the analysis's defects to the element's tracked defects and record sightings.

    Returns
    -------
    dict
        Counts: ``matched``, ``new``, ``not_detected``, ``out_of_view``, ``unregistered``.
    """
    cfg = settings or TrackingSettings()
    counts = {"matched": 0, "new": 0, "not_detected": 0, "out_of_view": 0, "unregistered": 0}
    if capture.element_id is None:
        return counts
    seen = session.scalar(
        select(DefectSighting.id).where(DefectSighting.capture_id == capture.id).limit(1)
    )
    if seen is not None:  # tracked with an earlier analysis of this capture
        return counts
    new_defects = [
        d
        for d in session.scalars(
            select(Defect).where(Defect.analysis_id == analysis.id).order_by(Defect.id)
        ).all()
        if _shape(d) is not None
    ]
    refs = _references(session, capture)
    registrations: dict[int, dict[str, Any]] = {}
    homographies: dict[int, np.ndarray | None] = {}
    for _track, sighting, _defect in refs:
        cid = sighting.capture_id
        if cid in registrations:
            continue
        ref_capture = session.get_one(Capture, cid)
        ref_pixels = defect_frame_pixels(session, blobs, ref_capture, max_pixels=cfg.max_pixels)
        try:
            reg = register_images(ref_pixels, pixels)
            homographies[cid] = reg.homography
            registrations[cid] = {"reference_capture_id": cid, **reg.to_dict()}
        except RegistrationError as err:
            same_size = ref_pixels.shape[:2] == pixels.shape[:2]
            homographies[cid] = np.eye(3) if same_size else None
            registrations[cid] = {"reference_capture_id": cid, "error": str(err)}
            _log.info("capture %s not registered to capture %s: %s", capture.id, cid, err)
    usable = [r for r in refs if homographies[r[1].capture_id] is not None]
    counts["unregistered"] = len(refs) - len(usable)
    earlier = []
    for _track, sighting, defect in usable:
        shape = _shape(defect)
        assert shape is not None
        h = homographies[sighting.capture_id]
        assert h is not None
        line = shape.polyline_px
        mapped = np.hstack([line, np.ones((len(line), 1))]) @ h.T
        earlier.append(DefectShape(kind=shape.kind, polyline_px=mapped[:, :2] / mapped[:, 2:3]))
    shapes = [s for s in (_shape(d) for d in new_defects) if s is not None]
    result = match_defects(
        earlier,
        shapes,
        homography=None,
        new_size=(pixels.shape[1], pixels.shape[0]),
        tolerance_px=cfg.tolerance_px,
        min_overlap=cfg.min_overlap,
    )
    for i, j, overlap in result.pairs:
        track, sighting, _ = usable[i]
        session.add(
            DefectSighting(
                track_id=track.id,
                capture_id=capture.id,
                defect_id=new_defects[j].id,
                time=capture.time,
                overlap=overlap,
                registration=registrations[sighting.capture_id],
            )
        )
        track.status = DETECTED
        track.last_seen_at = max(track.last_seen_at, capture.time)
    for i in result.not_detected:
        track, sighting, _ = usable[i]
        session.add(
            DefectSighting(
                track_id=track.id,
                capture_id=capture.id,
                defect_id=None,
                time=capture.time,
                registration=registrations[sighting.capture_id],
            )
        )
        if capture.time >= track.last_seen_at:
            track.status = NOT_DETECTED
    for j in result.new:
        d = new_defects[j]
        track = DefectTrack(
            organization_id=capture.organization_id,
            element_id=capture.element_id,
            kind=d.kind,
            status=DETECTED,
            first_seen_at=capture.time,
            last_seen_at=capture.time,
        )
        session.add(track)
        session.flush()
        session.add(
            DefectSighting(
                track_id=track.id,
                capture_id=capture.id,
                defect_id=d.id,
                time=capture.time,
                registration={},
            )
        )
    session.flush()
    counts.update(
        matched=len(result.pairs),
        new=len(result.new),
        not_detected=len(result.not_detected),
        out_of_view=len(result.out_of_view),
    )
    _log.info("capture %s tracked: %s", capture.id, counts)
    return counts


def defect_track(session: Session, organization_id: int, defect_id: int) -> DefectTrack | None:
    """The track a defect belongs to (None when its capture had no element).

    Raises
    ------
    NotFoundError
        No such defect in the organisation.
    """
    defect = session.get(Defect, defect_id)
    if defect is None or defect.organization_id != organization_id:
        raise NotFoundError(f"defect {defect_id} not found")
    track_id = session.scalar(
        select(DefectSighting.track_id).where(DefectSighting.defect_id == defect_id).limit(1)
    )
    return None if track_id is None else session.get(DefectTrack, track_id)


def _quantity(measurements: dict[str, Any], name: str) -> dict[str, Any] | None:
    q = measurements.get(name)
    if not isinstance(q, dict) or not isinstance(q.get("value"), int | float):
        return None
    return {"value": float(q["value"]), "std": float(q.get("std") or 0.0), "unit": q.get("unit")}


def defect_history(session: Session, organization_id: int, defect_id: int) -> dict[str, Any]:
    """The tracked defect's sightings (oldest first) with length and width, and growth rates.

    A sighting without a defect means the defect was not detected in that capture (sealed,
    repaired, or missed). Growth is a weighted straight-line fit over the detected sightings
    with a millimetre scale, per day.
    """
    track = defect_track(session, organization_id, defect_id)
    if track is None:
        defect = session.get_one(Defect, defect_id)
        capture = session.get_one(Capture, defect.capture_id)
        rows: list[tuple[DefectSighting | None, Defect | None, Capture]] = [(None, defect, capture)]
    else:
        rows = [
            (s, session.get(Defect, s.defect_id) if s.defect_id else None, c)
            for s, c in session.execute(
                select(DefectSighting, Capture)
                .join(Capture, DefectSighting.capture_id == Capture.id)
                .where(DefectSighting.track_id == track.id)
                .order_by(DefectSighting.time, DefectSighting.id)
            ).all()
        ]
    first_time = rows[0][2].time
    sightings = []
    series: dict[str, list[tuple[float, float, float]]] = {"length": [], "width_max": []}
    for s, d, c in rows:
        days = (c.time - first_time).total_seconds() / 86400.0
        entry: dict[str, Any] = {
            "capture_id": c.id,
            "inspection_id": c.inspection_id,
            "time": c.time.isoformat(),
            "days": round(days, 6),
            "detected": d is not None,
            "defect_id": None if d is None else d.id,
            "overlap": None if s is None else s.overlap,
            "registration": None if s is None else s.registration,
        }
        if d is not None:
            for name in series:
                q = _quantity(d.measurements, name)
                entry[name] = q
                if q is not None and q["unit"] == "mm":
                    series[name].append((days, q["value"], q["std"]))
        sightings.append(entry)
    growth: dict[str, Any] = {}
    for name, points in series.items():
        arr = np.asarray(points, np.float64).reshape(-1, 3)
        fit = fit_growth(arr[:, 0], arr[:, 1], arr[:, 2]) if len(arr) else None
        growth[name] = None if fit is None else {**fit.as_dict(), "unit": "mm"}
    return {
        "defect_id": defect_id,
        "track_id": None if track is None else track.id,
        "element_id": None if track is None else track.element_id,
        "kind": rows[0][1].kind if rows[0][1] is not None else (track.kind if track else ""),
        "status": DETECTED if track is None else track.status,
        "first_seen_at": first_time.isoformat(),
        "last_seen_at": (track.last_seen_at if track else first_time).isoformat(),
        "sightings": sightings,
        "growth": growth,
    }
