"""Render ArUco markers and ChArUco boards with exact geometry (supersampled, anti-aliased).

Used to test and benchmark scale calibration (a marker on a tilted surface) and camera
calibration (ChArUco views through a pinhole camera with radial distortion).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.synthetic.texture import concrete_texture

__all__ = [
    "CharucoViews",
    "MarkerScene",
    "paste_marker",
    "render_charuco_views",
    "render_marker_scene",
]

_WHITE = 225.0
_BLACK = 28.0


def _marker_cells(marker_id: int, dictionary: int) -> NDArray[np.float32]:
    """Marker bitmap, one value per cell (including the black border), 0 = black, 1 = white."""
    d = cv2.aruco.getPredefinedDictionary(dictionary)
    n = int(d.markerSize) + 2
    if not 0 <= marker_id < len(d.bytesList):
        raise ValueError(f"marker id {marker_id} is not in the dictionary")
    img = cv2.aruco.generateImageMarker(d, marker_id, n)
    return (img > 127).astype(np.float32)


def _lookup_marker(
    u: NDArray[np.float32], v: NDArray[np.float32], cells: NDArray[np.float32], pad: float
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Marker reflectance at marker coordinates ``u, v`` (0-1 over the marker), quiet zone white."""
    n = cells.shape[0]
    inside_zone = (u >= -pad) & (u < 1 + pad) & (v >= -pad) & (v < 1 + pad)
    inside = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
    ci = np.clip((v * n).astype(np.int32), 0, n - 1)
    cj = np.clip((u * n).astype(np.int32), 0, n - 1)
    val = np.where(inside, cells[ci, cj], 1.0).astype(np.float32)
    return val, inside_zone


