"""Background analysis of captures and records, run through the job interface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.events import DefectsStored
from infrasight.jobs.runner import JobContext
from infrasight.services.capture_pixels import analysis_pixels, defect_frame_pixels
from infrasight.services.crack_analysis import CRACK_MODEL, analyse_cracks
from infrasight.services.defect_tracking import TrackingSettings, track_analysis
from infrasight.services.displacement import track_capture
from infrasight.storage.models import Capture, CaptureAnalysis, Defect, Record
from infrasight.vision.cracks import default_segmenter

if TYPE_CHECKING:
    from infrasight.platform import Platform

__all__ = ["ANALYSE_CAPTURE", "ANALYSE_RECORD", "TRACK_EDGE_CAPTURE", "register_analysis"]

ANALYSE_CAPTURE = "analyse_capture"
ANALYSE_RECORD = "analyse_record"
TRACK_EDGE_CAPTURE = "track_edge_capture"


QUALITY_MODEL = "image-quality"
QUALITY_VERSION = "1"
_STRIP_ROWS = 512


def _image_quality(pixels: np.ndarray) -> dict[str, float]:
    """Brightness, contrast, sharpness and saturation, in strips of rows (bounded memory)."""
    import cv2

    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    height = pixels.shape[0]
    total = total_sq = lap = lap_sq = 0.0
    saturated = 0
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(height, top + _STRIP_ROWS)
        lo, hi = max(0, top - 1), min(height, bottom + 1)  # one row of context for the Laplacian
        strip = pixels[lo:hi]
        grey = strip if strip.ndim == 2 else strip[..., :3].mean(axis=2, dtype=np.float32)
        grey = np.asarray(grey, dtype=np.float32) / np.float32(scale)
        rows = slice(top - lo, top - lo + bottom - top)
        inner = grey[rows].astype(np.float64)
        total += float(inner.sum())
        total_sq += float(np.square(inner).sum())
        saturated += int(np.count_nonzero(inner >= 0.999))
        laplacian = cv2.Laplacian(grey, cv2.CV_32F)[rows].astype(np.float64)
        lap += float(laplacian.sum())
        lap_sq += float(np.square(laplacian).sum())
    count = pixels.shape[0] * pixels.shape[1]
    mean = total / count
    lap_mean = lap / count
    return {
        "mean_brightness": mean,
        "contrast_std": float(np.sqrt(max(total_sq / count - mean**2, 0.0))),
        "sharpness_laplacian_var": max(lap_sq / count - lap_mean**2, 0.0),
        "saturated_fraction": saturated / count,
    }


def analyse_capture(context: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Image quality, cracks (as Defects) and tracked displacements of a capture.

    Idempotent: what is already stored for the capture (image quality, a crack model version,
    tracking) is not computed or stored again, so a run repeated after a crash adds nothing.
    Results are written after the computation, so the write lock is held only briefly.
    """
    capture_id = int(arguments["capture_id"])
    with context.database.transaction() as session:
        capture = session.get(Capture, capture_id)
        if capture is None:
            raise LookupError(f"capture {capture_id} no longer exists")
        stored = session.scalars(
            select(CaptureAnalysis).where(
                CaptureAnalysis.capture_id == capture_id,
                CaptureAnalysis.model_name == QUALITY_MODEL,
                CaptureAnalysis.model_version == QUALITY_VERSION,
            )
        ).first()
        segmenter = default_segmenter()
        if capture.width * capture.height > segmenter.large_image_pixels:
            segmenter.release_memory()  # the model's memory from earlier images, before decoding
        pixels, undistorted = analysis_pixels(
            session, context.blobs, capture, max_pixels=context.settings.max_image_pixels
        )
        if stored is None:
            quality = {**_image_quality(pixels), "undistorted": float(undistorted)}
        else:
            quality = dict(stored.summary)
        cracks = analyse_cracks(session, context.blobs, capture, pixels)
        tracked = None
        if cracks is not None:
            session.flush()
            tracked = track_analysis(
                session,
                context.blobs,
                capture,
                cracks,
                pixels,
                settings=TrackingSettings(max_pixels=context.settings.max_image_pixels),
            )
        del pixels
        defects_event = _hazards_due_for_defects(session, capture, cracks)
        event = track_capture(
            session, context.blobs, capture, max_pixels=context.settings.max_image_pixels
        )
        if stored is None:
            stored = CaptureAnalysis(
                capture_id=capture_id,
                model_name=QUALITY_MODEL,
                model_version=QUALITY_VERSION,
                summary=quality,
            )
            session.add(stored)
        session.flush()
        result: dict[str, Any] = {"analysis_ids": [stored.id], **quality}
        if cracks is not None:
            result["analysis_ids"].append(cracks.id)
            result["cracks"] = cracks.summary["cracks"]
        if tracked is not None:
            result["tracking"] = tracked
        if event is not None:
            result["displacement_readings"] = event.accepted
    if event is not None:
        context.bus.publish(event)
    if defects_event is not None:
        context.bus.publish(defects_event)
    return result


