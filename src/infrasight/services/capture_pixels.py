"""The pixels every analysis of a capture works on: decoded, upright, and free of lens distortion.

When the capture's camera has a ``camera_intrinsics`` calibration valid at the capture's time
(and made for this image size), the image is undistorted first, so that straight cracks stay
straight and lengths and widths in mm hold across the whole frame. Masks, polylines and overlays
of an analysis are all in these undistorted pixel coordinates.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from infrasight.measure import CameraCalibration, undistort
from infrasight.services.calibrations import CAMERA_INTRINSICS, latest_calibration
from infrasight.services.images import decode_image
from infrasight.storage.blobs import BlobStore
from infrasight.storage.models import Capture

__all__ = ["analysis_pixels"]


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
