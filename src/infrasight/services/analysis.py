"""Background analysis of captures and records, run through the job interface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from infrasight.jobs.runner import JobContext
from infrasight.services.capture_pixels import analysis_pixels
from infrasight.services.crack_analysis import analyse_cracks
from infrasight.services.displacement import track_capture
from infrasight.storage.models import Capture, CaptureAnalysis, Record

if TYPE_CHECKING:
    from infrasight.platform import Platform

__all__ = ["ANALYSE_CAPTURE", "ANALYSE_RECORD", "register_analysis"]

ANALYSE_CAPTURE = "analyse_capture"
ANALYSE_RECORD = "analyse_record"


def _image_quality(pixels: np.ndarray) -> dict[str, float]:
    import cv2

    grey = pixels if pixels.ndim == 2 else pixels[..., :3].mean(axis=2)
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    grey = np.asarray(grey, dtype=np.float32) / scale
    return {
        "mean_brightness": float(grey.mean()),
        "contrast_std": float(grey.std()),
        "sharpness_laplacian_var": float(cv2.Laplacian(grey, cv2.CV_32F).var()),
        "saturated_fraction": float((grey >= 0.999).mean()),
    }


def analyse_capture(context: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Image quality, cracks (as Defects) and tracked displacements of a capture."""
    capture_id = int(arguments["capture_id"])
    with context.database.transaction() as session:
        capture = session.get(Capture, capture_id)
        if capture is None:
            raise LookupError(f"capture {capture_id} no longer exists")
        pixels, undistorted = analysis_pixels(
            session, context.blobs, capture, max_pixels=context.settings.max_image_pixels
        )
        quality = {**_image_quality(pixels), "undistorted": float(undistorted)}
        analysis = CaptureAnalysis(
            capture_id=capture_id, model_name="image-quality", model_version="1", summary=quality
        )
        session.add(analysis)
        cracks = analyse_cracks(session, context.blobs, capture, pixels)
        event = track_capture(
            session, context.blobs, capture, max_pixels=context.settings.max_image_pixels
        )
        session.flush()
        result: dict[str, Any] = {"analysis_ids": [analysis.id], **quality}
        if cracks is not None:
            result["analysis_ids"].append(cracks.id)
            result["cracks"] = cracks.summary["cracks"]
        if event is not None:
            result["displacement_readings"] = event.accepted
    if event is not None:
        context.bus.publish(event)
    return result


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
    platform.jobs.register(ANALYSE_CAPTURE, analyse_capture)
    platform.jobs.register(ANALYSE_RECORD, analyse_record)
