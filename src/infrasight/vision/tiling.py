"""Overlapping tiles along one axis and their blending weights."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["axis_tiles", "ramp_weights"]


def axis_tiles(length: int, *, max_tile: int, overlap: int, multiple: int) -> list[tuple[int, int]]:
    """Split ``[0, length)`` into ``(start, size)`` tiles of equal size <= ``max_tile``.

    Tiles overlap by at least ``overlap`` px; sizes are multiples of ``multiple`` unless the
    whole axis is shorter than one tile (then one tile of size ``length``, padded later).
    """
    if length <= max_tile:
        return [(0, length)]
    n = math.ceil((length - overlap) / (max_tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)
    size = min(max_tile, math.ceil(size / multiple) * multiple)
    starts = np.linspace(0, length - size, n).round().astype(int)
    return [(int(s), size) for s in starts]


def ramp_weights(size: int, *, before: int, after: int) -> NDArray[np.float32]:
    """1-D blending weights: linear ramps over ``before``/``after`` px of overlap, 1 elsewhere."""
    w = np.ones(size, np.float32)
    if before > 0:
        w[:before] = (np.arange(before, dtype=np.float32) + 0.5) / before
    if after > 0:
        w[size - after :] = np.minimum(
            w[size - after :], ((np.arange(after, dtype=np.float32) + 0.5) / after)[::-1]
        )
    return w
