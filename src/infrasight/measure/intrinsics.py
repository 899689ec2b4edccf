"""Camera intrinsics and lens distortion from ChArUco board views (stored per device as JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.measure._image import as_grey_u8
from infrasight.measure.errors import CalibrationError, MeasurementInputError
from infrasight.measure.markers import dictionary_from_name

__all__ = ["BoardSpec", "CameraCalibration", "calibrate_camera", "undistort"]

_MIN_CORNERS_PER_VIEW = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardSpec:
    """A ChArUco board.

    Attributes
    ----------
    squares_x, squares_y : int
        Chessboard squares along x and y.
    square_mm, marker_mm : float
        Square and marker side, mm.
    dictionary : str
        OpenCV dictionary name.
    legacy_pattern : bool
        Boards printed with OpenCV < 4.6 and an even row count use the legacy layout.
    """

    squares_x: int
    squares_y: int
    square_mm: float
    marker_mm: float
    dictionary: str = "DICT_5X5_100"
    legacy_pattern: bool = False

    def __post_init__(self) -> None:
        if self.squares_x < 3 or self.squares_y < 3:
            raise MeasurementInputError("a ChArUco board needs at least 3x3 squares", field="board")
        if not 0 < self.marker_mm < self.square_mm:
            raise MeasurementInputError(
                f"need 0 < marker_mm < square_mm, got {self.marker_mm} and {self.square_mm}",
                field="board",
            )
        dictionary_from_name(self.dictionary)

    @classmethod
    def parse(cls, text: str) -> BoardSpec:
        """Parse ``"7x5:30:22[:DICT_5X5_100]"`` (squares, square mm, marker mm, dictionary)."""
        parts = text.split(":")
        try:
            sx, sy = (int(v) for v in parts[0].lower().split("x"))
            square, marker = float(parts[1]), float(parts[2])
        except (ValueError, IndexError) as err:
            raise MeasurementInputError(
                f"board must look like 7x5:30:22[:DICT_5X5_100], got {text!r}", field="board"
            ) from err
        dictionary = parts[3] if len(parts) > 3 else "DICT_5X5_100"
        return cls(
            squares_x=sx, squares_y=sy, square_mm=square, marker_mm=marker, dictionary=dictionary
        )

    def to_opencv(self) -> cv2.aruco.CharucoBoard:
        """The equivalent ``cv2.aruco.CharucoBoard`` (units: mm)."""
        board = cv2.aruco.CharucoBoard(
            (self.squares_x, self.squares_y),
            self.square_mm,
            self.marker_mm,
            dictionary_from_name(self.dictionary),
        )
        board.setLegacyPattern(self.legacy_pattern)
        return board

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        return {
            "squares_x": self.squares_x,
            "squares_y": self.squares_y,
            "square_mm": self.square_mm,
            "marker_mm": self.marker_mm,
            "dictionary": self.dictionary,
            "legacy_pattern": self.legacy_pattern,
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CameraCalibration:
    """Intrinsics and distortion of one camera (pinhole + OpenCV's 5-term distortion).

    Attributes
    ----------
    camera_matrix : numpy.ndarray
        ``(3, 3)`` ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``, px.
    dist_coeffs : numpy.ndarray
        ``(5,)`` ``k1, k2, p1, p2, k3``.
    image_size : tuple of int
        ``(width, height)`` the calibration is valid for, px.
    rms_px : float
        RMS reprojection error, px.
    n_views : int
        Views used.
    intrinsics_std : numpy.ndarray
        ``(4,)`` 1-sigma of ``fx, fy, cx, cy``, px.
    board : BoardSpec or None
        The board used.
    """

    camera_matrix: NDArray[np.float64]
    dist_coeffs: NDArray[np.float64]
    image_size: tuple[int, int]
    rms_px: float
    n_views: int
    intrinsics_std: NDArray[np.float64]
    board: BoardSpec | None = None

    def __post_init__(self) -> None:
        if self.camera_matrix.shape != (3, 3):
            raise MeasurementInputError("camera_matrix must be 3x3", field="camera_matrix")
        if self.dist_coeffs.shape != (5,):
            raise MeasurementInputError("dist_coeffs must have 5 terms", field="dist_coeffs")
        if min(self.image_size) <= 0:
            raise MeasurementInputError("image_size must be positive", field="image_size")

    @property
    def fx(self) -> float:
        """Focal length along x, px."""
        return float(self.camera_matrix[0, 0])

    @property
    def fy(self) -> float:
        """Focal length along y, px."""
        return float(self.camera_matrix[1, 1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation (store it per device)."""
        return {
            "camera_matrix": self.camera_matrix.tolist(),
            "dist_coeffs": self.dist_coeffs.tolist(),
            "image_size": list(self.image_size),
            "rms_px": self.rms_px,
            "n_views": self.n_views,
            "intrinsics_std": self.intrinsics_std.tolist(),
            "board": None if self.board is None else self.board.to_dict(),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CameraCalibration:
        """Inverse of :meth:`to_dict`."""
        try:
            board = data.get("board")
            w, h = (int(v) for v in data["image_size"])
            return cls(
                camera_matrix=np.asarray(data["camera_matrix"], np.float64),
                dist_coeffs=np.asarray(data["dist_coeffs"], np.float64).ravel(),
                image_size=(w, h),
                rms_px=float(data["rms_px"]),
                n_views=int(data["n_views"]),
                intrinsics_std=np.asarray(data.get("intrinsics_std", [0, 0, 0, 0]), np.float64),
                board=None if board is None else BoardSpec(**board),
            )
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, MeasurementInputError):
                raise
            raise MeasurementInputError(f"not a camera calibration record: {err}") from err

    @classmethod
    def from_json(cls, text: str) -> CameraCalibration:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise MeasurementInputError(f"camera calibration is not valid JSON: {err}") from err
        if not isinstance(data, dict):
            raise MeasurementInputError("camera calibration JSON must be an object")
        return cls.from_dict(data)


def undistort(image: NDArray[np.generic], camera: CameraCalibration) -> NDArray[np.generic]:
    """Remove lens distortion (same camera matrix), for measurement on straight-line geometry."""
    h, w = image.shape[:2]
    if (w, h) != camera.image_size:
        raise MeasurementInputError(
            f"image is {w}x{h} px but the calibration is for {camera.image_size[0]}x"
            f"{camera.image_size[1]}",
            field="image",
        )
    src: Any = image
    return np.asarray(cv2.undistort(src, camera.camera_matrix, camera.dist_coeffs))


def calibrate_camera(
    images: Sequence[NDArray[np.generic]],
    *,
    board: BoardSpec,
    min_views: int = 4,
) -> CameraCalibration:
    """Estimate intrinsics and distortion from ChArUco views.

    Parameters
    ----------
    images : sequence of numpy.ndarray
        Views of the board, all the same size, from varied angles.
    board : BoardSpec
        The printed board.
    min_views : int
        Minimum number of views with at least 6 ChArUco corners.

    Returns
    -------
    CameraCalibration

    Raises
    ------
    CalibrationError
        Too few usable views, or views of different sizes.
    """
    if len(images) == 0:
        raise CalibrationError("no images given", field="images")
    cv_board = board.to_opencv()
    detector = cv2.aruco.CharucoDetector(cv_board)
    obj_points: list[NDArray[np.float32]] = []
    img_points: list[NDArray[np.float32]] = []
    size: tuple[int, int] | None = None
    for k, image in enumerate(images):
        grey = as_grey_u8(image, name=f"images[{k}]")
        h, w = grey.shape
        if size is None:
            size = (w, h)
        elif size != (w, h):
            raise CalibrationError(
                f"image {k} is {w}x{h} px but the first is {size[0]}x{size[1]}", field="images"
            )
        ch_corners, ch_ids, _, _ = detector.detectBoard(grey)
        if ch_ids is None or len(ch_ids) < _MIN_CORNERS_PER_VIEW:
            continue
        match: Any = cv_board.matchImagePoints
        obj, img = match(ch_corners, ch_ids)
        if obj is None or len(obj) < _MIN_CORNERS_PER_VIEW:
            continue
        obj_points.append(np.asarray(obj, np.float32))
        img_points.append(np.asarray(img, np.float32))
    if len(obj_points) < min_views or size is None:
        raise CalibrationError(
            f"only {len(obj_points)} of {len(images)} images show at least "
            f"{_MIN_CORNERS_PER_VIEW} corners of the {board.squares_x}x{board.squares_y} "
            f"{board.dictionary} board; need {min_views} (check the board spec)",
            field="images",
        )
    calib: Any = cv2.calibrateCameraExtended
    rms, K, dist, _, _, std_intr, _, _ = calib(obj_points, img_points, size, None, None)
    return CameraCalibration(
        camera_matrix=np.asarray(K, np.float64),
        dist_coeffs=np.asarray(dist, np.float64).ravel()[:5],
        image_size=size,
        rms_px=float(rms),
        n_views=len(obj_points),
        intrinsics_std=np.asarray(std_intr, np.float64).ravel()[:4],
        board=board,
    )
