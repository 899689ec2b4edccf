"""Pure defect tracking: registration recovers a known camera move, matching by overlap is one
to one and says what is new, not detected or out of view, growth fits known slopes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from infrasight.measure.defect_tracking import (
    DefectShape,
    densify,
    fit_growth,
    match_defects,
    overlap_score,
)
from infrasight.measure.errors import MeasurementInputError
from infrasight.measure.registration import RegistrationError, register_images
from infrasight.synthetic import concrete_texture, render_crack_series


def _line(x0: float, y0: float, x1: float, y1: float, n: int = 50) -> np.ndarray:
    return np.column_stack([np.linspace(x0, x1, n), np.linspace(y0, y1, n)])


def test_registration_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(0)
    ref = concrete_texture(480, 640, rng)
    ref_u8 = np.clip(ref, 0, 255).astype(np.uint8)
    m = cv2.getRotationMatrix2D((320, 240), 12.0, 1.05)
    m[:, 2] += (15, -10)
    moving = cv2.warpAffine(ref_u8, m, (640, 480))
    moving = np.clip(moving.astype(np.float32) * 0.8 + 12, 0, 255).astype(np.uint8)  # exposure
    reg = register_images(ref_u8, moving)
    pts = np.array([[200.0, 150.0], [420.0, 300.0], [320.0, 240.0]])
    want = pts @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(reg.map_points(pts), want, atol=0.5)
    assert reg.inliers >= 15 and reg.rmse_px < 1.0
    assert reg.to_dict()["inliers"] == reg.inliers


def test_registration_of_unrelated_images_fails() -> None:
    a = np.full((200, 200), 120, np.uint8)
    b = concrete_texture(200, 200, np.random.default_rng(1)).astype(np.uint8)
    with pytest.raises(RegistrationError):
        register_images(a, b)


def test_registration_across_a_rendered_series() -> None:
    series = render_crack_series(seed=2, n_visits=2)
    v0, v1 = series.visits
    reg = register_images(v0.image, v1.image)
    # surface px -> image px of both visits gives the true image-to-image map
    true = v1.surface_to_image @ np.linalg.inv(v0.surface_to_image)
    pts = np.array([[100.0, 100.0], [600.0, 450.0], [384.0, 288.0]])
    q = np.hstack([pts, np.ones((3, 1))]) @ true.T
    np.testing.assert_allclose(reg.map_points(pts), q[:, :2] / q[:, 2:], atol=1.0)


def test_overlap_and_densify() -> None:
    a = densify(_line(0, 0, 100, 0, 2))
    assert len(a) == 101 and np.allclose(np.diff(a[:, 0]), 1.0)
    b = densify(_line(0, 3, 50, 3, 2))  # half as long, 3 px away
    assert overlap_score(a, b, 5.0) == pytest.approx(1.0)  # b lies along a
    assert overlap_score(a, b, 2.0) == 0.0
    assert overlap_score(a, np.empty((0, 2)), 5.0) == 0.0
    assert len(densify(np.array([[3.0, 4.0]]))) == 1


def test_match_is_one_to_one_and_classifies_the_rest() -> None:
    earlier = [
        DefectShape(kind="crack", polyline_px=_line(10, 10, 110, 10)),
        DefectShape(kind="crack", polyline_px=_line(10, 60, 110, 60)),
        DefectShape(kind="crack", polyline_px=_line(10, 120, 110, 120)),  # sealed
        DefectShape(kind="crack", polyline_px=_line(500, 500, 600, 500)),  # leaves the view
    ]
    shift = np.array([[1.0, 0, 25], [0, 1, 8], [0, 0, 1]])  # the camera moved 25, 8 px
    new = [
        DefectShape(kind="crack", polyline_px=_line(35, 68, 160, 68)),  # #1, grown
        DefectShape(kind="crack", polyline_px=_line(35, 18, 135, 18)),  # #0
        DefectShape(kind="crack", polyline_px=_line(150, 150, 180, 190)),  # new
        DefectShape(kind="spalling", polyline_px=_line(35, 128, 135, 128)),  # other kind
    ]
    m = match_defects(earlier, new, homography=shift, new_size=(300, 200))
    assert sorted((i, j) for i, j, _ in m.pairs) == [(0, 1), (1, 0)]
    assert all(s == pytest.approx(1.0) for _, _, s in m.pairs)
    assert m.not_detected == (2,) and m.out_of_view == (3,) and m.new == (2, 3)
    # without the camera move the same shapes are 8 px off: a tolerance of 3 px finds nothing
    raw = match_defects(earlier, new, homography=None, new_size=(300, 200), tolerance_px=3.0)
    assert raw.pairs == () and raw.new == (0, 1, 2, 3)
    empty = match_defects([], [], homography=None, new_size=(10, 10))
    assert empty.pairs == () and empty.new == ()


@pytest.mark.parametrize(
    "kwargs", [{"tolerance_px": 0.0}, {"min_overlap": 0.0}, {"min_overlap": 1.5}]
)
def test_match_refuses_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(MeasurementInputError):
        match_defects([], [], homography=None, new_size=(10, 10), **kwargs)


def test_shape_needs_points() -> None:
    with pytest.raises(MeasurementInputError) as err:
        DefectShape(kind="crack", polyline_px=np.zeros((0, 2)))
    assert err.value.field == "polyline_px"


def test_fit_growth_known_slope_and_uncertainty() -> None:
    t = np.array([0.0, 90.0, 180.0, 270.0])
    v = 40.0 + 0.05 * t
    g = fit_growth(t, v, np.full(4, 0.5))
    assert g is not None
    assert g.rate_per_day == pytest.approx(0.05) and g.change == pytest.approx(13.5)
    # standard error of an OLS slope with equal sigmas: sigma / sqrt(sum (t - mean)^2)
    assert g.rate_std_per_day == pytest.approx(0.5 / np.sqrt(np.sum((t - t.mean()) ** 2)))
    assert g.n == 4 and g.as_dict()["n"] == 4
    # a noisy point with a large uncertainty barely moves the fit
    v2 = v.copy()
    v2[1] += 10
    g2 = fit_growth(t, v2, np.array([0.5, 50.0, 0.5, 0.5]))
    assert g2 is not None and g2.rate_per_day == pytest.approx(0.05, abs=2e-4)
    assert fit_growth(np.array([1.0, 1.0]), np.array([1.0, 2.0]), np.ones(2)) is None
    assert fit_growth(np.array([1.0]), np.array([1.0]), np.ones(1)) is None
