"""Displacement tracking through image sequences: regions of interest or a dense grid, sub-pixel
IC-GN matching against the reference frame, camera-shake removal from fixed reference regions,
and conversion to mm through a scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infrasight.measure._image import as_grey_float
from infrasight.measure.errors import (
    FrameSizeMismatchError,
    MeasurementInputError,
    RegionOutOfFrameError,
)
from infrasight.measure.icgn import MatchResult, ReferenceSubset, ShapeFunction, match_subset
from infrasight.measure.scale import Scale

__all__ = ["DisplacementResult", "Region", "grid_regions", "track_displacement"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Region:
    """A rectangular region of the reference frame, px (``x, y`` = top-left corner)."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if self.w < 5 or self.h < 5:
            raise MeasurementInputError(
                f"region {self.w}x{self.h} px is too small (min 5x5)", field="roi"
            )
        if self.x < 0 or self.y < 0:
            raise RegionOutOfFrameError(
                f"region at ({self.x}, {self.y}) starts outside the frame", field="roi"
            )

    @property
    def centre(self) -> tuple[float, float]:
        """Centre ``(x, y)`` in reference px (pixel centres at integers)."""
        return self.x + (self.w - 1) / 2.0, self.y + (self.h - 1) / 2.0

    @classmethod
    def parse(cls, text: str) -> Region:
        """Parse ``"X,Y,W,H"``."""
        try:
            x, y, w, h = (int(v) for v in text.split(","))
        except ValueError as err:
            raise MeasurementInputError(
                f"region must be X,Y,W,H integers, got {text!r}", field="roi"
            ) from err
        return cls(x=x, y=y, w=w, h=h)


