"""Scale calibration from a ChArUco board lying on the surface: dozens of corners give a
homography that stays accurate far from the board (a single marker's four corners extrapolate
poorly under perspective)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.measure._image import as_grey_u8
from infrasight.measure.errors import MarkerNotFoundError
from infrasight.measure.intrinsics import BoardSpec
from infrasight.measure.scale import Scale

__all__ = ["BoardScaleCalibration", "calibrate_scale_from_board"]

_MIN_CORNERS = 8
_MC_DRAWS = 200
_KEPT_SAMPLES = 64


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BoardScaleCalibration:
    """Scale calibration of one capture from a ChArUco board.

    Attributes
    ----------
    scale : Scale
        Homography image px -> board plane mm (origin at the board's top-left chessboard
        corner), with Monte Carlo samples for the uncertainty.
    board : BoardSpec
        The board.
    n_corners : int
        ChArUco corners used.
    residual_px : float
        RMS of the homography fit in the image, px.
    """

    scale: Scale
    board: BoardSpec
    n_corners: int
    residual_px: float

    def __post_init__(self) -> None:
        if self.n_corners < 4:
            raise ValueError("a homography needs at least 4 corners")

    @property
    def mm_per_px(self) -> float:
        """Isotropic scale at the board centre, mm per px."""
        return self.scale.mm_per_px

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        return {
            "mm_per_px": self.mm_per_px,
            "relative_std": self.scale.relative_std,
            "homography": np.asarray(self.scale.homography).tolist(),
            "board": self.board.to_dict(),
            "n_corners": self.n_corners,
            "residual_px": self.residual_px,
        }


def calibrate_scale_from_board(
    image: NDArray[np.generic], *, board: BoardSpec, seed: int = 0
) -> BoardScaleCalibration:
    """Homography from the image to a ChArUco board's plane in mm, with uncertainty.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, 3)`` RGB capture with the board flat on the measured surface.
    board : BoardSpec
        The printed board.
    seed : int
        Seed of the Monte Carlo uncertainty propagation.

    Returns
    -------
    BoardScaleCalibration

    Raises
    ------
    MarkerNotFoundError
        Fewer than 8 board corners were found.
    """
    grey = as_grey_u8(image)
    cv_board = board.to_opencv()
    corners, ids, _, _ = cv2.aruco.CharucoDetector(cv_board).detectBoard(grey)
    if ids is None or len(ids) < _MIN_CORNERS:
        found = 0 if ids is None else len(ids)
        raise MarkerNotFoundError(
            f"only {found} corners of the {board.squares_x}x{board.squares_y} "
            f"{board.dictionary} ChArUco board found (need {_MIN_CORNERS}): check the board spec"
        )
    obj_all = cv_board.getChessboardCorners()
    idx = np.asarray(ids, int).ravel()
    img_pts = np.asarray(corners, np.float64).reshape(-1, 2)
    obj = np.asarray(obj_all, np.float64)[idx, :2]
    H_raw, _ = cv2.findHomography(img_pts, obj, 0)
    H: NDArray[np.float64] = np.array(H_raw, dtype=np.float64)
    back = cv2.perspectiveTransform(obj.reshape(-1, 1, 2), np.linalg.inv(H)).reshape(-1, 2)
    n = len(img_pts)
    rms = float(np.sqrt(np.mean(np.sum((back - img_pts) ** 2, axis=1))))
    sigma = max(rms * np.sqrt(n / max(n - 4, 1)) / np.sqrt(2.0), 0.03)
    centre = img_pts.mean(axis=0)
    scale_c = _local_scale(H, centre)
    rng = np.random.default_rng(seed)
    span = obj.max(axis=0) - obj.min(axis=0)
    test_a = obj.min(axis=0)
    test_b = obj.max(axis=0)
    ia = cv2.perspectiveTransform(test_a.reshape(1, 1, 2), np.linalg.inv(H)).reshape(2)
    ib = cv2.perspectiveTransform(test_b.reshape(1, 1, 2), np.linalg.inv(H)).reshape(2)
    true_len = float(np.hypot(*span))
    rel = []
    samples: list[NDArray[np.float64]] = []
    for _ in range(_MC_DRAWS):
        noisy = img_pts + sigma * rng.standard_normal(img_pts.shape)
        Hs_raw, _ = cv2.findHomography(noisy, obj, 0)
        Hs = np.asarray(Hs_raw, np.float64)
        if len(samples) < _KEPT_SAMPLES:
            samples.append(Hs)
        a = cv2.perspectiveTransform(ia.reshape(1, 1, 2), Hs).reshape(2)
        b = cv2.perspectiveTransform(ib.reshape(1, 1, 2), Hs).reshape(2)
        rel.append(float(np.hypot(*(a - b))) / true_len - 1.0)
    scale = Scale(
        mm_per_px=scale_c,
        relative_std=float(np.std(rel)),
        homography=H,
        source="charuco",
        homography_samples=np.asarray(samples, np.float64),
    )
    return BoardScaleCalibration(scale=scale, board=board, n_corners=n, residual_px=rms)


def _local_scale(h: NDArray[np.float64], point: NDArray[np.float64]) -> float:
    x, y = float(point[0]), float(point[1])
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
