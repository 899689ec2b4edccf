"""Concrete-like surface texture: multi-scale grey variation, aggregate, pores and stains.

The texture is a float32 luminance field in grey levels (0-255). It is built from blurred
white noise at several scales (cheap: each octave is generated at low resolution and resized),
plus sparse dark pores and light aggregate grains, so that crack measurement is tested against
realistic clutter rather than a flat background.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["concrete_texture", "illumination_field"]


def _octave(rng: np.random.Generator, height: int, width: int, cell: float) -> NDArray[np.float32]:
    """Smooth unit-variance noise with correlation length ``cell`` px, size ``height x width``."""
    small_h = max(2, int(np.ceil(height / cell)) + 2)
    small_w = max(2, int(np.ceil(width / cell)) + 2)
    small = rng.standard_normal((small_h, small_w)).astype(np.float32)
    big = cv2.resize(
        small, (small_w * int(cell), small_h * int(cell)), interpolation=cv2.INTER_CUBIC
    )
    big = big[:height, :width]
    std = float(big.std())
    return (big / std if std > 0 else big).astype(np.float32)


def concrete_texture(
    height: int,
    width: int,
    rng: np.random.Generator,
    *,
    mean_grey: float = 150.0,
    contrast: float = 1.0,
) -> NDArray[np.float32]:
    """Render a concrete-like grey texture.

    Parameters
    ----------
    height, width : int
        Image size in px.
    rng : numpy.random.Generator
        Source of randomness (seed it for reproducible output).
    mean_grey : float
        Mean grey level (0-255).
    contrast : float
        Multiplier of the texture's standard deviation (1.0 gives about 12 grey levels).

    Returns
    -------
    numpy.ndarray
        ``(height, width)`` float32 grey levels, not clipped.
    """
    if height < 8 or width < 8:
        raise ValueError(f"texture size must be at least 8x8 px, got {width}x{height}")
    tex = np.zeros((height, width), np.float32)
    for cell, amp in ((96.0, 6.0), (24.0, 4.0), (6.0, 3.0), (2.0, 2.5)):
        tex += amp * _octave(rng, height, width, cell)
    fine = rng.standard_normal((height, width)).astype(np.float32)
    tex += 2.5 * cv2.GaussianBlur(fine, (0, 0), 0.6)
    # pores (dark) and aggregate grains (light): sparse blobs of 1-4 px
    n_spots = int(height * width / 900)
    spots = np.zeros((height, width), np.float32)
    ys = rng.integers(0, height, n_spots)
    xs = rng.integers(0, width, n_spots)
    vals = rng.choice(np.array([-45.0, -30.0, 20.0], np.float32), n_spots, p=[0.35, 0.35, 0.3])
    spots[ys, xs] = vals
    spots = cv2.GaussianBlur(spots, (0, 0), 1.2) * 4.0
    tex += spots
    return (mean_grey + contrast * tex).astype(np.float32)


def illumination_field(
    height: int, width: int, rng: np.random.Generator, *, strength: float = 0.25
) -> NDArray[np.float32]:
    """Smooth multiplicative illumination (vignetting plus a linear gradient).

    Parameters
    ----------
    height, width : int
        Image size in px.
    rng : numpy.random.Generator
        Source of randomness.
    strength : float
        Peak-to-peak relative variation (0 gives a flat field of ones).

    Returns
    -------
    numpy.ndarray
        ``(height, width)`` float32 gain, mean about 1.
    """
    if strength < 0 or strength >= 1:
        raise ValueError(f"illumination strength must be in [0, 1), got {strength}")
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xn = xx / max(width - 1, 1) - 0.5
    yn = yy / max(height - 1, 1) - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xn + np.sin(angle) * yn
    cx, cy = rng.uniform(-0.3, 0.3, 2)
    vignette = -((xn - cx) ** 2 + (yn - cy) ** 2)
    field = 0.6 * ramp + 0.8 * vignette
    span = float(field.max() - field.min())
    if span > 0:
        field = (field - field.min()) / span - 0.5
    return np.asarray(1.0 + strength * field, np.float32)