def paste_marker(
    surface: NDArray[np.float32],
    *,
    top_left: tuple[float, float],
    side_px: float,
    marker_id: int = 0,
    dictionary: int = cv2.aruco.DICT_4X4_50,
    supersample: int = 8,
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Draw an axis-aligned ArUco marker (with a white quiet zone) onto a grey surface.

    Parameters
    ----------
    surface : numpy.ndarray
        ``(H, W)`` float32 grey levels; not modified.
    top_left : tuple of float
        ``(x, y)`` of the marker's outer top-left corner, px (sub-pixel allowed).
    side_px : float
        Marker side length, px.
    marker_id : int
        Marker id in ``dictionary``.
    dictionary : int
        A ``cv2.aruco.DICT_*`` constant.
    supersample : int
        Sub-samples per pixel and axis used for anti-aliasing.

    Returns
    -------
    tuple
        The new surface and the ``(4, 2)`` true corners (clockwise from top-left), px.
    """
    cells = _marker_cells(marker_id, dictionary)
    out = surface.copy()
    x0, y0 = top_left
    pad = 0.25
    gx0 = max(int(np.floor(x0 - pad * side_px)) - 1, 0)
    gy0 = max(int(np.floor(y0 - pad * side_px)) - 1, 0)
    gx1 = min(int(np.ceil(x0 + (1 + pad) * side_px)) + 2, surface.shape[1])
    gy1 = min(int(np.ceil(y0 + (1 + pad) * side_px)) + 2, surface.shape[0])
    s = supersample
    # pixel (i, j) covers [j - 0.5, j + 0.5] x [i - 0.5, i + 0.5]; sub-sample centres inside it
    offs = (np.arange(s, dtype=np.float32) + 0.5) / s - 0.5
    xs = (np.arange(gx0, gx1, dtype=np.float32)[:, None] + offs[None, :]).ravel()
    ys = (np.arange(gy0, gy1, dtype=np.float32)[:, None] + offs[None, :]).ravel()
    uu, vv = np.meshgrid((xs - x0) / side_px, (ys - y0) / side_px)
    val, zone = _lookup_marker(uu.astype(np.float32), vv.astype(np.float32), cells, pad)
    patch_hi = np.where(zone, _BLACK + (_WHITE - _BLACK) * val, np.nan).astype(np.float32)
    hh, ww = gy1 - gy0, gx1 - gx0
    blocks = patch_hi.reshape(hh, s, ww, s)
    frac_zone = np.isfinite(blocks).mean(axis=(1, 3))
    finite = np.isfinite(blocks)
    mean_val = np.where(finite, blocks, 0.0).sum(axis=(1, 3)) / np.maximum(
        finite.sum(axis=(1, 3)), 1
    )
    region = out[gy0:gy1, gx0:gx1]
    out[gy0:gy1, gx0:gx1] = (frac_zone * mean_val + (1 - frac_zone) * region).astype(np.float32)
    corners = np.array(
        [[x0, y0], [x0 + side_px, y0], [x0 + side_px, y0 + side_px], [x0, y0 + side_px]],
        np.float64,
    )
    return out, corners


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MarkerScene:
    """A marker on a (possibly tilted) concrete plane seen by a pinhole camera.

    Attributes
    ----------
    image : numpy.ndarray
        ``(H, W)`` uint8 grey image.
    plane_to_image : numpy.ndarray
        ``(3, 3)`` true homography from plane mm (marker centre = origin) to image px.
    corners_px : numpy.ndarray
        ``(4, 2)`` true image positions of the marker corners (clockwise from top-left).
    marker_mm : float
        Marker side length, mm.
    tilt_deg : float
        Angle between the optical axis and the plane normal, degrees.
    """

    image: NDArray[np.uint8]
    plane_to_image: NDArray[np.float64]
    corners_px: NDArray[np.float64]
    marker_mm: float
    tilt_deg: float
    marker_id: int

    def __post_init__(self) -> None:
        if self.image.ndim != 2 or self.image.dtype != np.uint8:
            raise ValueError("image must be a 2-D uint8 array")
        if self.plane_to_image.shape != (3, 3) or self.corners_px.shape != (4, 2):
            raise ValueError("plane_to_image must be 3x3 and corners_px 4x2")

    def project(self, points_mm: NDArray[np.float64]) -> NDArray[np.float64]:
        """Image px of plane points given in mm, ``(N, 2)`` -> ``(N, 2)``."""
        pts = np.asarray(points_mm, np.float64).reshape(-1, 1, 2)
        return np.asarray(cv2.perspectiveTransform(pts, self.plane_to_image).reshape(-1, 2))


def _look_at_homography(
    focal_px: float, size: tuple[int, int], tilt_deg: float, distance_mm: float, yaw_deg: float
) -> NDArray[np.float64]:
    """Homography plane mm -> px for a camera at ``distance_mm`` tilted about a direction."""
    w, h = size
    K = np.array([[focal_px, 0, (w - 1) / 2], [0, focal_px, (h - 1) / 2], [0, 0, 1]])
    t = np.deg2rad(tilt_deg)
    axis = np.array([np.cos(np.deg2rad(yaw_deg)), np.sin(np.deg2rad(yaw_deg)), 0.0])
    R, _ = cv2.Rodrigues(axis * t)
    # plane point X (in plane frame) -> camera frame: R @ X + T, with the plane origin on the axis
    T = np.array([0.0, 0.0, distance_mm])
    H = K @ np.column_stack([R[:, 0], R[:, 1], T])
    return np.asarray(H / H[2, 2], np.float64)


def render_marker_scene(
    *,
    tilt_deg: float,
    marker_mm: float = 100.0,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    marker_id: int = 7,
    dictionary: int = cv2.aruco.DICT_4X4_50,
    marker_px: float = 160.0,
    yaw_deg: float = 0.0,
    blur_sigma_px: float = 0.6,
    noise_sigma: float = 1.5,
    supersample: int = 4,
    hidden_fraction: float = 0.0,
) -> MarkerScene:
    """Render a marker on a concrete plane tilted by ``tilt_deg`` about an in-plane axis.

    Parameters
    ----------
    tilt_deg : float
        Angle between optical axis and plane normal, degrees (0-75).
    marker_mm : float
        Marker side, mm.
    width, height : int
        Image size, px.
    seed : int
        Seed of texture and noise.
    marker_id, dictionary : int
        ArUco id and ``cv2.aruco.DICT_*`` dictionary.
    marker_px : float
        Approximate marker side in px when seen face-on.
    yaw_deg : float
        Direction of the tilt axis in the plane, degrees.
    blur_sigma_px, noise_sigma : float
        Optical blur (px) and noise (grey levels).
    supersample : int
        Anti-aliasing sub-samples per pixel and axis.
    hidden_fraction : float
        Fraction (0-1) of the marker's width covered by an occluder from the right.

    Returns
    -------
    MarkerScene
    """
    if not 0 <= tilt_deg <= 75:
        raise ValueError(f"tilt_deg must be within 0-75, got {tilt_deg}")
    rng = np.random.default_rng(seed)
    focal = 1.2 * width
    distance = focal * marker_mm / marker_px
    H = _look_at_homography(focal, (width, height), tilt_deg, distance, yaw_deg)
    Hinv = np.linalg.inv(H)
    s = supersample
    offs = (np.arange(s, dtype=np.float64) + 0.5) / s - 0.5
    xs = (np.arange(width, dtype=np.float64)[:, None] + offs[None, :]).ravel()
    ys = (np.arange(height, dtype=np.float64)[:, None] + offs[None, :]).ravel()
    gx, gy = np.meshgrid(xs, ys)
    den = Hinv[2, 0] * gx + Hinv[2, 1] * gy + Hinv[2, 2]
    px_mm = ((Hinv[0, 0] * gx + Hinv[0, 1] * gy + Hinv[0, 2]) / den).astype(np.float32)
    py_mm = ((Hinv[1, 0] * gx + Hinv[1, 1] * gy + Hinv[1, 2]) / den).astype(np.float32)
    del gx, gy, den
    # background texture on the plane at 0.25 mm per texel, 4x the marker span
    span = 4.0 * marker_mm
    tex_res = 0.25
    n_tex = int(2 * span / tex_res)
    tex = concrete_texture(n_tex, n_tex, rng, mean_grey=140.0)
    map_x = (px_mm + span) / tex_res
    map_y = (py_mm + span) / tex_res
    bg = cv2.remap(tex, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    cells = _marker_cells(marker_id, dictionary)
    u = px_mm / marker_mm + 0.5
    v = py_mm / marker_mm + 0.5
    val, zone = _lookup_marker(u, v, cells, 0.25)
    hi = np.where(zone, _BLACK + (_WHITE - _BLACK) * val, bg)
    if hidden_fraction > 0:
        hi = np.where((u > 1 - hidden_fraction) & (v > -0.3) & (v < 1.3), 70.0, hi)
    img = cv2.resize(hi.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    if blur_sigma_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_sigma_px)
    img = np.asarray(img, np.float32)
    img = img + noise_sigma * rng.standard_normal(img.shape).astype(np.float32)
    half = marker_mm / 2
    corners_mm = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    corners_px = cv2.perspectiveTransform(corners_mm.reshape(-1, 1, 2), H).reshape(-1, 2)
    return MarkerScene(
        image=np.clip(np.round(img), 0, 255).astype(np.uint8),
        plane_to_image=H,
        corners_px=np.asarray(corners_px, np.float64),
        marker_mm=marker_mm,
        tilt_deg=tilt_deg,
        marker_id=marker_id,
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CharucoViews:
    """ChArUco board views with the camera that took them.

    Attributes
    ----------
    images : tuple of numpy.ndarray
        ``(H, W)`` uint8 grey views.
    camera_matrix : numpy.ndarray
        ``(3, 3)`` true intrinsics, px.
    dist_coeffs : numpy.ndarray
        ``(5,)`` true distortion ``k1, k2, p1, p2, k3``.
    """

    images: tuple[NDArray[np.uint8], ...]
    camera_matrix: NDArray[np.float64]
    dist_coeffs: NDArray[np.float64]

    def __post_init__(self) -> None:
        if not self.images:
            raise ValueError("at least one view is needed")


def render_charuco_views(
    board: cv2.aruco.CharucoBoard,
    *,
    n_views: int = 8,
    width: int = 800,
    height: int = 600,
    focal_px: float = 900.0,
    k1: float = -0.12,
    seed: int = 0,
    noise_sigma: float = 1.0,
) -> CharucoViews:
    """Render views of a ChArUco board through a pinhole camera with radial distortion.

    Parameters
    ----------
    board : cv2.aruco.CharucoBoard
        The board (square length in any unit; the views place it to fill about half the image).
    n_views : int
        Number of views (random tilts of 10-40 degrees about varied axes).
    width, height : int
        Image size, px.
    focal_px : float
        True focal length, px.
    k1 : float
        True first radial distortion coefficient.
    seed : int
        Seed of poses and noise.
    noise_sigma : float
        Gaussian noise, grey levels.

    Returns
    -------
    CharucoViews
    """
    rng = np.random.default_rng(seed)
    cols, rows = board.getChessboardSize()
    sq = float(board.getSquareLength())
    ppu = 40.0 / sq  # board bitmap: 40 px per square
    bw, bh = round(cols * sq * ppu), round(rows * sq * ppu)
    bitmap = board.generateImage((bw, bh), marginSize=0, borderBits=1).astype(np.float32)
    bitmap = _BLACK + (_WHITE - _BLACK) * bitmap / 255.0
    K = np.array([[focal_px, 0, width / 2 - 0.5], [0, focal_px, height / 2 - 0.5], [0, 0, 1]])
    dist = np.array([k1, 0.0, 0.0, 0.0, 0.0])
    ss = 2
    offs = (np.arange(ss) + 0.5) / ss - 0.5
    xs = (np.arange(width)[:, None] + offs[None, :]).ravel()
    ys = (np.arange(height)[:, None] + offs[None, :]).ravel()
    gx, gy = np.meshgrid(xs, ys)
    pix = np.stack([gx.ravel(), gy.ravel()], axis=1).reshape(-1, 1, 2).astype(np.float64)
    ideal = cv2.undistortPoints(pix, K, dist).reshape(-1, 2)
    board_w, board_h = cols * sq, rows * sq
    images = []
    for _ in range(n_views):
        tilt = np.deg2rad(rng.uniform(10, 40))
        ang = rng.uniform(0, 2 * np.pi)
        rvec = np.array([np.cos(ang), np.sin(ang), 0.0]) * tilt
        R, _ = cv2.Rodrigues(rvec)
        dist_units = focal_px * board_w / (0.55 * width)
        shift = rng.uniform(-0.12, 0.12, 2) * dist_units * np.array([width, height]) / focal_px
        # board centre on the optical axis (plus a shift); board frame origin at its top-left
        T = np.array([shift[0], shift[1], dist_units]) - R @ np.array([board_w / 2, board_h / 2, 0])
        Hn = np.column_stack([R[:, 0], R[:, 1], T])  # board units -> normalised camera coords
        Hinv = np.linalg.inv(Hn)
        hom = np.column_stack([ideal, np.ones(len(ideal))]) @ Hinv.T
        bx = (hom[:, 0] / hom[:, 2]) * ppu
        by = (hom[:, 1] / hom[:, 2]) * ppu
        map_x = (bx - 0.5).reshape(height * ss, width * ss).astype(np.float32)
        map_y = (by - 0.5).reshape(height * ss, width * ss).astype(np.float32)
        hi = cv2.remap(
            bitmap,
            map_x,
            map_y,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=120.0,
        )
        img = np.asarray(cv2.resize(hi, (width, height), interpolation=cv2.INTER_AREA), np.float32)
        img = img + noise_sigma * rng.standard_normal(img.shape).astype(np.float32)
        images.append(np.clip(np.round(img), 0, 255).astype(np.uint8))
    return CharucoViews(images=tuple(images), camera_matrix=K, dist_coeffs=dist)
