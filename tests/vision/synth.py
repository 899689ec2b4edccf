"""Generated crack images with exact ground truth for the vision tests (no datasets needed)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def surface(height: int, width: int, *, seed: int = 0) -> NDArray[np.uint8]:
    """Grey concrete-like texture, RGB uint8."""
    rng = np.random.default_rng(seed)
    small = rng.normal(150, 12, (max(2, height // 8), max(2, width // 8))).astype(np.float32)
    base = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    base += rng.normal(0, 4, (height, width)).astype(np.float32)
    g = np.clip(base, 0, 255).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def cracked(
    height: int, width: int, *, seed: int = 0, width_px: int = 3
) -> tuple[NDArray[np.uint8], NDArray[np.bool_], NDArray[np.int32]]:
    """Texture with one dark meandering crack from left to right; returns image, mask, polyline."""
    rng = np.random.default_rng(seed)
    img = surface(height, width, seed=seed)
    xs = np.linspace(width * 0.1, width * 0.9, 40)
    ys = height / 2 + np.cumsum(rng.normal(0, 2.0, xs.size))
    pts = np.stack([xs, ys], 1).round().astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    cv2.polylines(mask, [pts], False, 1, width_px)
    m = mask.astype(bool)
    img[m] = (img[m].astype(np.float32) * 0.3).astype(np.uint8)
    return img, m, pts
