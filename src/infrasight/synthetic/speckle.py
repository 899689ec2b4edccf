"""Speckle images with exactly known sub-pixel rigid shifts (for displacement tracking).

The speckle field is band-limited periodic noise built in the Fourier domain; shifting it by
``(dx, dy)`` is a phase ramp, which is exact for a band-limited signal, so the moved image carries
no interpolation error. A pointwise contrast curve is applied after the shift (it commutes with
translation), then contrast/brightness changes, noise and 8-bit quantisation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["speckle_field", "speckle_image"]


def speckle_field(
    height: int, width: int, *, seed: int, speckle_px: float = 3.0
) -> NDArray[np.complex128]:
    """Fourier coefficients of a band-limited speckle field.

    Parameters
    ----------
    height, width : int
        Image size, px.
    seed : int
        Seed of the random phases.
    speckle_px : float
        Typical speckle size, px (>= 2; smaller speckles alias).

    Returns
    -------
    numpy.ndarray
        ``(height, width)`` complex spectrum; pass it to :func:`speckle_image`.
    """
    if speckle_px < 2.0:
        raise ValueError(f"speckle_px must be >= 2 px to stay band-limited, got {speckle_px}")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((height, width))
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    sigma_f = 1.0 / (np.pi * speckle_px)
    lowpass = np.exp(-(fx**2 + fy**2) / (2 * sigma_f**2))
    lowpass[(np.abs(fx) > 0.45) | (np.abs(fy) > 0.45)] = 0.0
    return np.asarray(np.fft.fft2(noise) * lowpass, np.complex128)


def speckle_image(
    spectrum: NDArray[np.complex128],
    *,
    shift: tuple[float, float] = (0.0, 0.0),
    contrast: float = 1.0,
    brightness: float = 0.0,
    noise_sigma: float = 0.0,
    seed: int = 0,
) -> NDArray[np.uint8]:
    """Render the speckle field with its content moved by ``shift`` px.

    Parameters
    ----------
    spectrum : numpy.ndarray
        Output of :func:`speckle_field`.
    shift : tuple of float
        ``(dx, dy)``: content moves right by ``dx`` and down by ``dy`` px.
    contrast : float
        Multiplier of the grey-level swing around mid-grey.
    brightness : float
        Grey-level offset.
    noise_sigma : float
        Gaussian noise, grey levels.
    seed : int
        Seed of the noise.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint8 image.
    """
    h, w = spectrum.shape
    dx, dy = shift
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    moved = np.fft.ifft2(spectrum * np.exp(-2j * np.pi * (fx * dx + fy * dy))).real
    z = moved / (moved.std() or 1.0)
    grey = 128.0 + brightness + contrast * 95.0 * np.tanh(0.9 * z)
    if noise_sigma > 0:
        grey = grey + noise_sigma * np.random.default_rng(seed).standard_normal(grey.shape)
    return np.clip(np.round(grey), 0, 255).astype(np.uint8)
