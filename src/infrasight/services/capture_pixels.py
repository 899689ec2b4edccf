"""The pixels every analysis of a capture works on: decoded, upright, and free of lens distortion.

When the capture's camera has a ``camera_intrinsics`` calibration valid at the capture's time
(and made for this image size), the image is undistorted first, so that straight cracks stay
straight and lengths and widths in mm hold across the whole frame. Masks, polylines and overlays
of an analysis are all in these undistorted pixel coordinates.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.measure import CameraCalibration, undistort
from infrasight.services.calibrations import CAMERA_INTRINSICS, latest_calibration
from infrasight.services.crack_analysis import CRACK_MODEL
from infrasight.services.images import decode_image
from infrasight.storage.blobs import BlobStore
from infrasight.storage.models import Capture, CaptureAnalysis

__all__ = ["analysis_pixels", "defect_frame_pixels"]


def analysis_pixels(
    session: Session, blobs: BlobStore, capture: Capture, *, max_pixels: int
) -> tuple[np.ndarray, bool]:
    """The capture's pixels for analysis and whether lens distortion was removed."""
    pixels = decode_image(blobs.get(capture.blob_sha256), max_pixels=max_pixels)
    if capture.device_id is None:
        return pixels, False
    record = latest_calibration(session, capture.device_id, CAMERA_INTRINSICS, capture)
    if record is None:
        return pixels, False
    camera = CameraCalibration.from_dict(record.parameters)
    if camera.image_size != (pixels.shape[1], pixels.shape[0]):
        return pixels, False
    return np.asarray(undistort(pixels, camera)), True


def defect_frame_pixels(
    session: Session, blobs: BlobStore, capture: Capture, *, max_pixels: int
) -> np.ndarray:
    """The capture's pixels in the coordinates of its defects' geometry.

    A capture analysed by the server: :func:`analysis_pixels`. A capture a terminal analysed
    (``analysed_on = "edge"`` in its crack analysis): the stored image as the terminal saw it
    (no undistortion: the terminal measured the raw frame), a reduced preview scaled back up to
    the analysed frame's size (``frame_px``), since the defects' polylines are in frame pixels.
    """
    frame = _edge_frame(session, capture)
    if frame is None:
        return analysis_pixels(session, blobs, capture, max_pixels=max_pixels)[0]
    pixels = decode_image(blobs.get(capture.blob_sha256), max_pixels=max_pixels)
    if (pixels.shape[1], pixels.shape[0]) == frame:
        return pixels
    import cv2

    return np.asarray(cv2.resize(pixels, frame, interpolation=cv2.INTER_LINEAR))


def _edge_frame(session: Session, capture: Capture) -> tuple[int, int] | None:
    """(width, height) of the frame a terminal analysed, px; None: not analysed on a terminal."""
    summaries = session.scalars(
        select(CaptureAnalysis.summary).where(
            CaptureAnalysis.capture_id == capture.id, CaptureAnalysis.model_name == CRACK_MODEL
        )
    ).all()
    for summary in summaries:
        if summary.get("analysed_on") != "edge":
            continue
        size = summary.get("frame_px")
        if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size):
            return int(size[0]), int(size[1])
        return capture.width, capture.height
    return None
