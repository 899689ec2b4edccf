"""Inspectors confirm or reject detected defects; the verdicts become training data.

A review is kept as its own row (who, when, verdict, note), the newest one counts, and each is
audited. ``export_reviews`` writes the reviewed captures as an images/masks data set that a later
training run can read: confirmed cracks are crack pixels, rejected detections are labelled
background (hard negatives, e.g. formwork joints), and detections nobody reviewed are marked
"ignore" so they teach nothing either way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.services.capture_pixels import analysis_pixels
from infrasight.storage.blobs import BlobStore
from infrasight.storage.models import Capture, CaptureAnalysis, Defect, DefectReview

__all__ = [
    "EXPORT_LABELS",
    "ExportSummary",
    "Verdict",
    "export_reviews",
    "latest_reviews",
    "review_defect",
]

_LOGGER = logging.getLogger(__name__)
MAX_NOTE = 2000

#: Grey values of the exported masks.
EXPORT_LABELS = {"background": 0, "ignore": 128, "crack": 255}


class Verdict(StrEnum):
    """What an inspector says of a detection."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"


def review_defect(
    session: Session, caller: Principal, defect_id: int, verdict: str, note: str = ""
) -> DefectReview:
    """Record ``caller``'s verdict on the defect (in the caller's organisation), audited."""
    try:
        value = Verdict(verdict)
    except ValueError as err:
        allowed = ", ".join(v.value for v in Verdict)
        raise InvalidInputError(
            f"verdict must be one of {allowed}, got {verdict!r}", field="verdict"
        ) from err
    if len(note) > MAX_NOTE:
        raise InvalidInputError(f"note is longer than {MAX_NOTE} characters", field="note")
    defect = session.get(Defect, defect_id)
    if defect is None or defect.organization_id != caller.organization_id:
        raise NotFoundError(f"defect {defect_id} not found")
    review = DefectReview(
        organization_id=caller.organization_id,
        defect_id=defect.id,
        verdict=value.value,
        note=note,
        reviewer=caller.name,
    )
    session.add(review)
    session.flush()
    record_audit(
        session, caller, "review", "defect", defect.id, {"verdict": value.value, "note": note}
    )
    _LOGGER.info("defect %s %s by %s", defect.id, value.value, caller.name)
    return review


def latest_reviews(session: Session, defect_ids: list[int]) -> dict[int, DefectReview]:
    """The newest review of each of ``defect_ids`` that has one."""
    if not defect_ids:
        return {}
    rows = session.scalars(
        select(DefectReview)
        .where(DefectReview.defect_id.in_(defect_ids))
        .order_by(DefectReview.defect_id, DefectReview.id)
    )
    return {row.defect_id: row for row in rows}  # the last (newest) per defect wins


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportSummary:
    """What ``export_reviews`` wrote."""

    images: int
    confirmed: int
    rejected: int
    unreviewed: int


def _defect_region(
    mask: NDArray[np.bool_], defect: Defect, *, margin_px: int = 3
) -> NDArray[np.bool_]:
    """The analysis-mask pixels of one defect: inside its bounding box and connected to its
    centreline (within ``margin_px``)."""
    region = np.zeros(mask.shape, np.uint8)
    x, y, w, h = (int(v) for v in defect.geometry.get("bbox", (0, 0, 0, 0)))
    box = np.zeros(mask.shape, bool)
    box[max(y, 0) : y + h, max(x, 0) : x + w] = True
    line = np.asarray(defect.geometry.get("polyline_px", []), dtype=np.float64)
    if line.ndim == 2 and len(line) >= 2:
        pts = np.round(line).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(region, [pts], False, 1, 2 * margin_px + 1)
    near = region.astype(bool)
    return (mask & box) | (near & box) if near.any() else mask & box


def export_reviews(
    session: Session, blobs: BlobStore, organization_id: int, out: Path, *, max_pixels: int
) -> ExportSummary:
    """Write ``out/images/<capture>.png`` and ``out/masks/<capture>.png`` for every capture with
    at least one reviewed defect, plus ``out/reviews.json`` (provenance) and ``out/README.txt``.

    Masks: 255 confirmed crack, 0 background (including rejected detections), 128 ignore
    (detections not reviewed). Pixels are those every analysis works on (upright, undistorted).
    """
    reviewed = session.scalars(
        select(Defect)
        .join(DefectReview, DefectReview.defect_id == Defect.id)
        .where(Defect.organization_id == organization_id)
        .distinct()
    ).all()
    if not reviewed:
        raise InvalidInputError("no reviewed defects to export in this organisation")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    capture_ids = sorted({d.capture_id for d in reviewed})
    counts = {"confirmed": 0, "rejected": 0, "unreviewed": 0}
    provenance = []
    for capture_id in capture_ids:
        capture = session.get(Capture, capture_id)
        if capture is None:  # pragma: no cover - defects reference their capture
            continue
        defects = session.scalars(
            select(Defect).where(Defect.capture_id == capture_id).order_by(Defect.id)
        ).all()
        verdicts = latest_reviews(session, [d.id for d in defects])
        pixels, _ = analysis_pixels(session, blobs, capture, max_pixels=max_pixels)
        label = np.zeros(pixels.shape[:2], np.uint8)
        masks: dict[int, NDArray[np.bool_]] = {}
        for d in defects:
            analysis = session.get(CaptureAnalysis, d.analysis_id)
            sha = analysis.mask_sha256 if analysis is not None else None
            if sha is None:
                continue
            if d.analysis_id not in masks:
                raw = cv2.imdecode(np.frombuffer(blobs.get(sha), np.uint8), cv2.IMREAD_GRAYSCALE)
                masks[d.analysis_id] = np.asarray(raw) > 0
            region = _defect_region(masks[d.analysis_id], d)
            review = verdicts.get(d.id)
            state = "unreviewed" if review is None else review.verdict
            counts[state] += 1
            if state == "unreviewed":
                label[region & (label != EXPORT_LABELS["crack"])] = EXPORT_LABELS["ignore"]
            elif state == Verdict.CONFIRMED:
                label[region] = EXPORT_LABELS["crack"]
            provenance.append(
                {
                    "capture_id": capture_id,
                    "defect_id": d.id,
                    "model_version": d.model_version,
                    "verdict": state,
                    "reviewer": None if review is None else review.reviewer,
                    "reviewed_at": None if review is None else review.created_at.isoformat(),
                }
            )
        rgb = np.asarray(pixels)
        if rgb.dtype != np.uint8:
            rgb = np.asarray(np.clip(rgb / 257.0, 0, 255), np.uint8)
        bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
        cv2.imwrite(str(out / "images" / f"capture-{capture_id}.png"), bgr)
        cv2.imwrite(str(out / "masks" / f"capture-{capture_id}.png"), label)
    (out / "reviews.json").write_text(json.dumps(provenance, indent=1))
    (out / "README.txt").write_text(
        "InfraSight reviewed detections: images/<stem>.png with masks/<stem>.png (same stem).\n"
        "Mask grey values: 255 crack confirmed by an inspector; 0 background, including\n"
        "detections an inspector rejected (hard negatives); 128 detections nobody reviewed\n"
        "(ignore them in training). reviews.json lists each defect, its verdict and reviewer.\n"
    )
    return ExportSummary(images=len(capture_ids), **counts)
