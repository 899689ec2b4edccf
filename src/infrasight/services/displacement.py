"""A camera as a displacement sensor: track its configured targets in each new capture.

The camera's ``displacement_tracking`` calibration names a reference capture and target regions;
each new capture is tracked against the reference (sub-pixel, camera shake removed with the
fixed reference regions) and each reliable target displacement is stored as a reading of its
``channel_dx`` / ``channel_dy`` channels at the capture's time, in the channels' unit. Unreliable
targets (low correlation, left the frame) are reported in the analysis and written nowhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.events import ReadingBatchStored
from infrasight.core.timeparse import datetime_to_us
from infrasight.core.units import converter
from infrasight.measure import MeasurementInputError
from infrasight.measure.tracking import Region, track_displacement
from infrasight.services.calibrations import (
    DISPLACEMENT_TRACKING,
    capture_scale,
    latest_calibration,
)
from infrasight.services.capture_pixels import analysis_pixels
from infrasight.services.reading_effects import readings_stored
from infrasight.storage.blobs import BlobStore
from infrasight.storage.models import Capture, CaptureAnalysis, Channel
from infrasight.storage.readings import insert_readings

__all__ = ["TRACKING_MODEL", "track_capture"]

TRACKING_MODEL = "displacement-tracking"


def _grey(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 3:
        pixels = pixels[..., :3].mean(axis=2)
    return np.asarray(pixels, dtype=np.float32)


def track_capture(
    session: Session, blobs: BlobStore, capture: Capture, *, max_pixels: int
) -> ReadingBatchStored | None:
    """Track the capture's camera targets; store readings and an analysis; return the event."""
    if capture.device_id is None:
        return None
    config = latest_calibration(session, capture.device_id, DISPLACEMENT_TRACKING, capture)
    if config is None or config.parameters.get("reference_capture_id") == capture.id:
        return None
    done = session.scalar(
        select(CaptureAnalysis.id).where(
            CaptureAnalysis.capture_id == capture.id, CaptureAnalysis.model_name == TRACKING_MODEL
        )
    )
    if done is not None:  # tracked already (a job run again after a crash)
        return None
    parameters: dict[str, Any] = config.parameters
    reference = session.get(Capture, parameters["reference_capture_id"])
    if reference is None:
        return None
    targets = parameters["targets"]
    summary: dict[str, Any] = {"reference_capture_id": reference.id, "targets": []}
    reference_pixels, _ = analysis_pixels(session, blobs, reference, max_pixels=max_pixels)
    capture_pixels, _ = analysis_pixels(session, blobs, capture, max_pixels=max_pixels)
    scale = capture_scale(session, reference, reference_pixels)
    try:
        result = track_displacement(
            _grey(reference_pixels),
            [_grey(capture_pixels)],
            rois=[
                Region(x=t["roi"][0], y=t["roi"][1], w=t["roi"][2], h=t["roi"][3]) for t in targets
            ],
            reference_regions=[
                Region(x=r[0], y=r[1], w=r[2], h=r[3])
                for r in parameters.get("reference_regions", [])
            ],
            scale=scale,
        )
    except MeasurementInputError as err:
        summary["error"] = str(err)
        session.add(
            CaptureAnalysis(
                capture_id=capture.id, model_name=TRACKING_MODEL, model_version="1", summary=summary
            )
        )
        return None
    mm = result.displacement_mm()
    keys = [t[axis] for t in targets for axis in ("channel_dx", "channel_dy")]
    channels = {
        c.key: c
        for c in session.scalars(
            select(Channel).where(
                Channel.organization_id == capture.organization_id, Channel.key.in_(keys)
            )
        )
    }
    ts = datetime_to_us(capture.time)
    rows: list[tuple[int, int, float]] = []
    for j, target in enumerate(targets):
        point: dict[str, Any] = {
            "roi": target["roi"],
            "dx_px": float(result.dx[0, j]),
            "dy_px": float(result.dy[0, j]),
            "score": float(result.score[0, j]),
            "reliable": bool(result.reliable[0, j]),
        }
        if result.reasons[0][j]:
            point["reason"] = result.reasons[0][j]
        summary["targets"].append(point)
        if not point["reliable"]:
            continue
        for axis, index in (("channel_dx", 0), ("channel_dy", 1)):
            channel = channels.get(target[axis])
            if channel is None:
                continue
            if mm is not None:
                value_mm = float(mm[index][0, j])
                conv = converter("mm", channel.unit)
                rows.append((channel.id, ts, value_mm * conv.scale + conv.offset))
            else:
                point["note"] = "no scale for the camera: displacement known in px only"
    session.add(
        CaptureAnalysis(
            capture_id=capture.id, model_name=TRACKING_MODEL, model_version="1", summary=summary
        )
    )
    if not rows:
        return None
    accepted = insert_readings(session, rows)
    if not accepted:
        return None
    return readings_stored(
        session,
        organization_id=capture.organization_id,
        channel_ids=tuple(sorted({r[0] for r in rows})),
        start_us=ts,
        end_us=ts,
        accepted=accepted,
    )