def _hazards_due_for_defects(
    session: Session, capture: Capture, cracks: CaptureAnalysis | None
) -> DefectsStored | None:
    """Newly stored defects on an element: the hazard update of that element, as a durable
    effect row in this transaction; the event to publish after the commit."""
    from infrasight.services.hazard_effects import hazards_due

    if cracks is None or capture.element_id is None:
        return None
    ids = tuple(session.scalars(select(Defect.id).where(Defect.analysis_id == cracks.id)).all())
    if not ids:
        return None
    hazards_due(session, capture.organization_id, {capture.asset_id: [capture.element_id]})
    return DefectsStored(
        organization_id=capture.organization_id, capture_id=capture.id, defect_ids=ids
    )


def track_edge_capture(context: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Defect tracking and hazard re-assessment of a capture a terminal analysed itself.

    What :func:`analyse_capture` does after its own crack analysis, on the terminal's analysis:
    the capture's defects matched to the element's tracked defects (a width history per crack),
    and the element's hazards due when it brought defects. Idempotent: a capture already
    tracked adds no sightings, and the hazard update is itself idempotent.
    """
    capture_id = int(arguments["capture_id"])
    with context.database.transaction() as session:
        capture = session.get(Capture, capture_id)
        if capture is None:
            raise LookupError(f"capture {capture_id} no longer exists")
        analysis = session.scalars(
            select(CaptureAnalysis)
            .where(
                CaptureAnalysis.capture_id == capture_id,
                CaptureAnalysis.model_name == CRACK_MODEL,
            )
            .order_by(CaptureAnalysis.id)
        ).first()
        if analysis is None:
            raise LookupError(f"capture {capture_id} has no crack analysis")
        max_pixels = context.settings.max_image_pixels
        pixels = defect_frame_pixels(session, context.blobs, capture, max_pixels=max_pixels)
        tracked = track_analysis(
            session,
            context.blobs,
            capture,
            analysis,
            pixels,
            settings=TrackingSettings(max_pixels=max_pixels),
        )
        del pixels
        defects_event = _hazards_due_for_defects(session, capture, analysis)
    if defects_event is not None:
        context.bus.publish(defects_event)
    return {"analysis_ids": [analysis.id], "tracking": tracked}


def analyse_record(context: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Per-channel statistics of a waveform record, then its modes (SSI-COV) tracked over time."""
    from infrasight.services.modal import identify_record_modes
    from infrasight.services.records import load_record_array

    record_id = int(arguments["record_id"])
    with context.database.transaction() as session:
        record = session.get(Record, record_id)
        if record is None:
            raise LookupError(f"record {record_id} no longer exists")
        data = load_record_array(context.blobs.get(record.blob_sha256))
        centred = data - data.mean(axis=0)
        result: dict[str, Any] = {
            "channels": record.channel_names,
            "mean": data.mean(axis=0).tolist(),
            "rms": np.sqrt((centred**2).mean(axis=0)).tolist(),
            "peak": np.abs(centred).max(axis=0).tolist(),
        }
        modal, event = identify_record_modes(session, record, data)
        result.update(modal)
    if event is not None:
        context.bus.publish(event)
    return result


def register_analysis(platform: Platform) -> None:
    """Register the analysis job handlers on the platform's runner."""
    platform.jobs.register(ANALYSE_CAPTURE, analyse_capture, limited=True)
    platform.jobs.register(ANALYSE_RECORD, analyse_record, limited=True)
    # not limited: the capture is stored and analysed already, its tracking must not be refused
    platform.jobs.register(TRACK_EDGE_CAPTURE, track_edge_capture)
