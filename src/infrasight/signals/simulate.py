"""Synthetic signals with known ground truth, for tests, docs and demos.

Every generator takes a seeded :class:`numpy.random.Generator` and returns the data together with
the truth it was built from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from infrasight.signals.faults import FaultClass

__all__ = ["ModalTruth", "fault_window", "modal_response"]

FloatArray = NDArray[np.float64]


def _vibration(rng: np.random.Generator, n: int, fs: float) -> FloatArray:
    """Band-limited random vibration (sum of lightly damped resonances), unit std."""
    t = np.arange(n) / fs
    x = np.zeros(n)
    for f in (1.1, 2.7, 4.3):
        phase = np.cumsum(rng.normal(0.0, 0.05, n))
        x += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * f * t + phase)
    x += 0.3 * rng.normal(size=n)
    out: FloatArray = x / x.std()
    return out


def fault_window(
    kind: FaultClass, rng: np.random.Generator, *, n: int = 2000, fs: float = 20.0
) -> FloatArray:
    """One window of acceleration-like data showing ``kind`` (an IPC-SHM 2020 class).

    Parameters
    ----------
    kind : FaultClass
        Class to simulate; ``NORMAL`` is plain vibration of unit standard deviation.
    rng : numpy.random.Generator
    n : int
        Samples.
    fs : float
        Sampling rate in Hz.
    """
    x = _vibration(rng, n, fs)
    if kind is FaultClass.NORMAL:
        return x
    if kind is FaultClass.MISSING:
        y = x.copy()
        start = int(rng.integers(0, n // 4))
        y[start : start + int(0.6 * n)] = np.nan
        return y
    if kind is FaultClass.MINOR:
        return 0.02 * x
    if kind is FaultClass.OUTLIER:
        y = x.copy()
        idx = rng.choice(n, size=max(1, n // 500), replace=False)
        y[idx] += rng.choice([-1.0, 1.0], size=idx.size) * rng.uniform(15, 40, size=idx.size)
        return y
    if kind is FaultClass.SQUARE:
        period = int(rng.integers(n // 10, n // 4))
        sq = np.where((np.arange(n) // (period // 2)) % 2 == 0, 1.0, -1.0) * 6.0
        return sq + 0.2 * x
    if kind is FaultClass.TREND:
        return x + np.linspace(0.0, rng.choice([-1.0, 1.0]) * 12.0, n)
    if kind is FaultClass.DRIFT:
        walk = np.cumsum(rng.normal(0.0, 1.0, n))
        walk = np.convolve(walk, np.ones(50) / 50, mode="same")
        walk -= np.linspace(walk[0], walk[-1], n)  # non-monotonic wander, not a trend
        walk *= 6.0 / (walk.std() + 1e-12)
        return x + walk
    raise ValueError(f"unknown fault class {kind!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModalTruth:
    """Modal parameters used by :func:`modal_response` (frequencies Hz, damping ratios, shapes)."""

    frequencies_hz: FloatArray
    damping_ratios: FloatArray
    mode_shapes: FloatArray  # (n_channels, n_modes), unit max

    def __post_init__(self) -> None:
        if self.frequencies_hz.shape != self.damping_ratios.shape:
            raise ValueError("frequencies and damping must have the same length")


def modal_response(
    rng: np.random.Generator,
    *,
    n_samples: int = 65536,
    fs: float = 100.0,
    frequencies_hz: tuple[float, ...] = (3.9, 5.0, 9.8, 10.3, 12.4),
    damping_ratios: tuple[float, ...] = (0.01, 0.015, 0.012, 0.012, 0.02),
    n_channels: int = 5,
    noise: float = 0.05,
    mode_shapes: FloatArray | None = None,
) -> tuple[FloatArray, ModalTruth]:
    """Ambient response of a linear structure to white noise (modal superposition).

    Each mode is a discrete-time resonator (exact pole ``exp(lambda / fs)``) driven by independent
    white noise; channel ``c`` sees mode ``m`` with the weight ``shape[c, m]``. Returns the
    record (n_samples, n_channels) and the truth. ``mode_shapes`` (n_channels, n_modes) fixes the
    shapes (default: random, unit max).
    """
    from scipy.signal import lfilter

    nm = len(frequencies_hz)
    if mode_shapes is None:
        shapes = rng.uniform(-1.0, 1.0, size=(n_channels, nm))
        shapes /= np.abs(shapes).max(axis=0, keepdims=True)
    else:
        shapes = np.asarray(mode_shapes, dtype=np.float64)
        if shapes.shape != (n_channels, nm):
            raise ValueError(f"mode_shapes must have shape {(n_channels, nm)}")
    y = np.zeros((n_samples, n_channels))
    for m, (f, z) in enumerate(zip(frequencies_hz, damping_ratios, strict=True)):
        wn = 2 * np.pi * f
        lam = -z * wn + 1j * wn * np.sqrt(1 - z * z)
        p = np.exp(lam / fs)
        a = [1.0, -2 * p.real, abs(p) ** 2]
        q = lfilter([1.0], a, rng.normal(size=n_samples))
        q /= q.std()
        y += q[:, None] * shapes[:, m][None, :]
    y += noise * rng.normal(size=y.shape)
    truth = ModalTruth(
        frequencies_hz=np.asarray(frequencies_hz, dtype=np.float64),
        damping_ratios=np.asarray(damping_ratios, dtype=np.float64),
        mode_shapes=shapes,
    )
    return y, truth
