"""Modal result types and the modal assurance criterion (MAC)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ModalResult", "Mode", "mac", "mac_matrix", "mpc", "real_shape"]

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]


def mac(phi_a: ArrayLike, phi_b: ArrayLike) -> float:
    """Modal assurance criterion of two (complex) mode shapes, in [0, 1].

    ``|phi_a^H phi_b|^2 / ((phi_a^H phi_a) (phi_b^H phi_b))``; 1 for collinear shapes.
    """
    a = np.asarray(phi_a, dtype=np.complex128).ravel()
    b = np.asarray(phi_b, dtype=np.complex128).ravel()
    if a.shape != b.shape:
        raise ValueError(f"mode shapes differ in length: {a.size} vs {b.size}")
    den = float(np.real(np.vdot(a, a)) * np.real(np.vdot(b, b)))
    if den == 0.0:
        return 0.0
    return float(abs(np.vdot(a, b)) ** 2 / den)


def mac_matrix(shapes_a: ArrayLike, shapes_b: ArrayLike) -> FloatArray:
    """MAC between every column of ``shapes_a`` (n_dof, p) and of ``shapes_b`` (n_dof, q)."""
    a = np.asarray(shapes_a, dtype=np.complex128)
    b = np.asarray(shapes_b, dtype=np.complex128)
    num = np.abs(a.conj().T @ b) ** 2
    den = np.outer(np.sum(np.abs(a) ** 2, axis=0), np.sum(np.abs(b) ** 2, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, 0.0)
    return np.asarray(out, dtype=np.float64)


def mpc(phi: ArrayLike) -> float:
    """Modal phase collinearity in [0, 1] (1 = real, normal mode)."""
    p = np.asarray(phi, dtype=np.complex128).ravel()
    re, im = p.real, p.imag
    sxx, syy, sxy = re @ re, im @ im, re @ im
    den = (sxx + syy) ** 2
    if den == 0:
        return 0.0
    return float(((sxx - syy) ** 2 + 4 * sxy**2) / den)


def real_shape(phi: ArrayLike) -> FloatArray:
    """Rotate a complex shape to its dominant real direction and scale to unit max (signed)."""
    p = np.asarray(phi, dtype=np.complex128).ravel()
    if not np.any(p):
        return np.zeros(p.size)
    k = int(np.argmax(np.abs(p)))
    rot = p * np.exp(-1j * np.angle(p[k]))
    r = rot.real
    out: FloatArray = r / np.max(np.abs(r))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Mode:
    """One identified mode.

    Attributes
    ----------
    frequency_hz : float
        Natural frequency (Hz).
    damping_ratio : float
        Viscous damping ratio (-), NaN when the method cannot tell.
    mode_shape : ndarray, shape (n_channels,)
        Real shape, unit max (signed).
    mode_shape_complex : ndarray, shape (n_channels,)
        Complex shape as identified.
    frequency_std_hz, damping_std : float
        Standard uncertainty (Hz, -): for SSI-COV from the spread of the estimates of the
        record's blocks (``std / sqrt(blocks)``), else the scatter across the stable poles of
        the cluster; half the peak width for FDD.
    frequency_ci_hz, damping_ci : (float, float) or None
        95 % confidence interval (Student-t on the block estimates); None when not estimated.
    n_blocks : int
        Blocks of the record in which the mode was found again (0: not split).
    n_poles : int
        Stable poles supporting the mode (SSI) or 1 (FDD).
    mpc : float
        Modal phase collinearity.
    """

    frequency_hz: float
    damping_ratio: float
    mode_shape: FloatArray
    mode_shape_complex: ComplexArray
    frequency_std_hz: float = 0.0
    damping_std: float = 0.0
    n_poles: int = 1
    mpc: float = 1.0
    frequency_ci_hz: tuple[float, float] | None = None
    damping_ci: tuple[float, float] | None = None
    n_blocks: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.frequency_hz) and self.frequency_hz > 0):
            raise ValueError(f"frequency must be > 0 Hz, got {self.frequency_hz}")
        if self.mode_shape.shape != self.mode_shape_complex.shape:
            raise ValueError("real and complex mode shapes differ in shape")
        if self.n_poles < 1:
            raise ValueError("n_poles must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (``mode_shape`` as a list of floats)."""
        return {
            "frequency_hz": self.frequency_hz,
            "damping_ratio": None if np.isnan(self.damping_ratio) else self.damping_ratio,
            "mode_shape": [float(x) for x in self.mode_shape],
            "frequency_std_hz": self.frequency_std_hz,
            "damping_std": None if np.isnan(self.damping_std) else self.damping_std,
            "n_poles": self.n_poles,
            "mpc": self.mpc,
            "frequency_ci_hz": None if self.frequency_ci_hz is None else list(self.frequency_ci_hz),
            "damping_ci": None if self.damping_ci is None else list(self.damping_ci),
            "n_blocks": self.n_blocks,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ModalResult:
    """Modes of one record plus the stabilisation diagram they came from.

    Attributes
    ----------
    modes : tuple of Mode
        Sorted by frequency.
    method : str
        ``"ssi-cov"`` or ``"fdd"``.
    fs : float
        Sampling rate of the record (Hz).
    n_samples, n_channels : int
    diagram : ndarray, shape (n_poles, 4)
        Columns: model order, frequency (Hz), damping ratio, stable flag (1/0). Empty for FDD.
    """

    modes: tuple[Mode, ...]
    method: str
    fs: float
    n_samples: int
    n_channels: int
    diagram: FloatArray

    def __post_init__(self) -> None:
        f = [m.frequency_hz for m in self.modes]
        if f != sorted(f):
            raise ValueError("modes must be sorted by frequency")

    @property
    def frequencies_hz(self) -> FloatArray:
        """Frequencies of the modes (Hz)."""
        return np.array([m.frequency_hz for m in self.modes])

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form: ``{"modes": [...], "method": ..., ...}``."""
        return {
            "modes": [m.to_dict() for m in self.modes],
            "method": self.method,
            "fs": self.fs,
            "n_samples": self.n_samples,
            "n_channels": self.n_channels,
        }
