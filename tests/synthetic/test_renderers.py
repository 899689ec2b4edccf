"""The renderers draw exactly the geometry they report."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from infrasight.synthetic import (
    render_charuco_views,
    render_crack_scene,
    render_marker_scene,
    speckle_field,
    speckle_image,
)
from infrasight.synthetic.crack_geometry import crack_coverage, polyline_length


def test_scene_is_reproducible_and_photo_like() -> None:
    a = render_crack_scene(width=320, height=240, seed=5)
    b = render_crack_scene(width=320, height=240, seed=5)
    assert a.image.shape == (240, 320, 3) and a.image.dtype == np.uint8
    assert np.array_equal(a.image, b.image)
    assert 1 <= len([c for c in a.cracks if c.parent is None]) <= 3
    grey = a.grey().astype(float)
    # cracks are darker than the surface around them
    assert grey[a.mask].mean() < grey[~a.mask].mean() - 20
    # the surface has texture (not a flat fill)
    assert grey[~a.mask].std() > 5


def test_coverage_integral_equals_width_for_any_width() -> None:
    for width in (0.3, 0.8, 2.5, 11.0):
        line = np.column_stack([np.linspace(10, 90, 161), np.full(161, 50.3)])
        cov = crack_coverage((100, 100), line, np.full(len(line), width))
        across = cov[:, 30:70].sum(axis=0)
        assert np.allclose(across, width, atol=1e-3)


def test_diagonal_coverage_integral() -> None:
    t = np.linspace(0, 1, 400)
    line = np.column_stack([10 + 180 * t, 20 + 120 * t])
    cov = crack_coverage((200, 200), line, np.full(len(line), 3.0))
    # area = width x length (ends excluded by measuring the middle part)
    length = polyline_length(line)
    assert cov.sum() == pytest.approx(3.0 * length + np.pi * 1.5**2, rel=0.01)


def test_scene_truth_and_marker() -> None:
    s = render_crack_scene(width=640, height=480, seed=3, marker_mm=20.0, mm_per_px=0.25)
    assert s.marker_corners_px is not None
    side = np.hypot(*(s.marker_corners_px[1] - s.marker_corners_px[0]))
    assert side == pytest.approx(80.0)
    assert s.true_length_mm == pytest.approx(s.true_length_px * 0.25)
    for c in s.cracks:
        assert c.widths_px.min() >= 0.8 - 1e-9 and c.widths_px.max() <= 6.0 + 1e-9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 32, "height": 240}, "at least 64x64"),
        ({"width_range_px": (0.1, 5.0)}, "0.3-20"),
        ({"width_range_px": (2.0, 30.0)}, "0.3-20"),
        ({"crack_floor_ratio": 1.5}, "crack_floor_ratio"),
        ({"n_cracks": 0}, "n_cracks"),
    ],
)
def test_scene_rejects_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"width": 320, "height": 240, "seed": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        render_crack_scene(**args)  # type: ignore[arg-type]


def test_speckle_shift_is_exact_for_integer_shift() -> None:
    spec = speckle_field(64, 80, seed=2)
    ref = speckle_image(spec)
    moved = speckle_image(spec, shift=(3.0, -2.0))
    assert np.array_equal(np.roll(ref, (-2, 3), axis=(0, 1)), moved)


def test_speckle_rejects_aliasing_size() -> None:
    with pytest.raises(ValueError, match="speckle_px"):
        speckle_field(32, 32, seed=0, speckle_px=1.0)


def test_marker_scene_projects_corners() -> None:
    m = render_marker_scene(tilt_deg=0.0, marker_mm=100.0, marker_px=120.0)
    sides = np.hypot(*(np.roll(m.corners_px, -1, axis=0) - m.corners_px).T)
    assert np.allclose(sides, 120.0, rtol=1e-6)
    tilted = render_marker_scene(tilt_deg=60.0, marker_mm=100.0, marker_px=120.0)
    sides_t = np.hypot(*(np.roll(tilted.corners_px, -1, axis=0) - tilted.corners_px).T)
    assert sides_t.min() < 0.7 * sides_t.max()  # foreshortened


def test_charuco_views_are_detectable() -> None:
    board = cv2.aruco.CharucoBoard(
        (7, 5), 30.0, 22.0, cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_5X5_100)
    )
    views = render_charuco_views(board, n_views=2, seed=0)
    _corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(views.images[0])
    assert ids is not None and len(ids) >= 12