def grid_regions(
    width: int, height: int, *, step: int, subset: int, margin: int = 2
) -> tuple[Region, ...]:
    """Square subsets of side ``subset`` whose centres lie on a grid of spacing ``step``, px."""
    if step < 1:
        raise MeasurementInputError(f"grid step must be >= 1 px, got {step}", field="grid")
    if subset < 5:
        raise MeasurementInputError(f"subset must be >= 5 px, got {subset}", field="subset")
    if subset + 2 * margin > min(width, height):
        raise MeasurementInputError(
            f"subset {subset} px does not fit a {width}x{height} frame", field="subset"
        )
    xs = range(margin, width - subset - margin + 1, step)
    ys = range(margin, height - subset - margin + 1, step)
    return tuple(Region(x=x, y=y, w=subset, h=subset) for y in ys for x in xs)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class DisplacementResult:
    """Displacements of points through a sequence, relative to the reference frame.

    Attributes
    ----------
    points_px : numpy.ndarray
        ``(P, 2)`` region centres ``(x, y)`` in reference px.
    dx, dy : numpy.ndarray
        ``(F, P)`` displacement, px; positive = content moved right / down; ``nan`` = no estimate.
    score : numpy.ndarray
        ``(F, P)`` zero-normalised cross-correlation (1 = perfect match).
    reliable : numpy.ndarray
        ``(F, P)`` bool: converged, inside the frame, textured, score above the threshold.
    reasons : tuple of tuple of str
        ``[F][P]`` why a point is unreliable ("" when reliable).
    labels : tuple of str
        Frame labels (file names).
    shake_px : numpy.ndarray or None
        ``(F, 2)`` camera motion removed (mean motion of the reference regions), px.
    scale : Scale or None
        Scale used for the mm fields.
    """

    points_px: NDArray[np.float64]
    dx: NDArray[np.float64]
    dy: NDArray[np.float64]
    score: NDArray[np.float64]
    reliable: NDArray[np.bool_]
    reasons: tuple[tuple[str, ...], ...]
    labels: tuple[str, ...]
    shake_px: NDArray[np.float64] | None = None
    scale: Scale | None = None

    def __post_init__(self) -> None:
        f, p = self.dx.shape if self.dx.ndim == 2 else (-1, -1)
        if self.points_px.shape != (p, 2):
            raise ValueError("points_px must be (P, 2) matching dx")
        for name in ("dy", "score", "reliable"):
            if getattr(self, name).shape != (f, p):
                raise ValueError(f"{name} must have shape ({f}, {p})")
        if len(self.labels) != f or len(self.reasons) != f:
            raise ValueError("one label and one reason row per frame")

    def displacement_mm(self) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """``(dx_mm, dy_mm)`` on the surface plane, or ``None`` without a scale."""
        if self.scale is None:
            return None
        f, p = self.dx.shape
        start = np.repeat(self.points_px[None, :, :], f, axis=0).reshape(-1, 2)
        end = start + np.stack([self.dx, self.dy], axis=-1).reshape(-1, 2)
        finite = np.all(np.isfinite(end), axis=1)
        a = np.full((f * p, 2), np.nan)
        b = np.full((f * p, 2), np.nan)
        a[finite] = self.scale.to_mm(start[finite])
        b[finite] = self.scale.to_mm(end[finite])
        d = (b - a).reshape(f, p, 2)
        return d[..., 0], d[..., 1]

    def to_json_dict(self, *, details: bool = False) -> dict[str, Any]:
        """``{"results": [{"image", "points": [{"x", "y", "dx", "dy", "score"}]}]}``.

        ``x, y``: region centre in reference px; ``dx, dy``: displacement in px (positive =
        content moved right/down), ``null`` for a point that is not reliable (blank, saturated,
        out of the frame, low score: its ``score`` says how well it matched, 0 when it could not
        be matched at all); ``dx_mm``/``dy_mm`` are added when a scale is attached. With
        ``details`` each point also carries ``reliable`` and ``reason`` (and its raw estimate),
        and each frame ``shake_px`` when shake was removed.
        """
        mm = self.displacement_mm()
        results = []
        for k, label in enumerate(self.labels):
            pts = []
            for j, (x, y) in enumerate(self.points_px):
                ok = bool(self.reliable[k, j]) or details
                dx, dy = float(self.dx[k, j]), float(self.dy[k, j])
                item: dict[str, Any] = {
                    "x": float(x),
                    "y": float(y),
                    "dx": dx if ok and np.isfinite(dx) else None,
                    "dy": dy if ok and np.isfinite(dy) else None,
                    "score": float(self.score[k, j]),
                }
                if mm is not None:
                    mx, my = float(mm[0][k, j]), float(mm[1][k, j])
                    item["dx_mm"] = mx if ok and np.isfinite(mx) else None
                    item["dy_mm"] = my if ok and np.isfinite(my) else None
                if details:
                    item["reliable"] = bool(self.reliable[k, j])
                    item["reason"] = self.reasons[k][j]
                pts.append(item)
            entry: dict[str, Any] = {"image": label, "points": pts}
            if details and self.shake_px is not None:
                entry["shake_px"] = [float(v) for v in self.shake_px[k]]
            results.append(entry)
        return {"results": results}


def _prepare(
    reference: NDArray[np.float64],
    regions: Sequence[Region],
    shape: ShapeFunction,
    white_level: float,
) -> list[ReferenceSubset]:
    H, W = reference.shape
    subsets = []
    for r in regions:
        if r.x + r.w > W or r.y + r.h > H:
            raise RegionOutOfFrameError(
                f"region {r.x},{r.y},{r.w},{r.h} does not fit the {W}x{H} reference frame",
                field="roi",
            )
        subsets.append(
            ReferenceSubset(reference, r.x, r.y, r.w, r.h, shape, white_level=white_level)
        )
    return subsets


def _white_level(image: NDArray[np.generic]) -> float:
    """Saturation grey level of a frame: its integer type's maximum, else 255 or its maximum."""
    arr = np.asarray(image)
    if np.issubdtype(arr.dtype, np.integer):
        return float(np.iinfo(arr.dtype).max)
    peak = float(np.max(arr))
    return 255.0 if peak <= 255.0 else peak


