"""Millimetre measurement from cameras: scale and camera calibration, crack quantification and
sub-pixel displacement tracking. Pure analytics on numpy arrays (OpenCV, SciPy, scikit-image).
"""

from __future__ import annotations

from infrasight.measure.board_scale import BoardScaleCalibration, calibrate_scale_from_board
from infrasight.measure.cracks import (
    DEFAULT_FLOOR_RATIO,
    CrackQuantification,
    CrackStations,
    quantify_crack,
    quantify_cracks,
)
from infrasight.measure.errors import (
    CalibrationError,
    FrameSizeMismatchError,
    MarkerNotFoundError,
    MeasurementInputError,
    RegionOutOfFrameError,
)
from infrasight.measure.frames import iter_frames, read_image
from infrasight.measure.intrinsics import BoardSpec, CameraCalibration, calibrate_camera, undistort
from infrasight.measure.markers import (
    DetectedMarker,
    ScaleCalibration,
    calibrate_scale,
    detect_markers,
    dictionary_from_name,
)
from infrasight.measure.rectify import RectifiedImage, rectify
from infrasight.measure.scale import Quantity, Scale
from infrasight.measure.segment import segment_dark_cracks
from infrasight.measure.tracking import (
    DisplacementResult,
    Region,
    grid_regions,
    track_displacement,
)

__all__ = [
    "DEFAULT_FLOOR_RATIO",
    "BoardScaleCalibration",
    "BoardSpec",
    "CalibrationError",
    "CameraCalibration",
    "CrackQuantification",
    "CrackStations",
    "DetectedMarker",
    "DisplacementResult",
    "FrameSizeMismatchError",
    "MarkerNotFoundError",
    "MeasurementInputError",
    "Quantity",
    "RectifiedImage",
    "Region",
    "RegionOutOfFrameError",
    "Scale",
    "ScaleCalibration",
    "calibrate_camera",
    "calibrate_scale",
    "calibrate_scale_from_board",
    "detect_markers",
    "dictionary_from_name",
    "grid_regions",
    "iter_frames",
    "quantify_crack",
    "quantify_cracks",
    "read_image",
    "rectify",
    "segment_dark_cracks",
    "track_displacement",
    "undistort",
]
