"""Connected regions labelled in bands of rows: the same regions as OpenCV's whole-frame labels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from infrasight.vision.components import Region, connected_regions, region_mask


def _opencv_regions(binary: np.ndarray) -> dict[tuple[int, int], tuple[Region, np.ndarray]]:
    """OpenCV's regions keyed by their first pixel in raster order, with their pixels."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    found = {}
    for k in range(1, n):
        ys, xs = np.nonzero(labels == k)  # raster order: the first is the seed
        x, y, w, h, area = (int(v) for v in stats[k])
        seed = (int(xs[0]), int(ys[0]))
        found[seed] = (Region((x, y, w, h), area, seed), labels[y : y + h, x : x + w] == k)
    return found


@pytest.mark.parametrize("band_rows", [1, 2, 7, 64])
def test_random_masks_give_opencv_regions_for_any_band(band_rows: int) -> None:
    rng = np.random.default_rng(band_rows)
    for _ in range(60):
        height, width = (int(v) for v in rng.integers(1, 90, 2))
        binary = (rng.random((height, width)) < rng.uniform(0.05, 0.7)).astype(np.uint8)
        regions = connected_regions(binary, band_rows=band_rows)
        expected = _opencv_regions(binary)
        assert [r.seed for r in regions] == sorted(expected, key=lambda s: (s[1], s[0]))
        for region in regions:
            assert region == expected[region.seed][0]
            assert np.array_equal(region_mask(binary, region), expected[region.seed][1])


def test_a_region_split_by_every_band_boundary_is_one_region() -> None:
    """A U whose arms are separate in the top band and meet in the bottom one, and a diagonal
    line that crosses each boundary only by a corner (8-connectivity)."""
    binary = np.zeros((40, 40), np.uint8)
    binary[0:30, 2] = binary[0:30, 10] = 1  # arms
    binary[29, 2:11] = 1  # bottom of the U
    for i in range(20):
        binary[i, 39 - i] = 1  # anti-diagonal, corner-to-corner steps
    regions = connected_regions(binary, band_rows=4)
    assert [(r.seed, r.pixel_count) for r in regions] == [((2, 0), 30 + 30 + 7), ((39, 0), 20)]
    u, line = regions
    assert u.bbox == (2, 0, 9, 30) and line.bbox == (20, 0, 20, 20)
    assert region_mask(binary, line).sum() == 20
    assert not region_mask(binary, u)[0, 1:8].any()  # the gap between the arms


def test_empty_and_full_masks() -> None:
    assert connected_regions(np.zeros((5, 7), np.uint8), band_rows=2) == []
    (full,) = connected_regions(np.ones((5, 7), np.uint8), band_rows=2)
    assert full == Region((0, 0, 7, 5), 35, (0, 0))
    assert region_mask(np.ones((5, 7), np.uint8), full).all()


def test_any_non_zero_value_is_set() -> None:
    binary = np.array([[0, 255, 0, 0], [0, 1, 0, 7], [0, 0, 9, 0]], np.uint8)
    (region,) = connected_regions(binary)
    assert region == Region((1, 0, 3, 3), 4, (1, 0))
    assert np.array_equal(region_mask(binary, region), binary[:, 1:] > 0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        connected_regions(np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="2-D uint8"):
        connected_regions(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="band_rows must be >= 1"):
        connected_regions(np.zeros((4, 4), np.uint8), band_rows=0)
