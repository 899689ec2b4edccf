"""Register two captures of the same surface: SIFT features, ratio test, RANSAC homography.

Used to carry a defect's geometry from an earlier capture into a later one (camera moved,
rotated or zoomed; lighting changed) before comparing the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from infrasight.measure._image import as_grey_float
from infrasight.measure.errors import MeasurementInputError

__all__ = ["Registration", "RegistrationError", "register_images"]


class RegistrationError(MeasurementInputError):
    """The two images could not be registered (too few consistent feature matches)."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Registration:
    """A homography from reference image px to moving image px.

    Attributes
    ----------
    homography : numpy.ndarray
        ``(3, 3)`` float64, normalised so that ``h[2, 2] == 1``.
    matches : int
        Feature matches that passed the ratio test.
    inliers : int
        Matches consistent with the homography (RANSAC).
    rmse_px : float
        Root-mean-square reprojection error of the inliers, px (moving image).
    """

    homography: NDArray[np.float64]
    matches: int
    inliers: int
    rmse_px: float

    def __post_init__(self) -> None:
        if self.homography.shape != (3, 3):
            raise ValueError(f"homography must be 3x3, got {self.homography.shape}")

    def map_points(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map ``(N, 2)`` reference ``(x, y)`` px into the moving image, px."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        if pts.size == 0:
            return pts
        ones = np.ones((len(pts), 1))
        out = np.hstack([pts, ones]) @ self.homography.T
        return np.asarray(out[:, :2] / out[:, 2:3], np.float64)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "homography": np.round(self.homography, 8).tolist(),
            "matches": self.matches,
            "inliers": self.inliers,
            "rmse_px": round(self.rmse_px, 3),
        }


def _grey_u8(image: NDArray[np.generic], max_side: int) -> tuple[NDArray[np.uint8], float]:
    import cv2

    grey = as_grey_float(image)
    lo, hi = np.percentile(grey, [0.5, 99.5])
    norm = np.clip((grey - lo) / max(float(hi - lo), 1e-6), 0, 1)
    u8 = np.asarray(np.round(norm * 255), np.uint8)
    factor = min(1.0, max_side / max(u8.shape))
    if factor < 1.0:
        size = (round(u8.shape[1] * factor), round(u8.shape[0] * factor))
        u8 = np.asarray(cv2.resize(u8, size, interpolation=cv2.INTER_AREA), np.uint8)
    return u8, factor


def register_images(
    reference: NDArray[np.generic],
    moving: NDArray[np.generic],
    *,
    max_side: int = 1024,
    ratio: float = 0.75,
    min_inliers: int = 15,
    ransac_px: float = 3.0,
) -> Registration:
    """Homography from ``reference`` px to ``moving`` px of two views of one surface.

    Both images are normalised (0.5-99.5 percentile stretch, so a change of exposure or gain does
    not matter), reduced to at most ``max_side`` px, described with SIFT, matched with Lowe's
    ratio test and fitted with a RANSAC homography.

    Parameters
    ----------
    reference, moving : numpy.ndarray
        ``(H, W)`` or ``(H, W, 3)`` images (any integer or float dtype); sizes may differ.
    max_side : int
        Longest side the features are computed on, px.
    ratio : float
        Lowe's ratio test threshold.
    min_inliers : int
        Fewest RANSAC inliers accepted.
    ransac_px : float
        RANSAC reprojection threshold at full resolution, px.

    Returns
    -------
    Registration

    Raises
    ------
    RegistrationError
        Too few matches or inliers (different surfaces, or too little texture).
    """
    import cv2

    ref, f_ref = _grey_u8(reference, max_side)
    mov, f_mov = _grey_u8(moving, max_side)
    sift = cv2.SIFT_create(nfeatures=4000)  # type: ignore[attr-defined]
    kp_r, des_r = sift.detectAndCompute(ref, None)
    kp_m, des_m = sift.detectAndCompute(mov, None)
    if des_r is None or des_m is None or len(kp_r) < 4 or len(kp_m) < 4:
        raise RegistrationError("too few image features to register the captures")
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_r, des_m, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    if len(good) < min_inliers:
        raise RegistrationError(
            f"only {len(good)} feature matches between the captures (need {min_inliers})"
        )
    src = np.array([kp_r[m.queryIdx].pt for m in good], np.float64) / f_ref
    dst = np.array([kp_m[m.trainIdx].pt for m in good], np.float64) / f_mov
    h, inlier_mask = cv2.findHomography(src, dst, cv2.RANSAC, ransac_px, maxIters=5000)
    if h is None or inlier_mask is None:
        raise RegistrationError("no homography is consistent with the feature matches")
    keep = inlier_mask.ravel().astype(bool)
    if int(keep.sum()) < min_inliers:
        raise RegistrationError(
            f"only {int(keep.sum())} consistent feature matches (need {min_inliers})"
        )
    hom = np.asarray(h / h[2, 2], np.float64)
    reg = Registration(homography=hom, matches=len(good), inliers=int(keep.sum()), rmse_px=0.0)
    err = reg.map_points(src[keep]) - dst[keep]
    rmse = float(np.sqrt(np.mean(np.sum(err**2, axis=1))))
    return Registration(homography=hom, matches=len(good), inliers=int(keep.sum()), rmse_px=rmse)
