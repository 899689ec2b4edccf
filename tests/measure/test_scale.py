"""Marker scale calibration, rectification and the Scale type."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.measure import (
    MarkerNotFoundError,
    MeasurementInputError,
    Scale,
    calibrate_scale,
    detect_markers,
    rectify,
)
from infrasight.synthetic import render_marker_scene


def _segment_error_pct(tilt: float, seed: int = 0) -> tuple[float, float]:
    scene = render_marker_scene(tilt_deg=tilt, marker_mm=100.0, seed=seed)
    cal = calibrate_scale(scene.image, marker_mm=100.0)
    a_mm = np.array([[-150.0, 0.0], [0.0, -150.0]])
    a_px, b_px = scene.project(a_mm), scene.project(-a_mm)
    measured = cal.scale.distance_mm(a_px, b_px)
    naive = np.hypot(*(a_px - b_px).T) * 100.0 / cal.marker.side_px
    return float(np.abs(measured / 300 - 1).max() * 100), float(np.abs(naive / 300 - 1).max() * 100)


@pytest.mark.parametrize("tilt", [0.0, 45.0, 60.0])
def test_homography_keeps_lengths_right_under_tilt(tilt: float) -> None:
    err, naive = _segment_error_pct(tilt)
    assert err <= 0.3
    if tilt >= 45:
        assert naive > 10.0  # the mean-side scale is far off: why the homography is needed


def test_corners_are_sub_pixel_and_uncertainty_is_reported() -> None:
    scene = render_marker_scene(tilt_deg=30.0, seed=2)
    cal = calibrate_scale(scene.image, marker_mm=scene.marker_mm)
    assert np.abs(cal.marker.corners_px - scene.corners_px).max() < 0.25
    assert 0 < cal.scale.relative_std < 0.01
    assert cal.tilt_deg == pytest.approx(30.0, abs=3.0)
    rec = cal.to_dict()
    assert rec["marker_id"] == scene.marker_id and len(rec["homography"]) == 3


def test_no_marker_is_a_clear_error() -> None:
    blank = np.full((200, 200), 128, np.uint8)
    with pytest.raises(MarkerNotFoundError, match="no DICT_4X4_50 marker"):
        calibrate_scale(blank, marker_mm=50.0)


def test_wrong_id_and_bad_size_are_errors() -> None:
    scene = render_marker_scene(tilt_deg=0.0)
    with pytest.raises(MarkerNotFoundError, match="id 3 not found"):
        calibrate_scale(scene.image, marker_mm=100.0, marker_id=3)
    with pytest.raises(MeasurementInputError, match="marker_mm"):
        calibrate_scale(scene.image, marker_mm=-1.0)
    with pytest.raises(MeasurementInputError, match="unknown marker dictionary"):
        calibrate_scale(scene.image, marker_mm=100.0, dictionary="DICT_NOPE")


def test_partly_hidden_marker_is_refused_or_not_detected() -> None:
    scene = render_marker_scene(tilt_deg=0.0, hidden_fraction=0.3)
    with pytest.raises(MarkerNotFoundError):
        calibrate_scale(scene.image, marker_mm=100.0)


def test_detect_markers_returns_largest_first() -> None:
    scene = render_marker_scene(tilt_deg=10.0)
    found = detect_markers(scene.image)
    assert len(found) == 1 and found[0].marker_id == scene.marker_id
    assert found[0].edge_coverage > 0.9


def test_rectified_marker_is_square_at_the_scale() -> None:
    scene = render_marker_scene(tilt_deg=45.0, seed=1)
    cal = calibrate_scale(scene.image, marker_mm=100.0)
    out = rectify(scene.image, cal.scale, mm_per_px=0.5)
    again = detect_markers(out.image)
    assert again, "marker must be found in the rectified image"
    sides = np.hypot(*(np.roll(again[0].corners_px, -1, axis=0) - again[0].corners_px).T)
    assert np.allclose(sides, 200.0, rtol=0.01)


def test_scale_round_trip_and_validation() -> None:
    s = Scale(mm_per_px=0.5, relative_std=0.01, homography=np.diag([0.5, 0.5, 1.0]))
    back = Scale.from_dict(s.to_dict())
    assert back.mm_per_px == 0.5 and back.homography is not None
    assert back.polyline_length_mm(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(2.5)
    assert back.local_mm_per_px((10.0, 20.0)) == pytest.approx(0.5)
    with pytest.raises(MeasurementInputError, match="mm_per_px"):
        Scale.from_mm_per_px(0.0)
    with pytest.raises(MeasurementInputError, match="homography"):
        Scale(mm_per_px=1.0, relative_std=0.0, homography=np.zeros((3, 3)))
    with pytest.raises(MeasurementInputError, match="scale record"):
        Scale.from_dict({"mm_per_px": 1.0})
    with pytest.raises(MeasurementInputError, match="no homography"):
        rectify(np.zeros((20, 20), np.uint8), Scale.from_mm_per_px(1.0))


def test_uncertainty_grows_away_from_the_marker() -> None:
    scene = render_marker_scene(tilt_deg=45.0, marker_mm=50.0, marker_px=80.0, seed=4)
    cal = calibrate_scale(scene.image, marker_mm=50.0)
    assert cal.scale.homography_samples is not None
    near = scene.project(np.array([[-25.0, 0.0], [25.0, 0.0]]))
    far = scene.project(np.array([[100.0, 0.0], [150.0, 0.0]]))
    std_near = cal.scale.sampled_distances_mm(near[:1], near[1:])
    std_far = cal.scale.sampled_distances_mm(far[:1], far[1:])
    assert std_near is not None and std_far is not None
    assert np.std(std_far) > 1.5 * np.std(std_near)
    back = Scale.from_dict(cal.scale.to_dict())
    assert back.homography_samples is not None and back.homography_samples.shape[1:] == (3, 3)


def test_charuco_board_scale_is_accurate_across_the_board() -> None:
    import cv2

    from infrasight.measure import BoardSpec, calibrate_scale_from_board
    from infrasight.synthetic import render_charuco_views

    board = BoardSpec(squares_x=7, squares_y=5, square_mm=30.0, marker_mm=22.0)
    view = render_charuco_views(board.to_opencv(), n_views=1, seed=3, k1=0.0).images[0]
    cal = calibrate_scale_from_board(view, board=board)
    assert cal.n_corners >= 20 and cal.scale.source == "charuco"
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board.to_opencv()).detectBoard(view)
    obj = np.asarray(board.to_opencv().getChessboardCorners())[np.asarray(ids).ravel(), :2]
    img = np.asarray(corners).reshape(-1, 2)
    i, j = int(np.argmin(obj.sum(axis=1))), int(np.argmax(obj.sum(axis=1)))
    d = cal.scale.distance_mm(img[i : i + 1], img[j : j + 1])[0]
    assert d == pytest.approx(float(np.hypot(*(obj[j] - obj[i]))), rel=0.003)
    assert 0 < cal.scale.relative_std < 0.01
    with pytest.raises(MarkerNotFoundError, match="ChArUco board found"):
        calibrate_scale_from_board(np.full((200, 200), 128, np.uint8), board=board)
