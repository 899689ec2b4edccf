"""Camera calibration from rendered ChArUco views with known intrinsics and distortion."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.measure import (
    BoardSpec,
    CalibrationError,
    CameraCalibration,
    MeasurementInputError,
    calibrate_camera,
    undistort,
)
from infrasight.synthetic import render_charuco_views

BOARD = BoardSpec(squares_x=7, squares_y=5, square_mm=30.0, marker_mm=22.0)


@pytest.fixture(scope="module")
def views() -> tuple[np.ndarray, ...]:
    return render_charuco_views(BOARD.to_opencv(), n_views=6, seed=1, k1=-0.12).images


def test_recovers_focal_length_and_distortion(views: tuple[np.ndarray, ...]) -> None:
    cal = calibrate_camera(views, board=BOARD)
    assert cal.fx == pytest.approx(900.0, rel=0.01)
    assert cal.fy == pytest.approx(900.0, rel=0.01)
    assert cal.dist_coeffs[0] == pytest.approx(-0.12, abs=0.02)
    assert cal.rms_px < 0.6 and cal.n_views == 6
    back = CameraCalibration.from_json(cal.to_json())
    assert np.allclose(back.camera_matrix, cal.camera_matrix)
    assert back.board == BOARD
    flat = undistort(views[0], back)
    assert flat.shape == views[0].shape


def test_too_few_views_and_mixed_sizes(views: tuple[np.ndarray, ...]) -> None:
    with pytest.raises(CalibrationError, match="need 4"):
        calibrate_camera(views[:2], board=BOARD)
    with pytest.raises(CalibrationError, match="but the first is"):
        calibrate_camera([views[0], views[1][:-10]], board=BOARD)
    with pytest.raises(CalibrationError, match="no images"):
        calibrate_camera([], board=BOARD)
    wrong = BoardSpec(
        squares_x=7, squares_y=5, square_mm=30.0, marker_mm=22.0, dictionary="DICT_6X6_250"
    )
    with pytest.raises(CalibrationError, match="DICT_6X6_250"):
        calibrate_camera(views, board=wrong)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("7x5:30:22", True),
        ("7x5:30:22:DICT_4X4_50", True),
        ("7x5:30", False),
        ("ax5:1:2", False),
        ("7x5:20:30", False),
    ],
)
def test_board_spec_parse(text: str, ok: bool) -> None:
    if ok:
        assert BoardSpec.parse(text).squares_x == 7
    else:
        with pytest.raises(MeasurementInputError):
            BoardSpec.parse(text)


def test_bad_calibration_record() -> None:
    with pytest.raises(MeasurementInputError, match="not valid JSON"):
        CameraCalibration.from_json("{nope")
    with pytest.raises(MeasurementInputError, match="camera calibration record"):
        CameraCalibration.from_dict({"camera_matrix": [[1]]})
