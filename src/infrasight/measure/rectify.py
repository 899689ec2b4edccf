"""Rectify a capture to the metric frame of its scale homography (a fronto-parallel view)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.measure.errors import MeasurementInputError
from infrasight.measure.scale import Scale

__all__ = ["RectifiedImage", "rectify"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RectifiedImage:
    """A capture warped onto the measured plane.

    Attributes
    ----------
    image : numpy.ndarray
        The rectified image (same channels and dtype as the input).
    mm_per_px : float
        Uniform scale of the rectified image, mm per px.
    image_to_rectified : numpy.ndarray
        ``(3, 3)`` homography from input px to rectified px.
    origin_mm : tuple of float
        Plane coordinates (mm) of the rectified image's pixel (0, 0).
    """

    image: NDArray[np.generic]
    mm_per_px: float
    image_to_rectified: NDArray[np.float64]
    origin_mm: tuple[float, float]

    def __post_init__(self) -> None:
        if self.mm_per_px <= 0:
            raise ValueError("mm_per_px must be positive")
        if self.image_to_rectified.shape != (3, 3):
            raise ValueError("image_to_rectified must be 3x3")

    def scale(self) -> Scale:
        """A plain :class:`Scale` for measuring on the rectified image."""
        return Scale(mm_per_px=self.mm_per_px, relative_std=0.0, source="rectified")


def rectify(
    image: NDArray[np.generic],
    scale: Scale,
    *,
    mm_per_px: float | None = None,
    region_mm: tuple[float, float, float, float] | None = None,
    max_side_px: int = 6000,
) -> RectifiedImage:
    """Warp ``image`` to a fronto-parallel view of the plane of ``scale``'s homography.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` capture.
    scale : Scale
        A scale with a homography (image px -> plane mm).
    mm_per_px : float, optional
        Output resolution; default: the scale's nominal mm/px.
    region_mm : tuple of float, optional
        ``(x_min, y_min, x_max, y_max)`` plane region to keep, mm; default: the whole image.
    max_side_px : int
        Refuse outputs larger than this (a near-horizon view explodes).

    Returns
    -------
    RectifiedImage
    """
    if scale.homography is None:
        raise MeasurementInputError(
            "the scale has no homography (a plain mm/px needs no rectification)", field="scale"
        )
    res = scale.mm_per_px if mm_per_px is None else mm_per_px
    if not (np.isfinite(res) and res > 0):
        raise MeasurementInputError(f"mm_per_px must be positive, got {res}", field="mm_per_px")
    H = np.asarray(scale.homography, np.float64)
    h, w = image.shape[:2]
    if region_mm is None:
        corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
        mm = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), H).reshape(-1, 2)
        x0, y0 = mm.min(axis=0)
        x1, y1 = mm.max(axis=0)
    else:
        x0, y0, x1, y1 = region_mm
        if x1 <= x0 or y1 <= y0:
            raise MeasurementInputError("region_mm must have x_max > x_min and y_max > y_min")
    out_w = int(np.ceil((x1 - x0) / res)) + 1
    out_h = int(np.ceil((y1 - y0) / res)) + 1
    if max(out_w, out_h) > max_side_px:
        raise MeasurementInputError(
            f"rectified image would be {out_w}x{out_h} px; give region_mm or a coarser mm_per_px",
            field="region_mm",
        )
    S = np.array([[1 / res, 0, -x0 / res], [0, 1 / res, -y0 / res], [0, 0, 1]])
    M = S @ H
    warped = cv2.warpPerspective(np.asarray(image), M, (out_w, out_h), flags=cv2.INTER_LINEAR)
    return RectifiedImage(
        image=np.asarray(warped),
        mm_per_px=float(res),
        image_to_rectified=M,
        origin_mm=(float(x0), float(y0)),
    )
