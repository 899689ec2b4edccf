"""Crack instances from a binary mask: connected components, bounding boxes, skeleton polylines."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from infrasight.vision.components import connected_regions, region_mask
from infrasight.vision.morphology import thin

__all__ = ["CrackInstance", "extract_instances", "longest_skeleton_path"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CrackInstance:
    """One connected crack region (8-connectivity) of a segmentation mask.

    Attributes
    ----------
    pixel_count : int
        Number of crack pixels in the region.
    bbox : tuple[int, int, int, int]
        ``(x, y, width, height)`` in image pixels.
    polyline : ndarray, shape (N, 2), float64
        Longest path through the region's skeleton, ``(x, y)`` image pixel coordinates, ordered
        from one end to the other (a single point for a blob without a skeleton path).
    skeleton_length_px : float
        Length of the whole skeleton in px (all branches; diagonal steps count sqrt(2)).
    mean_confidence : float
        Mean model probability over the region's pixels, in [0, 1].
    mask : ndarray of bool, shape (height, width)
        The region's pixels inside ``bbox``.
    """

    pixel_count: int
    bbox: tuple[int, int, int, int]
    polyline: NDArray[np.float64] = field(repr=False)
    skeleton_length_px: float
    mean_confidence: float
    mask: NDArray[np.bool_] = field(repr=False)

    def __post_init__(self) -> None:
        if self.pixel_count <= 0:
            raise ValueError(f"pixel_count must be positive, got {self.pixel_count}")
        x, y, w, h = self.bbox
        if min(x, y) < 0 or min(w, h) <= 0:
            raise ValueError(f"invalid bbox {self.bbox}")
        if self.polyline.ndim != 2 or self.polyline.shape[1] != 2 or len(self.polyline) == 0:
            raise ValueError(
                f"polyline must have shape (N, 2) with N >= 1, got {self.polyline.shape}"
            )
        if not 0.0 <= self.mean_confidence <= 1.0:
            raise ValueError(f"mean_confidence must be in [0, 1], got {self.mean_confidence}")
        if self.mask.shape != (h, w) or self.mask.dtype != np.bool_:
            raise ValueError(f"mask must be bool of shape {(h, w)}, got {self.mask.shape}")
        if self.skeleton_length_px < 0:
            raise ValueError("skeleton_length_px must be >= 0")

    @property
    def length_px(self) -> float:
        """Length of :attr:`polyline` in px."""
        if len(self.polyline) < 2:
            return 0.0
        return float(np.hypot(*np.diff(self.polyline, axis=0).T).sum())


_OFFSETS = ((0, 1, 1.0), (1, -1, 2**0.5), (1, 0, 1.0), (1, 1, 2**0.5))


def _skeleton_graph(
    skel: NDArray[np.bool_],
) -> tuple[NDArray[np.intp], NDArray[np.intp], coo_matrix]:
    ys, xs = np.nonzero(skel)
    n = len(ys)
    index = np.full(skel.shape, -1, np.intp)
    index[ys, xs] = np.arange(n)
    rows, cols, wts = [], [], []
    h, w = skel.shape
    for dy, dx, wt in _OFFSETS:
        ny, nx = ys + dy, xs + dx
        ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        j = np.full(n, -1, np.intp)
        j[ok] = index[ny[ok], nx[ok]]
        has = j >= 0
        rows.append(np.arange(n)[has])
        cols.append(j[has])
        wts.append(np.full(int(has.sum()), wt))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(wts)
    graph = coo_matrix((np.r_[v, v], (np.r_[r, c], np.r_[c, r])), shape=(n, n))
    return ys, xs, graph


def longest_skeleton_path(skel: NDArray[np.bool_]) -> tuple[NDArray[np.float64], float]:
    """Longest geodesic path of a connected skeleton, and the whole skeleton's length in px.

    Double sweep: the farthest pixel ``a`` from any start, then the farthest from ``a``. Returns
    ordered ``(x, y)`` points of the path ``a -> b`` and the total length of all branches.
    """
    ys, xs, graph = _skeleton_graph(skel)
    n = len(ys)
    if n == 0:
        return np.zeros((0, 2)), 0.0
    total = float(graph.sum()) / 2.0
    if n == 1:
        return np.array([[xs[0], ys[0]]], np.float64), 0.0
    csr = graph.tocsr()
    d0 = dijkstra(csr, indices=0)
    a = int(np.argmax(np.where(np.isfinite(d0), d0, -1)))
    da, pred = dijkstra(csr, indices=a, return_predecessors=True)
    b = int(np.argmax(np.where(np.isfinite(da), da, -1)))
    path = [b]
    while path[-1] != a and pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    idx = np.array(path[::-1])
    return np.stack([xs[idx], ys[idx]], axis=1).astype(np.float64), total


def extract_instances(
    mask: NDArray[np.bool_],
    probability: NDArray[np.float32],
    *,
    min_pixels: int = 1,
) -> tuple[CrackInstance, ...]:
    """Connected components (8-connectivity) of ``mask`` with at least ``min_pixels`` pixels.

    Labelled in bands of rows (:mod:`infrasight.vision.components`), so a 100-megapixel mask
    needs no frame-sized label image.

    Parameters
    ----------
    mask : (H, W) bool
    probability : (H, W) float32 (or float16), the model probability for ``mean_confidence``
    min_pixels : smallest component kept

    Returns
    -------
    tuple of CrackInstance, largest first.
    """
    if mask.shape != probability.shape:
        raise ValueError(f"mask {mask.shape} and probability {probability.shape} differ in shape")
    binary = (
        np.ascontiguousarray(mask).view(np.uint8)  # no copy of a bool mask
        if mask.dtype == np.bool_
        else (mask != 0).view(np.uint8)
    )
    out = []
    for piece in connected_regions(binary):  # bounded memory: no frame-sized label image
        area = piece.pixel_count
        if area < min_pixels:
            continue
        x, y, w, h = piece.bbox
        region = region_mask(binary, piece)
        skel = thin(np.pad(region, 1))[1:-1, 1:-1] & region
        if not skel.any():
            cy, cx = np.argwhere(region).mean(axis=0)
            skel_pts, total = np.array([[cx, cy]], np.float64), 0.0
        else:
            skel_pts, total = longest_skeleton_path(skel)
        poly = skel_pts + np.array([x, y], np.float64)
        conf = float(np.clip(probability[y : y + h, x : x + w][region].mean(), 0.0, 1.0))
        out.append(
            CrackInstance(
                pixel_count=area,
                bbox=(x, y, w, h),
                polyline=poly,
                skeleton_length_px=total,
                mean_confidence=conf,
                mask=region,
            )
        )
    out.sort(key=lambda c: -c.pixel_count)
    return tuple(out)
