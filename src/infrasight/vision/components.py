"""Connected components (8-connectivity) of a large binary mask in bounded memory.

OpenCV labels a whole mask at once into an int32 image: 400 MB for a 100-megapixel capture, on
top of the mask and the probability map. Here the mask is labelled one band of rows at a time
(about ``4 * band_rows * width`` bytes), the pieces that touch across a band boundary are joined
(a graph of the touching pairs, solved by SciPy), and each region is described by its bounding
box, pixel count and one pixel of its own (its first in raster order), from which
:func:`region_mask` recovers its pixels by a flood fill inside the box.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["BAND_ROWS", "Region", "connected_regions", "region_mask"]

BAND_ROWS = 1024
"""Rows labelled at once (a 10,000-px-wide band: 41 MB of int32 labels)."""


@dataclass(frozen=True, slots=True)
class Region:
    """One 8-connected region of a binary mask.

    Attributes
    ----------
    bbox : ``(x, y, width, height)`` in px.
    pixel_count : number of pixels in the region.
    seed : ``(x, y)`` of the region's first pixel in raster order (top row, leftmost).
    """

    bbox: tuple[int, int, int, int]
    pixel_count: int
    seed: tuple[int, int]


def connected_regions(binary: NDArray[np.uint8], *, band_rows: int = BAND_ROWS) -> list[Region]:
    """The 8-connected regions of the non-zero pixels of ``binary``, in raster order of their seeds.

    Parameters
    ----------
    binary : (H, W) uint8, non-zero where the mask is set.
    band_rows : rows labelled at once (>= 1).

    Returns
    -------
    list of Region, ordered by the row, then the column, of each region's first pixel.
    """
    if binary.ndim != 2 or binary.dtype != np.uint8:
        raise ValueError(f"binary must be a 2-D uint8 array, got {binary.dtype} {binary.shape}")
    if band_rows < 1:
        raise ValueError(f"band_rows must be >= 1, got {band_rows}")
    height, width = binary.shape
    boxes: list[NDArray[np.int64]] = []  # per band: rows of x0, y0, x1 (excl.), y1 (excl.), area
    seeds: list[NDArray[np.int64]] = []  # per band: rows of seed y, seed x
    pairs: list[NDArray[np.int64]] = []  # global ids of pieces touching across a band boundary
    first_id = 0
    previous_last_row: NDArray[np.int64] | None = None
    for top in range(0, height, band_rows):
        band = binary[top : top + band_rows]
        n, labels, stats, _ = cv2.connectedComponentsWithStats(band, connectivity=8)
        stats = stats[1:].astype(np.int64)
        x, y, w, h, area = stats.T
        boxes.append(np.stack([x, y + top, x + w, y + h + top, area], axis=1))
        seeds.append(np.stack([y + top, _first_columns(labels, x, y, w)], axis=1))
        ids = np.where(labels[0] > 0, labels[0].astype(np.int64) + first_id - 1, -1)
        if previous_last_row is not None:
            pairs.append(_touching(previous_last_row, ids))
        previous_last_row = np.where(labels[-1] > 0, labels[-1].astype(np.int64) + first_id - 1, -1)
        first_id += n - 1
    if first_id == 0:
        return []
    box = np.concatenate(boxes)
    seed = np.concatenate(seeds)
    joined = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    graph = coo_matrix(
        (np.ones(len(joined), np.int8), (joined[:, 0], joined[:, 1])), shape=(first_id, first_id)
    )
    _, group = connected_components(graph, directed=False)
    return _merge(box, seed, group, width)


def _first_columns(
    labels: NDArray[np.generic], x: NDArray[np.int64], y: NDArray[np.int64], w: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Column of each label's first pixel: the leftmost of its own in its top row ``y``."""
    return np.array(
        [x[k] + int(np.argmax(labels[y[k], x[k] : x[k] + w[k]] == k + 1)) for k in range(len(x))],
        np.int64,
    )


def _touching(above: NDArray[np.int64], below: NDArray[np.int64]) -> NDArray[np.int64]:
    """Pairs ``(id above, id below)`` of pieces 8-adjacent across one row boundary."""
    found = []
    for dx in (-1, 0, 1):  # below[x + dx] touches above[x]
        a = above[max(0, -dx) : len(above) - max(0, dx)]
        b = below[max(0, dx) : len(below) - max(0, -dx)]
        both = (a >= 0) & (b >= 0)
        found.append(np.stack([a[both], b[both]], axis=1))
    return np.unique(np.concatenate(found), axis=0)


def _merge(
    box: NDArray[np.int64], seed: NDArray[np.int64], group: NDArray[np.int32], width: int
) -> list[Region]:
    """One Region per group of joined pieces: union of boxes, sum of areas, first seed."""
    order = np.argsort(group, kind="stable")
    group_sorted = group[order]
    starts = np.flatnonzero(np.r_[True, group_sorted[1:] != group_sorted[:-1]])
    x0 = np.minimum.reduceat(box[order, 0], starts)
    y0 = np.minimum.reduceat(box[order, 1], starts)
    x1 = np.maximum.reduceat(box[order, 2], starts)
    y1 = np.maximum.reduceat(box[order, 3], starts)
    area = np.add.reduceat(box[order, 4], starts)
    raster = seed[order, 0] * width + seed[order, 1]
    first = np.minimum.reduceat(raster, starts)
    return [
        Region(
            bbox=(int(x0[i]), int(y0[i]), int(x1[i] - x0[i]), int(y1[i] - y0[i])),
            pixel_count=int(area[i]),
            seed=(int(first[i] % width), int(first[i] // width)),
        )
        for i in np.argsort(first)  # raster order of the seeds
    ]


def region_mask(binary: NDArray[np.uint8], region: Region) -> NDArray[np.bool_]:
    """The region's pixels inside its bounding box, ``(height, width)`` bool.

    Parameters
    ----------
    binary : the (H, W) uint8 mask the region was found in, non-zero where set.
    region : a region of ``binary`` from :func:`connected_regions`.
    """
    x, y, w, h = region.bbox
    window = binary[y : y + h, x : x + w]  # read only: the fill writes to ``filled`` alone
    filled = np.zeros((h + 2, w + 2), np.uint8)
    sx, sy = region.seed[0] - x, region.seed[1] - y
    value = int(window[sy, sx])  # every non-zero value: the fixed range [1, 255]
    flags = 8 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    cv2.floodFill(window, filled, (sx, sy), 0, value - 1, 255 - value, flags)
    return filled[1:-1, 1:-1].view(np.bool_)
