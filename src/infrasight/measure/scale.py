"""Image-to-metric scale: a plane homography or a plain mm/px, always with its uncertainty."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.measure.errors import MeasurementInputError

__all__ = ["Quantity", "Scale"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Quantity:
    """A measured value with its unit and 1-sigma standard uncertainty.

    Attributes
    ----------
    value : float
        Best estimate.
    std : float
        Standard uncertainty (1 sigma), same unit; ``nan`` when it could not be estimated.
    unit : str
        ``"mm"``, ``"px"``, ``"mm2"``, ``"px2"`` or ``"deg"``.
    """

    value: float
    std: float
    unit: str

    def __post_init__(self) -> None:
        if not np.isfinite(self.value):
            raise ValueError(f"quantity value must be finite, got {self.value}")
        if self.std < 0:
            raise ValueError(f"uncertainty must be >= 0, got {self.std}")
        if self.unit not in {"mm", "px", "mm2", "px2", "deg"}:
            raise ValueError(f"unknown unit {self.unit!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"value", "std", "unit"}``."""
        return {"value": self.value, "std": self.std, "unit": self.unit}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Scale:
    """Map from image px to millimetres on the measured surface.

    Either a homography (image px -> plane mm, exact under perspective) or a plain
    ``mm_per_px`` for a camera that looks straight at the surface.

    Attributes
    ----------
    mm_per_px : float
        Nominal scale (at the reference point of a homography), mm per px.
    relative_std : float
        Relative 1-sigma uncertainty of lengths converted with this scale.
    homography : numpy.ndarray or None
        ``(3, 3)`` image px -> plane mm, or ``None``.
    source : str
        How it was obtained (``"user"``, ``"marker"``, ``"charuco"``).
    homography_samples : numpy.ndarray or None
        ``(K, 3, 3)`` homographies drawn from the calibration's uncertainty (Monte Carlo);
        they give honest uncertainties far from the marker, where a single marker's
        homography is extrapolated.
    """

    mm_per_px: float
    relative_std: float
    homography: NDArray[np.float64] | None = None
    source: str = "user"
    homography_samples: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mm_per_px) and self.mm_per_px > 0):
            raise MeasurementInputError(
                f"mm_per_px must be a positive number, got {self.mm_per_px}", field="mm_per_px"
            )
        if not (np.isfinite(self.relative_std) and self.relative_std >= 0):
            raise MeasurementInputError(
                f"relative uncertainty must be >= 0, got {self.relative_std}", field="relative_std"
            )
        if self.homography_samples is not None and (
            self.homography_samples.ndim != 3 or self.homography_samples.shape[1:] != (3, 3)
        ):
            raise MeasurementInputError("homography_samples must be (K, 3, 3)")
        if self.homography is not None:
            h = np.asarray(self.homography)
            if h.shape != (3, 3) or not np.all(np.isfinite(h)) or abs(np.linalg.det(h)) < 1e-18:
                raise MeasurementInputError("homography must be a finite invertible 3x3 matrix")

    @classmethod
    def from_mm_per_px(cls, mm_per_px: float, *, relative_std: float = 0.01) -> Scale:
        """A user-given scale; ``relative_std`` defaults to 1 % (a tape-measured reference)."""
        return cls(mm_per_px=mm_per_px, relative_std=relative_std, source="user")

    def to_mm(self, points_px: NDArray[np.float64]) -> NDArray[np.float64]:
        """Convert ``(N, 2)`` image points to plane mm (origin arbitrary for a plain scale)."""
        pts = np.asarray(points_px, np.float64).reshape(-1, 2)
        if self.homography is None:
            return pts * self.mm_per_px
        out = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), np.asarray(self.homography))
        return np.asarray(out.reshape(-1, 2), np.float64)

    def distance_mm(
        self, a_px: NDArray[np.float64], b_px: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Plane distance in mm between paired ``(N, 2)`` image points."""
        a = self.to_mm(a_px)
        b = self.to_mm(b_px)
        return np.asarray(np.hypot(*(a - b).T), np.float64)

    def sampled_lengths_mm(
        self, polylines_px: list[NDArray[np.float64]]
    ) -> NDArray[np.float64] | None:
        """Total length of ``polylines_px`` under each homography sample (``None`` without)."""
        if self.homography_samples is None:
            return None
        out = []
        for h in self.homography_samples:
            total = 0.0
            for pts in polylines_px:
                if len(pts) < 2:
                    continue
                mm = cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), h)
                total += float(np.hypot(*np.diff(mm.reshape(-1, 2), axis=0).T).sum())
            out.append(total)
        return np.asarray(out, np.float64)

    def sampled_distances_mm(
        self, a_px: NDArray[np.float64], b_px: NDArray[np.float64]
    ) -> NDArray[np.float64] | None:
        """``(K, N)`` distances between paired points under each homography sample."""
        if self.homography_samples is None:
            return None
        a = np.asarray(a_px, np.float64).reshape(-1, 1, 2)
        b = np.asarray(b_px, np.float64).reshape(-1, 1, 2)
        rows = []
        for h in self.homography_samples:
            d = cv2.perspectiveTransform(a, h) - cv2.perspectiveTransform(b, h)
            rows.append(np.hypot(*d.reshape(-1, 2).T))
        return np.asarray(rows, np.float64)

    def polyline_length_mm(self, points_px: NDArray[np.float64]) -> float:
        """Length in mm of an ``(N, 2)`` image polyline."""
        pts = self.to_mm(points_px)
        if len(pts) < 2:
            return 0.0
        return float(np.hypot(*np.diff(pts, axis=0).T).sum())

    def local_mm_per_px(self, point_px: tuple[float, float]) -> float:
        """Isotropic scale (sqrt of the Jacobian determinant) at an image point, mm per px."""
        if self.homography is None:
            return self.mm_per_px
        x, y = point_px
        h = np.asarray(self.homography)
        d = h[2, 0] * x + h[2, 1] * y + h[2, 2]
        u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / d
        v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / d
        jac = np.array(
            [
                [(h[0, 0] - u * h[2, 0]) / d, (h[0, 1] - u * h[2, 1]) / d],
                [(h[1, 0] - v * h[2, 0]) / d, (h[1, 1] - v * h[2, 1]) / d],
            ]
        )
        return float(np.sqrt(abs(np.linalg.det(jac))))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        return {
            "mm_per_px": self.mm_per_px,
            "relative_std": self.relative_std,
            "homography": None if self.homography is None else np.asarray(self.homography).tolist(),
            "source": self.source,
            "homography_samples": None
            if self.homography_samples is None
            else np.asarray(self.homography_samples).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scale:
        """Inverse of :meth:`to_dict`."""
        try:
            hom = data.get("homography")
            return cls(
                mm_per_px=float(data["mm_per_px"]),
                relative_std=float(data["relative_std"]),
                homography=None if hom is None else np.asarray(hom, np.float64),
                source=str(data.get("source", "user")),
                homography_samples=None
                if data.get("homography_samples") is None
                else np.asarray(data["homography_samples"], np.float64),
            )
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, MeasurementInputError):
                raise
            raise MeasurementInputError(f"not a scale record: {err}") from err
