"""Segmentation metrics on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.vision.metrics import PixelCounts, pixel_counts, sweep, tolerance_counts


def test_pixel_counts_and_scores_hand_computed() -> None:
    truth = np.zeros((4, 5), bool)
    truth[1, :] = True  # 5 crack pixels
    pred = np.zeros((4, 5), bool)
    pred[1, :3] = True  # 3 correct
    pred[3, 0] = True  # 1 false positive
    c = pixel_counts(pred, truth)
    assert (c.tp, c.fp, c.fn) == (3, 1, 2)
    s = c.scores()
    assert s.precision == pytest.approx(3 / 4)
    assert s.recall == pytest.approx(3 / 5)
    assert s.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert s.iou == pytest.approx(3 / 6)


def test_counts_are_summed_over_a_set_before_scoring() -> None:
    a = PixelCounts(tp=10, fp=0, fn=0)
    b = PixelCounts(tp=0, fp=10, fn=10)
    s = (a + b).scores()
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(0.5)
    assert PixelCounts(tp=0, fp=0, fn=0).scores().f1 == 0.0


def test_mismatched_shapes_and_negative_counts_are_errors() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        pixel_counts(np.zeros((3, 3), bool), np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match=">= 0"):
        PixelCounts(tp=-1, fp=0, fn=0)


def _vline(x: int, shape: tuple[int, int] = (40, 40)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[5:35, x] = True
    return m


@pytest.mark.parametrize(
    ("shift", "tolerance", "matched"),
    [(0, 0.0, 30), (2, 2.0, 30), (2, 1.0, 0), (3, 2.0, 0), (1, 1.0, 30)],
)
def test_tolerance_matching_of_shifted_lines(shift: int, tolerance: float, matched: int) -> None:
    mp, n_p, mt, n_t = tolerance_counts(_vline(10 + shift), _vline(10), tolerance=tolerance)
    assert (n_p, n_t) == (30, 30)
    assert mp == matched and mt == matched


def test_wide_prediction_is_thinned_before_matching() -> None:
    wide = np.zeros((40, 40), bool)
    wide[5:35, 8:13] = True  # 5 px wide band centred on x = 10
    mp, n_p, mt, n_t = tolerance_counts(wide, _vline(10), tolerance=2.0)
    assert mt == n_t == 30  # every true pixel is recalled
    assert n_p <= 32 and mp == n_p  # the skeleton is ~1 px wide and all of it matches


def test_ods_and_ois_hand_computed() -> None:
    truth_a = _vline(10)
    truth_b = _vline(20)
    # Image A: the crack has probability 0.8, a false line elsewhere 0.3.
    pa = np.zeros((40, 40), np.float32)
    pa[truth_a] = 0.8
    pa[_vline(30)] = 0.3
    # Image B: the crack has probability 0.4 only.
    pb = np.zeros((40, 40), np.float32)
    pb[truth_b] = 0.4
    res = sweep([(pa, truth_a), (pb, truth_b)], tolerance=2.0, thresholds=(0.2, 0.5))
    # t = 0.2: A P = 30/60, R = 1; B P = R = 1 -> summed P = 60/90, R = 1 -> F = 0.8
    # t = 0.5: A perfect; B nothing -> summed P = 1, R = 0.5 -> F = 2/3
    assert res.ods_f1 == pytest.approx(0.8)
    assert res.ods_threshold == 0.2
    assert res.ods_precision == pytest.approx(2 / 3) and res.ods_recall == pytest.approx(1.0)
    # OIS: A best F = 1 (t = 0.5), B best F = 1 (t = 0.2)
    assert res.ois_f1 == pytest.approx(1.0)


def test_empty_image_with_empty_prediction_scores_one_in_ois() -> None:
    empty = np.zeros((20, 20), bool)
    res = sweep([(np.zeros((20, 20), np.float32), empty)], thresholds=(0.5,))
    assert res.ois_f1 == 1.0 and res.ods_f1 == 0.0


@pytest.mark.parametrize("thresholds", [(), (0.0, 0.5), (0.5, 1.0)])
def test_sweep_rejects_bad_thresholds(thresholds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="thresholds"):
        sweep([(np.zeros((20, 20), np.float32), np.zeros((20, 20), bool))], thresholds=thresholds)


def test_sweep_needs_images() -> None:
    with pytest.raises(ValueError, match="no images"):
        sweep([])