def _remove_shake(
    dx: NDArray[np.float64],
    dy: NDArray[np.float64],
    ok: NDArray[np.bool_],
    points: NDArray[np.float64],
    ref_dx: NDArray[np.float64],
    ref_dy: NDArray[np.float64],
    ref_ok: NDArray[np.bool_],
    ref_points: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], bool]:
    """Subtract the camera motion fitted to the reference regions (affine with >= 3 regions)."""
    good = ref_ok & np.isfinite(ref_dx)
    if not good.any():
        return dx, dy, np.array([np.nan, np.nan]), False
    shake = np.array([ref_dx[good].mean(), ref_dy[good].mean()])
    if good.sum() >= 3:
        A = np.column_stack([ref_points[good], np.ones(good.sum())])
        cx, *_ = np.linalg.lstsq(A, ref_dx[good], rcond=None)
        cy, *_ = np.linalg.lstsq(A, ref_dy[good], rcond=None)
        P = np.column_stack([points, np.ones(len(points))])
        return dx - P @ cx, dy - P @ cy, shake, True
    return dx - shake[0], dy - shake[1], shake, True


def track_displacement(
    reference: NDArray[np.generic],
    images: Iterable[NDArray[np.generic]],
    *,
    rois: Sequence[Region] | None = None,
    grid: int | None = None,
    subset: int = 31,
    reference_regions: Sequence[Region] = (),
    labels: Sequence[str] | None = None,
    shape: ShapeFunction | None = None,
    search_radius: int = 16,
    min_score: float = 0.8,
    follow: bool = True,
    scale: Scale | None = None,
    integer_only: bool = False,
    progress: Callable[[int], None] | None = None,
) -> DisplacementResult:
    """Track regions (or a dense grid) of ``reference`` through ``images`` to sub-pixel accuracy.

    Parameters
    ----------
    reference : numpy.ndarray
        ``(H, W)`` grey or ``(H, W, 3)`` RGB reference frame.
    images : iterable of numpy.ndarray
        Frames of the same size (a list, or a generator over a video).
    rois : sequence of Region, optional
        Regions to track (markers or natural texture). Exactly one of ``rois`` / ``grid``.
    grid : int, optional
        Dense mode: grid step in px; ``subset`` gives the subset side.
    subset : int
        Subset side for grid mode, px.
    reference_regions : sequence of Region
        Regions on something fixed; their apparent motion (camera shake) is removed from the
        results (an affine fit with 3 or more regions, a translation otherwise).
    labels : sequence of str, optional
        Frame labels; default ``frame-0``, ``frame-1``...
    shape : str, optional
        Subset shape function: ``"translation"`` (rigid subset, fastest) or ``"affine"``
        (first order: the subset may stretch, shear and rotate). Default: translation for
        ``rois`` (targets), affine for ``grid`` (full-field DIC of a deforming surface).
    search_radius : int
        Integer search range around the previous frame's result, px.
    min_score : float
        ZNCC below which a point is flagged unreliable.
    follow : bool
        Start each frame's search from the previous frame's result (sequences that drift far).
    scale : Scale, optional
        Converts displacements to mm.
    integer_only : bool
        Integer-pixel template matching only (baseline).
    progress : callable, optional
        Called with the frame index after each frame.

    Returns
    -------
    DisplacementResult

    Raises
    ------
    MeasurementInputError
        Neither or both of ``rois`` and ``grid``; no frames.
    RegionOutOfFrameError
        A region does not fit the reference frame.
    FrameSizeMismatchError
        A frame's size differs from the reference's.
    """
    ref = as_grey_float(reference, name="reference").astype(np.float64)
    H, W = ref.shape
    if (rois is None) == (grid is None):
        raise MeasurementInputError("give exactly one of rois or grid", field="rois")
    if shape is None:
        shape = "translation" if rois is not None else "affine"
    if shape not in ("translation", "affine"):
        raise MeasurementInputError(f"unknown shape function {shape!r}", field="shape")
    if not 0.0 <= min_score <= 1.0:
        raise MeasurementInputError("min_score must be within 0-1", field="min_score")
    regions = (
        tuple(rois) if rois is not None else grid_regions(W, H, step=int(grid or 0), subset=subset)
    )
    if not regions:
        raise MeasurementInputError("no region to track", field="rois")
    white = _white_level(reference)
    subsets = _prepare(ref, regions, shape, white)
    ref_subsets = _prepare(ref, reference_regions, shape, white)
    points = np.array([r.centre for r in regions], np.float64)
    ref_points = np.array([r.centre for r in reference_regions], np.float64).reshape(-1, 2)
    all_dx: list[NDArray[np.float64]] = []
    all_dy: list[NDArray[np.float64]] = []
    all_score: list[NDArray[np.float64]] = []
    all_ok: list[NDArray[np.bool_]] = []
    all_reason: list[tuple[str, ...]] = []
    shakes: list[NDArray[np.float64]] = []
    frame_labels: list[str] = []
    prev = np.zeros((len(subsets), 2))
    prev_ref = np.zeros((len(ref_subsets), 2))
    has_prev = np.zeros(len(subsets), bool)
    has_prev_ref = np.zeros(len(ref_subsets), bool)
    for k, image in enumerate(images):
        frame = as_grey_float(image, name=f"images[{k}]")
        if frame.shape != ref.shape:
            raise FrameSizeMismatchError(
                f"frame {k} is {frame.shape[1]}x{frame.shape[0]} px but the reference is {W}x{H}",
                field="images",
            )

        def run(
            subs: list[ReferenceSubset],
            guesses: NDArray[np.float64],
            priors: NDArray[np.bool_],
            fr: NDArray[np.float32] = frame,
        ) -> list[MatchResult]:
            return [
                match_subset(
                    fr,
                    s,
                    guess=(float(g[0]), float(g[1])),
                    search_radius=search_radius,
                    min_score=min_score,
                    integer_only=integer_only,
                    prior=bool(pr),
                )
                for s, g, pr in zip(subs, guesses, priors, strict=True)
            ]

        res = run(subsets, prev, has_prev)
        dx = np.array([m.dx for m in res])
        dy = np.array([m.dy for m in res])
        ok = np.array([m.reliable for m in res], bool)
        reasons = [m.reason for m in res]
        if follow:
            upd = ok & np.isfinite(dx)
            prev[upd, 0], prev[upd, 1] = dx[upd], dy[upd]
            has_prev |= upd
        if ref_subsets:
            rres = run(ref_subsets, prev_ref, has_prev_ref)
            rdx = np.array([m.dx for m in rres])
            rdy = np.array([m.dy for m in rres])
            rok = np.array([m.reliable for m in rres], bool)
            if follow:
                upd = rok & np.isfinite(rdx)
                prev_ref[upd, 0], prev_ref[upd, 1] = rdx[upd], rdy[upd]
                has_prev_ref |= upd
            dx, dy, shake, found = _remove_shake(dx, dy, ok, points, rdx, rdy, rok, ref_points)
            if not found:
                ok = np.zeros_like(ok)
                reasons = ["no fixed reference region could be tracked"] * len(reasons)
            shakes.append(shake)
        all_dx.append(dx)
        all_dy.append(dy)
        all_score.append(np.array([m.score for m in res]))
        all_ok.append(ok)
        all_reason.append(tuple(reasons))
        frame_labels.append(labels[k] if labels is not None and k < len(labels) else f"frame-{k}")
        if progress is not None:
            progress(k)
    if not all_dx:
        raise MeasurementInputError("no frames to track", field="images")
    return DisplacementResult(
        points_px=points,
        dx=np.vstack(all_dx),
        dy=np.vstack(all_dy),
        score=np.vstack(all_score),
        reliable=np.vstack(all_ok),
        reasons=tuple(all_reason),
        labels=tuple(frame_labels),
        shake_px=np.vstack(shakes) if shakes else None,
        scale=scale,
    )
