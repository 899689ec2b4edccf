"""Crack quantification against rendered cracks of known geometry."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from infrasight.measure import (
    DEFAULT_FLOOR_RATIO,
    MeasurementInputError,
    Scale,
    quantify_crack,
    quantify_cracks,
)
from infrasight.measure.segment import segment_dark_cracks
from infrasight.synthetic import RenderedCrackScene, render_crack_scene
from infrasight.synthetic.crack_geometry import crack_coverage
from infrasight.synthetic.texture import concrete_texture


def _straight_crack(width_px: float, angle_deg: float, floor: float = 0.2, seed: int = 0):
    """A straight crack of constant width through a textured surface (grey image, mask)."""
    rng = np.random.default_rng(seed)
    size = 200
    surface = concrete_texture(size, size, rng, mean_grey=150.0)
    a = np.deg2rad(angle_deg)
    t = np.linspace(-70, 70, 281)
    line = np.column_stack([100 + t * np.cos(a), 100 - t * np.sin(a)])
    cov = crack_coverage((size, size), line, np.full(len(line), width_px))
    img = surface * (1 - cov) + floor * surface * cov
    import cv2

    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.7)
    img = img + rng.normal(0, 1.5, img.shape)
    mask = cov >= 0.5
    ij = np.round(line).astype(int)
    mask[ij[:, 1], ij[:, 0]] = True
    return np.clip(img, 0, 255).astype(np.uint8), mask, 140.0


@pytest.mark.parametrize(("width", "tol"), [(0.6, 0.15), (1.5, 0.12), (4.0, 0.12), (12.0, 0.15)])
def test_width_of_straight_crack(width: float, tol: float) -> None:
    img, mask, _ = _straight_crack(width, 25.0)
    q = quantify_crack(mask, img, crack_floor_ratio=0.2)
    assert np.median(q.stations.widths_px) == pytest.approx(width, abs=tol)
    assert q.unit == "px" and q.reliable


def test_sub_pixel_width_beats_the_mask() -> None:
    img, mask, _ = _straight_crack(0.5, 10.0)
    q = quantify_crack(mask, img, crack_floor_ratio=0.2)
    # the mask is at least one pixel wide; the intensity profile says 0.5 px
    assert np.median(q.stations.widths_px) == pytest.approx(0.5, abs=0.12)


def test_length_and_floor_from_a_rendered_scene() -> None:
    s = render_crack_scene(
        width=640, height=480, seed=3, width_range_px=(0.5, 16.0), n_cracks=1, branch_probability=0
    )
    (q,) = quantify_cracks(s.mask, s.image)
    assert q.length.value == pytest.approx(s.true_length_px, rel=0.01)
    assert q.floor_ratio_source == "measured"
    assert q.floor_ratio == pytest.approx(s.crack_floor_ratio, abs=0.03)
    truth = cKDTree(s.cracks[0].centreline)
    d, i = truth.query(q.stations.centres_px)
    err = q.stations.widths_px - s.cracks[0].widths_px[i]
    assert np.median(np.abs(err[d < 2])) < 0.12
    x, y = q.width_max_location_px
    _dmax, imax = truth.query([x, y])
    assert s.cracks[0].widths_px[imax] > 0.8 * s.true_max_width_px


def _scene() -> RenderedCrackScene:
    return render_crack_scene(width=480, height=360, seed=11, n_cracks=1, branch_probability=0)


def test_scale_converts_to_mm_with_uncertainty() -> None:
    s = _scene()
    q_px = quantify_crack(s.mask, s.image)
    q_mm = quantify_crack(s.mask, s.image, scale=Scale.from_mm_per_px(0.2, relative_std=0.01))
    assert q_mm.unit == "mm" and q_mm.area.unit == "mm2"
    assert q_mm.length.value == pytest.approx(0.2 * q_px.length.value, rel=1e-6)
    assert q_mm.width_max.value == pytest.approx(0.2 * q_px.width_max.value, rel=1e-6)
    assert q_mm.length.std >= 0.01 * q_mm.length.value * 0.99
    assert q_mm.stations.widths_std.min() > 0
    d = q_mm.to_dict(include_profile=True)
    assert d["length"]["unit"] == "mm" and len(d["profile"]) == len(q_mm.stations)


def test_homography_scale_matches_plain_scale_when_face_on() -> None:
    s = _scene()
    plain = quantify_crack(s.mask, s.image, scale=Scale.from_mm_per_px(0.25))
    hom = Scale(mm_per_px=0.25, relative_std=0.01, homography=np.diag([0.25, 0.25, 1.0]))
    q = quantify_crack(s.mask, s.image, scale=hom)
    assert q.length.value == pytest.approx(plain.length.value, rel=1e-6)
    assert q.width_mean.value == pytest.approx(plain.width_mean.value, rel=1e-6)


@pytest.mark.parametrize(
    ("crack_angle", "axis", "pattern"),
    [
        (5.0, 0.0, "longitudinal"),
        (5.0, 90.0, "transverse"),
        (45.0, 0.0, "diagonal"),
        (80.0, 0.0, "transverse"),
    ],
)
def test_orientation_and_pattern(crack_angle: float, axis: float, pattern: str) -> None:
    img, mask, _ = _straight_crack(2.0, crack_angle)
    q = quantify_crack(mask, img, element_axis_deg=axis)
    assert q.orientation_deg == pytest.approx(crack_angle, abs=2.0)
    assert q.pattern == pattern
    assert q.floor_ratio_source == "default" and q.floor_ratio == DEFAULT_FLOOR_RATIO
    assert q.notes  # says the floor was assumed


def test_branching_crack_is_branching() -> None:
    img, mask, _ = _straight_crack(3.0, 0.0)
    _, mask2, _ = _straight_crack(2.0, 60.0)
    mask2[:, :100] = False  # a branch leaving the main crack at the centre
    q = quantify_crack(mask | mask2, img)
    assert q.pattern == "branching" and q.n_junctions >= 1
    # the main crack runs straight through the junction as one branch; the branch is the other
    assert len(q.polylines_px) == 2
    main, branch = sorted(q.polylines_px, key=len, reverse=True)
    assert np.ptp(main[:, 0]) == pytest.approx(140.0, abs=3.0)
    assert np.ptp(main[:, 1]) < 3.0
    assert _length(branch) == pytest.approx(70.0, abs=4.0)


def _length(pts: np.ndarray) -> float:
    return float(np.hypot(*np.diff(pts, axis=0).T).sum())


@pytest.mark.parametrize("angle", [90.0, 50.0])
def test_crossing_crack_is_one_branch_through_the_other(angle: float) -> None:
    img, mask, _ = _straight_crack(3.0, 0.0)
    img2, mask2, _ = _straight_crack(1.5, angle, seed=1)
    both = np.minimum(img, img2)
    q = quantify_crack(mask | mask2, both)
    assert q.n_junctions >= 1
    # two straight cracks, not four pieces of one network
    assert len(q.polylines_px) == 2
    for line in q.polylines_px:
        assert _length(line) == pytest.approx(140.0, abs=4.0)
    assert q.length.value == pytest.approx(280.0, rel=0.02)
    # no width station inside the crossing (the other crack's darkness is not this one's width)
    near = np.hypot(*(q.stations.centres_px - [100.0, 100.0]).T) < 3.0
    assert not near.any()
    thin = q.stations.branch == int(
        np.argmin([np.median(q.stations.widths_px[q.stations.branch == b]) for b in range(2)])
    )
    assert np.median(q.stations.widths_px[thin]) == pytest.approx(1.5, abs=0.25)


def test_components_are_separate_cracks() -> None:
    s = render_crack_scene(width=480, height=360, seed=8, n_cracks=2, branch_probability=0)
    qs = quantify_cracks(s.mask, s.image)
    assert len(qs) >= 1
    assert qs == tuple(sorted(qs, key=lambda q: -q.length.value))


def test_bad_inputs() -> None:
    img = np.zeros((50, 60), np.uint8)
    with pytest.raises(MeasurementInputError, match="mask is empty"):
        quantify_crack(np.zeros((50, 60), bool), img)
    with pytest.raises(MeasurementInputError, match="mask is 60x40"):
        quantify_crack(np.ones((40, 60), bool), img)
    line = np.zeros((50, 60), bool)
    line[25, 5:55] = True
    with pytest.raises(MeasurementInputError, match="crack_floor_ratio"):
        quantify_crack(line, img, crack_floor_ratio=1.2)
    with pytest.raises(MeasurementInputError, match="station_spacing_px"):
        quantify_cracks(line, img, station_spacing_px=0)


def test_classical_segmentation_finds_the_crack() -> None:
    s = render_crack_scene(width=480, height=360, seed=4)
    m = segment_dark_cracks(s.image)
    recall = (m & s.mask).sum() / s.mask.sum()
    assert recall > 0.9
    # nothing far away from a crack
    far = ~np.asarray(
        __import__("cv2").dilate(s.mask.astype(np.uint8), np.ones((15, 15), np.uint8)), bool
    )
    assert (m & far).sum() < 0.05 * m.sum()


def test_mask_drawn_too_wide_does_not_bias_width() -> None:
    import cv2

    s = render_crack_scene(
        width=640, height=480, seed=3, width_range_px=(0.5, 16.0), n_cracks=1, branch_probability=0
    )
    wide = cv2.dilate(s.mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    (q,) = quantify_cracks(wide, s.image)
    truth = cKDTree(s.cracks[0].centreline)
    d, i = truth.query(q.stations.centres_px)
    err = (q.stations.widths_px - s.cracks[0].widths_px[i])[d < 2]
    assert abs(np.median(err)) < 0.05
    assert np.median(np.abs(err)) < 0.15


def test_soft_image_with_larger_psf_margin() -> None:
    s = render_crack_scene(
        width=640,
        height=480,
        seed=3,
        width_range_px=(0.5, 16.0),
        n_cracks=1,
        branch_probability=0,
        blur_sigma_px=1.5,
    )
    (q,) = quantify_cracks(s.mask, s.image, psf_margin_px=4.5)
    truth = cKDTree(s.cracks[0].centreline)
    d, i = truth.query(q.stations.centres_px)
    err = (q.stations.widths_px - s.cracks[0].widths_px[i])[d < 2]
    assert np.median(np.abs(err)) < 0.15
    with pytest.raises(MeasurementInputError, match="psf_margin_px"):
        quantify_cracks(s.mask, s.image, psf_margin_px=-1.0)


def test_tilted_view_measured_in_mm_through_the_marker_homography() -> None:
    from infrasight.measure import calibrate_scale

    s = render_crack_scene(
        width=800,
        height=600,
        seed=3,
        marker_mm=25.0,
        mm_per_px=0.2,
        tilt_deg=40.0,
        tilt_axis_deg=60.0,
        n_cracks=1,
        width_range_px=(1.0, 8.0),
    )
    assert s.plane_to_image is not None
    cal = calibrate_scale(s.image, marker_mm=25.0)
    qs = quantify_cracks(s.mask, s.image, scale=cal.scale)
    total = sum(q.length.value for q in qs)
    assert total == pytest.approx(s.true_length_mm, rel=0.015)
    # the same crack measured with a single mm/px is off by the foreshortening
    naive = sum(q.length.value for q in quantify_cracks(s.mask, s.image)) * cal.mm_per_px
    assert abs(naive / s.true_length_mm - 1) > 0.03
    true_max_mm = s.true_max_width_px * s.mm_per_px
    assert max(q.width_max.value for q in qs) == pytest.approx(true_max_mm, rel=0.2)


def test_pieces_within_the_link_gap_are_one_crack() -> None:
    img, mask, _ = _straight_crack(2.0, 0.0)
    broken = mask.copy()
    broken[:, 98:102] = False  # a 4 px segmentation gap
    assert len(quantify_cracks(broken, img)) == 2
    (one,) = quantify_cracks(broken, img, link_gap_px=6)
    whole = quantify_crack(mask, img)
    assert one.length.value == pytest.approx(whole.length.value - 4.0, abs=2.5)
    with pytest.raises(MeasurementInputError, match="link_gap_px"):
        quantify_cracks(mask, img, link_gap_px=-1)


def test_inverted_mask_is_refused_and_degenerate_masks_are_flagged() -> None:
    img = (np.random.default_rng(0).random((80, 100)) * 50 + 100).astype(np.uint8)
    with pytest.raises(MeasurementInputError, match="not a crack mask"):
        quantify_crack(np.ones((80, 100), bool), img)
    dot = np.zeros((80, 100), bool)
    dot[40:43, 50:53] = True
    q = quantify_crack(dot, img)
    assert not q.reliable and q.notes
    assert quantify_cracks(dot, img) == ()  # below min_area_px: mask noise
    edge = np.zeros((80, 100), bool)
    edge[0, 10:90] = True  # along the image border: no profile fits
    q = quantify_crack(edge, img)
    assert not q.reliable
    assert q.length.value == pytest.approx(79.0, abs=1.5)


def test_a_grid_of_cracks_is_four_straight_branches() -> None:
    rng = np.random.default_rng(0)
    img = concrete_texture(300, 300, rng, mean_grey=150.0)
    mask = np.zeros((300, 300), bool)
    for c in (100, 200):
        mask[c - 1 : c + 2, 40:260] = True
        mask[40:260, c - 1 : c + 2] = True
    q = quantify_crack(mask, np.where(mask, img * 0.25, img).astype(np.uint8))
    assert q.n_junctions == 4 and q.n_loops == 1
    lengths = sorted(_length(p) for p in q.polylines_px)
    assert len(lengths) == 4
    assert lengths == pytest.approx([218.0] * 4, abs=3.0)
    assert q.length.value == pytest.approx(880.0, rel=0.015)
    assert np.median(q.stations.widths_px) == pytest.approx(3.0, abs=0.2)
