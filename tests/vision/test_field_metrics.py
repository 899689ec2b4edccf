"""Centreline IoU (UAV75 / OmniCrack30k definition) and the field corruption suite."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.vision.corruptions import CORRUPTION_LEVELS, CORRUPTIONS, corrupt
from infrasight.vision.metrics import CentrelineCounts, centreline_counts


def _line(shape: tuple[int, int], row: int, c0: int, c1: int, width: int = 1) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[row - width // 2 : row - width // 2 + width, c0:c1] = True
    return m


def test_centreline_identical_lines_give_iou_one() -> None:
    truth = _line((64, 64), 32, 5, 55)
    counts = centreline_counts(truth, truth)
    assert counts.fp == 0 and counts.fn == 0 and counts.tp == 50
    assert counts.iou == 1.0


def test_a_wider_correct_prediction_is_not_punished() -> None:
    # A 7-px wide prediction around a 1-px centreline label: the skeletons coincide.
    truth = _line((64, 64), 32, 5, 55)
    pred = _line((64, 64), 32, 5, 55, width=7)
    assert centreline_counts(pred, truth).iou == pytest.approx(1.0, abs=0.05)


def test_tolerance_of_four_pixels() -> None:
    truth = _line((64, 64), 30, 10, 50)
    near = _line((64, 64), 34, 10, 50)  # 4 px away: inside the disk
    far = _line((64, 64), 35, 10, 50)  # 5 px away: outside
    assert centreline_counts(near, truth).iou == 1.0
    c = centreline_counts(far, truth)
    assert c.tp == 0 and c.fp == 40 and c.fn == 40 and c.iou == 0.0


def test_half_detected_line_known_counts() -> None:
    truth = _line((64, 64), 32, 0, 60)
    pred = _line((64, 64), 32, 0, 30)
    extra = _line((64, 64), 10, 0, 20)  # a false line 22 px away
    c = centreline_counts(pred | extra, truth)
    # Truth pixels within 4 px of the predicted half: columns 0..33 -> 34 px.
    assert (c.tp, c.fn, c.fp) == (34, 26, 20)
    assert c.iou == pytest.approx(34 / 80)


def test_counts_pool_and_empty_is_perfect() -> None:
    a = CentrelineCounts(tp=3, fp=1, fn=0)
    b = CentrelineCounts(tp=1, fp=0, fn=3)
    assert (a + b).iou == pytest.approx(4 / 8)
    empty = np.zeros((8, 8), bool)
    assert centreline_counts(empty, empty).iou == 1.0


@pytest.mark.parametrize(
    ("shape_pred", "tolerance", "message"),
    [((8, 9), 4.0, "differ in shape"), ((8, 8), -1.0, "tolerance")],
)
def test_centreline_bad_input(shape_pred: tuple[int, int], tolerance: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        centreline_counts(np.zeros(shape_pred, bool), np.zeros((8, 8), bool), tolerance=tolerance)


def _scene() -> np.ndarray:
    rng = np.random.default_rng(3)
    img = np.full((96, 128, 3), 150, np.uint8)
    img[:] = np.clip(150 + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    img[46:49, 10:118] = 40  # a dark crack
    return img


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_each_corruption_grows_with_severity_and_is_deterministic(name: str) -> None:
    img = _scene()
    diffs = []
    for sev in (1, 2, 3):
        out = corrupt(img, name, sev, seed=5)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert np.array_equal(out, corrupt(img, name, sev, seed=5))
        diffs.append(float(np.abs(out.astype(float) - img).mean()))
    assert diffs[0] > 0.0
    assert diffs[0] < diffs[2]
    assert set(CORRUPTION_LEVELS) == set(CORRUPTIONS)


def test_haze_lowers_crack_contrast_by_the_transmission() -> None:
    img = _scene()
    out = corrupt(img, "haze", 2).astype(float)
    contrast = img[30, 60].mean() - img[47, 60].mean()
    assert out[30, 60].mean() - out[47, 60].mean() == pytest.approx(
        contrast * (1 - CORRUPTION_LEVELS["haze"][1]), abs=1.0
    )


@pytest.mark.parametrize(
    ("name", "severity", "image", "message"),
    [
        ("smoke", 2, np.zeros((4, 4, 3), np.uint8), "unknown corruption"),
        ("blur", 4, np.zeros((4, 4, 3), np.uint8), "severity"),
        ("blur", 1, np.zeros((4, 4), np.uint8), r"\(H, W, 3\) uint8"),
        ("blur", 1, np.zeros((4, 4, 3), np.float32), r"\(H, W, 3\) uint8"),
    ],
)
def test_corrupt_bad_input(name: str, severity: int, image: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        corrupt(image, name, severity)
