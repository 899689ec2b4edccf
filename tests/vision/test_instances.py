"""Crack instances from hand-made masks: counts, boxes, polylines, lengths."""

from __future__ import annotations

import numpy as np
import pytest

from infrasight.vision.instances import CrackInstance, extract_instances


def test_straight_and_bent_cracks_hand_computed() -> None:
    mask = np.zeros((60, 80), bool)
    mask[10, 5:55] = True  # straight: 50 px, length 49
    mask[30:50, 60] = True  # L-shape: 20 down then 15 right
    mask[49, 61:76] = True
    prob = np.where(mask, 0.9, 0.0).astype(np.float32)
    prob[10, 5:30] = 0.7
    inst = extract_instances(mask, prob)
    assert len(inst) == 2
    straight, bent = inst  # largest first
    assert straight.pixel_count == 50 and bent.pixel_count == 35
    assert straight.bbox == (5, 10, 50, 1)
    assert bent.bbox == (60, 30, 16, 20)
    assert straight.length_px == pytest.approx(49.0)
    ends = {tuple(straight.polyline[0]), tuple(straight.polyline[-1])}
    assert ends == {(5.0, 10.0), (54.0, 10.0)}
    assert straight.mean_confidence == pytest.approx((25 * 0.7 + 25 * 0.9) / 50)
    # The bent crack's path follows the corner: 19 down, one diagonal, 14 right (= 33 + sqrt 2).
    assert bent.length_px == pytest.approx(33 + 2**0.5, abs=1.0)
    assert bent.mask.shape == (20, 16) and int(bent.mask.sum()) == 35


def test_min_pixels_drops_specks() -> None:
    mask = np.zeros((30, 30), bool)
    mask[3, 3] = True
    mask[10:12, 10:12] = True
    mask[20, 2:28] = True
    prob = mask.astype(np.float32)
    assert [c.pixel_count for c in extract_instances(mask, prob)] == [26, 4, 1]
    assert [c.pixel_count for c in extract_instances(mask, prob, min_pixels=5)] == [26]
    speck = extract_instances(mask, prob)[2]
    assert speck.polyline.shape == (1, 2) and speck.length_px == 0.0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        extract_instances(np.zeros((5, 5), bool), np.zeros((5, 6), np.float32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pixel_count": 0}, "pixel_count"),
        ({"bbox": (0, 0, 0, 2)}, "bbox"),
        ({"polyline": np.zeros((0, 2))}, "polyline"),
        ({"mean_confidence": 1.5}, "mean_confidence"),
        ({"mask": np.ones((3, 3), bool)}, "mask"),
    ],
)
def test_instance_validation(kwargs: dict[str, object], match: str) -> None:
    good: dict[str, object] = {
        "pixel_count": 2,
        "bbox": (0, 0, 2, 1),
        "polyline": np.array([[0.0, 0.0], [1.0, 0.0]]),
        "skeleton_length_px": 1.0,
        "mean_confidence": 0.9,
        "mask": np.ones((1, 2), bool),
    }
    with pytest.raises(ValueError, match=match):
        CrackInstance(**(good | kwargs))  # type: ignore[arg-type]
