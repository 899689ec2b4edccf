"""Crack quantification: length, width profile (sub-pixel), orientation, pattern and area.

Everything is measured in image px and converted to mm on the surface through a :class:`Scale`
(a homography keeps tilted views right), each figure with its standard uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import label as nd_label

from infrasight.core.phrases import Phrase, phrase
from infrasight.measure._image import as_grey_float
from infrasight.measure.crack_width import (
    StationWidths,
    estimate_floor_ratio,
    fit_floor_ratio_from_shape,
    measure_station_widths,
)
from infrasight.measure.errors import MeasurementInputError
from infrasight.measure.scale import Quantity, Scale
from infrasight.measure.skeleton import centreline_graph, smooth_polyline

__all__ = [
    "DEFAULT_FLOOR_RATIO",
    "CrackPattern",
    "CrackQuantification",
    "CrackStations",
    "quantify_crack",
    "quantify_cracks",
]

CrackPattern = Literal["transverse", "longitudinal", "diagonal", "branching", "map"]

#: Crack floor luminance relative to the surface, used when no crack stretch is wide enough
#: (>= 6 px) to measure it; deep cracks in daylight are dark shadows (0.1-0.4).
DEFAULT_FLOOR_RATIO = 0.25
#: 1-sigma uncertainty of the assumed crack floor ratio.
DEFAULT_FLOOR_STD = 0.08
_MAX_MASK_FRACTION = 0.6


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CrackStations:
    """The width profile: one row per measurement station (image px and surface units).

    Attributes
    ----------
    centres_px : numpy.ndarray
        ``(K, 2)`` station centre ``(x, y)``, px.
    normals : numpy.ndarray
        ``(K, 2)`` unit normal the width was measured along.
    widths_px, widths_std_px : numpy.ndarray
        ``(K,)`` width and 1-sigma uncertainty, px.
    widths, widths_std : numpy.ndarray
        ``(K,)`` the same in ``unit`` (mm when calibrated).
    branch : numpy.ndarray
        ``(K,)`` index of the branch each station lies on.
    unit : str
        ``"mm"`` or ``"px"``.
    """

    centres_px: NDArray[np.float64]
    normals: NDArray[np.float64]
    widths_px: NDArray[np.float64]
    widths_std_px: NDArray[np.float64]
    widths: NDArray[np.float64]
    widths_std: NDArray[np.float64]
    branch: NDArray[np.int64]
    unit: str

    def __post_init__(self) -> None:
        k = len(self.widths_px)
        for name in ("widths_std_px", "widths", "widths_std", "branch"):
            if getattr(self, name).shape != (k,):
                raise ValueError(f"{name} must have shape ({k},)")
        if self.centres_px.shape != (k, 2) or self.normals.shape != (k, 2):
            raise ValueError("centres_px and normals must be (K, 2)")

    def __len__(self) -> int:
        return len(self.widths_px)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CrackQuantification:
    """Measured geometry of one crack (a connected crack or crack network).

    Attributes
    ----------
    unit : str
        ``"mm"`` when a scale was given, else ``"px"`` (areas in ``unit`` squared).
    length : Quantity
        Centreline length summed over branches.
    width_max, width_mean, width_p95 : Quantity
        Width statistics over the stations (the max is that of a 3-station running median, so
        one noisy station cannot make it).
    width_max_location_px : tuple of float
        ``(x, y)`` image position of the maximum width.
    area : Quantity
        Crack area: integral of the width along the centreline.
    orientation_deg : float
        Main direction in the image, degrees counter-clockwise from the image x axis (0-180).
    angle_to_axis_deg : float
        Angle between the main direction and the element axis, 0-90 degrees.
    pattern : str
        ``transverse``, ``longitudinal``, ``diagonal``, ``branching`` or ``map``.
    polylines_px : tuple of numpy.ndarray
        Smoothed centreline branches, ``(N, 2)`` ``(x, y)`` px.
    stations : CrackStations
        The width profile.
    n_junctions, n_loops : int
        Skeleton junctions and closed cells.
    floor_ratio : float
        Crack floor luminance ratio used by the sub-pixel width model.
    floor_ratio_source : str
        ``"measured"`` (from wide stretches), ``"given"`` or ``"default"``.
    reliable : bool
        False when too few stations could be measured; see ``notes``.
    notes : tuple of str
        Why a figure is less certain, in English.
    note_phrases : tuple of Phrase
        The same notes as message keys and parameters (``core.phrases``), read in a person's
        language by the adapters.
    """

    unit: str
    length: Quantity
    width_max: Quantity
    width_mean: Quantity
    width_p95: Quantity
    width_max_location_px: tuple[float, float]
    area: Quantity
    orientation_deg: float
    angle_to_axis_deg: float
    pattern: str
    polylines_px: tuple[NDArray[np.float64], ...]
    stations: CrackStations
    n_junctions: int
    n_loops: int
    floor_ratio: float
    floor_ratio_source: str
    reliable: bool
    notes: tuple[str, ...] = field(default_factory=tuple)
    note_phrases: tuple[Phrase, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.unit not in {"mm", "px"}:
            raise ValueError(f"unit must be mm or px, got {self.unit!r}")
        if self.pattern not in {"transverse", "longitudinal", "diagonal", "branching", "map"}:
            raise ValueError(f"unknown pattern {self.pattern!r}")
        if not 0.0 <= self.angle_to_axis_deg <= 90.0:
            raise ValueError("angle_to_axis_deg must be within 0-90")

    def to_dict(self, *, include_profile: bool = False) -> dict[str, Any]:
        """JSON-ready summary (optionally with the per-station width profile)."""
        out: dict[str, Any] = {
            "unit": self.unit,
            "length": self.length.to_dict(),
            "width_max": self.width_max.to_dict(),
            "width_mean": self.width_mean.to_dict(),
            "width_p95": self.width_p95.to_dict(),
            "width_max_location_px": list(self.width_max_location_px),
            "area": self.area.to_dict(),
            "orientation_deg": self.orientation_deg,
            "angle_to_axis_deg": self.angle_to_axis_deg,
            "pattern": self.pattern,
            "n_branches": len(self.polylines_px),
            "n_junctions": self.n_junctions,
            "n_stations": len(self.stations),
            "floor_ratio": self.floor_ratio,
            "floor_ratio_source": self.floor_ratio_source,
            "reliable": self.reliable,
            "notes": list(self.notes),
            "note_messages": [p.as_dict() for p in self.note_phrases],
        }
        if include_profile:
            s = self.stations
            out["profile"] = [
                {"x": float(c[0]), "y": float(c[1]), "width": float(wv), "std": float(sv)}
                for c, wv, sv in zip(s.centres_px, s.widths, s.widths_std, strict=True)
            ]
        return out


def _check_inputs(
    mask: NDArray[np.generic], image: NDArray[np.generic]
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    grey = as_grey_float(image)
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] in (1, 3, 4):
        m = m[:, :, 0]
    if m.shape != grey.shape:
        raise MeasurementInputError(
            f"mask is {m.shape[1]}x{m.shape[0]} px but the image is {grey.shape[1]}x"
            f"{grey.shape[0]}",
            field="mask",
        )
    mb = m > 0 if m.dtype != bool else m
    if not mb.any():
        raise MeasurementInputError("mask is empty: nothing to measure", field="mask")
    covered = float(mb.mean())
    if covered > _MAX_MASK_FRACTION:
        raise MeasurementInputError(
            f"mask covers {100 * covered:.0f}% of the image: not a crack mask (inverted?)",
            field="mask",
        )
    return np.asarray(mb, np.bool_), grey


def _mask_distance(mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Distance (px) from each mask pixel to the nearest non-crack pixel or the image border."""
    padded = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)
    return np.asarray(dist[1:-1, 1:-1], np.float32)


def _orientation(points: NDArray[np.float64]) -> float:
    """Principal direction in degrees CCW from +x with y pointing up (0-180)."""
    centred = points - points.mean(axis=0)
    if len(points) < 2 or not np.any(centred):
        return 0.0
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    dx, dy = vt[0]
    return float(np.degrees(np.arctan2(-dy, dx)) % 180.0)


def _classify(angle_to_axis: float, n_junctions: int, n_loops: int) -> CrackPattern:
    if n_loops >= 2 or (n_loops >= 1 and n_junctions >= 6):
        return "map"
    if n_junctions >= 1:
        return "branching"
    if angle_to_axis <= 30.0:
        return "longitudinal"
    if angle_to_axis >= 60.0:
        return "transverse"
    return "diagonal"


def _end_skip(dist: NDArray[np.float32], is_free: bool, end: NDArray[np.float64]) -> float:
    """Length to leave unmeasured at a branch end: 1 px at a tip, the junction's reach else."""
    if is_free:
        return 1.0
    y, x = round(end[1]), round(end[0])
    return float(dist[y, x]) + 3.0


def _analyse(
    mask: NDArray[np.bool_],
    grey: NDArray[np.float32],
    occupied: NDArray[np.bool_],
    dist: NDArray[np.float32],
    *,
    scale: Scale | None,
    element_axis_deg: float,
    station_spacing_px: float,
    floor: tuple[float, float, str],
    smoothing_px: float | None,
    psf_margin_px: float,
) -> CrackQuantification:
    graph = centreline_graph(mask)
    ys, xs = np.nonzero(mask)
    med_half = float(np.median(dist[ys, xs])) if len(xs) else 1.0
    sigma = smoothing_px if smoothing_px is not None else float(np.clip(2.0 * med_half, 2.0, 8.0))
    polylines: list[NDArray[np.float64]] = []
    all_widths: list[StationWidths] = []
    branch_ids: list[NDArray[np.int64]] = []
    length_px = 0.0
    n_free = 0
    notes: list[Phrase] = []
    floor_ratio, floor_std, floor_src = floor
    h, w = dist.shape
    zones = np.array(
        [
            [x, y, float(dist[min(round(y), h - 1), min(round(x), w - 1)]) + 3.0]
            for x, y in graph.junctions
        ]
    ).reshape(-1, 3)
    for b, (raw, (free0, free1)) in enumerate(zip(graph.branches, graph.free_ends, strict=True)):
        pts = smooth_polyline(raw, sigma)
        polylines.append(pts)
        ext = 0.0
        for is_free, end in ((free0, pts[0]), (free1, pts[-1])):
            if is_free:
                n_free += 1
                y, x = round(end[1]), round(end[0])
                ext += max(float(dist[y, x]) - 1.0, 0.0)
        length_px += float(np.hypot(*np.diff(pts, axis=0).T).sum()) + ext if len(pts) > 1 else ext

        sw = measure_station_widths(
            grey,
            pts,
            dist,
            occupied,
            floor_ratio=floor_ratio,
            floor_ratio_std=floor_std,
            spacing_px=station_spacing_px,
            skip_start_px=_end_skip(dist, free0, pts[0]),
            skip_end_px=_end_skip(dist, free1, pts[-1]),
            psf_margin_px=psf_margin_px,
            floor_known=floor_src != "default",
            skip_zones=zones,
        )
        all_widths.append(sw)
        branch_ids.append(np.full(len(sw.widths), b, np.int64))
    centres = np.vstack([s.centres for s in all_widths]) if all_widths else np.zeros((0, 2))
    normals = np.vstack([s.normals for s in all_widths]) if all_widths else np.zeros((0, 2))
    w_px = np.concatenate([s.widths for s in all_widths]) if all_widths else np.zeros(0)
    s_px = np.concatenate([s.stds for s in all_widths]) if all_widths else np.zeros(0)
    branch = np.concatenate(branch_ids) if branch_ids else np.zeros(0, np.int64)
    valid = np.isfinite(w_px)
    centres, normals, w_px, s_px, branch = (
        centres[valid],
        normals[valid],
        w_px[valid],
        s_px[valid],
        branch[valid],
    )
    unit = "mm" if scale is not None else "px"
    rel = scale.relative_std if scale is not None else 0.0
    sampled_len: NDArray[np.float64] | None = None
    if scale is not None and len(w_px):
        a = centres - 0.5 * w_px[:, None] * normals
        bpts = centres + 0.5 * w_px[:, None] * normals
        w_u = scale.distance_mm(a, bpts)
        local = w_u / np.maximum(w_px, 1e-12)
        sampled_w = scale.sampled_distances_mm(a, bpts)
        scale_w_std = w_u * rel if sampled_w is None else np.std(sampled_w, axis=0)
        s_u = np.hypot(s_px * local, scale_w_std)
        length_u = sum(scale.polyline_length_mm(p) for p in polylines)
        sampled_len = scale.sampled_lengths_mm(polylines)
        length_u += (
            length_px
            - sum(float(np.hypot(*np.diff(p, axis=0).T).sum()) for p in polylines if len(p) > 1)
        ) * scale.mm_per_px
        mean_scale = length_u / length_px if length_px > 0 else scale.mm_per_px
        all_pts = np.vstack([scale.to_mm(p) for p in polylines])
    else:
        w_u, s_u = w_px.copy(), s_px.copy()
        length_u = length_px
        mean_scale = 1.0
        all_pts = np.vstack(polylines) if polylines else np.zeros((1, 2))
    reliable = len(w_u) >= 3
    if not reliable:
        notes.append(
            phrase("fewer than 3 width stations could be measured (crack too short or at edge)")
        )
    if floor_src == "default":
        notes.append(
            phrase(
                "no crack stretch wide enough to measure the crack floor; assumed ratio {ratio:g}",
                ratio=floor_ratio,
            )
        )
    if len(w_u):
        order = np.arange(len(w_u))
        smooth = w_u.copy()
        for b in np.unique(branch):
            sel = order[branch == b]
            if len(sel) >= 3:
                padded = np.concatenate([[w_u[sel[0]]], w_u[sel], [w_u[sel[-1]]]])
                smooth[sel] = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
        imax = int(np.argmax(smooth))
        w_max = Quantity(value=float(smooth[imax]), std=float(s_u[imax]), unit=unit)
        w_mean = Quantity(
            value=float(w_u.mean()),
            std=float(np.hypot(np.sqrt(np.mean(s_u**2) / len(s_u)), w_u.mean() * rel)),
            unit=unit,
        )
        p95 = float(np.percentile(w_u, 95))
        w_p95 = Quantity(value=p95, std=float(np.median(s_u)), unit=unit)
        max_loc = (float(centres[imax, 0]), float(centres[imax, 1]))
        area_val = float(np.mean(w_u) * length_u)
        area_std = float(np.hypot(w_mean.std * length_u, np.mean(w_u) * length_u * rel))
    else:
        zero = Quantity(value=0.0, std=0.0, unit=unit)
        w_max = w_mean = w_p95 = zero
        max_loc = (float(all_pts[0, 0]), float(all_pts[0, 1]))
        area_val, area_std = 0.0, 0.0
    scale_len_std = length_u * rel if sampled_len is None else float(np.std(sampled_len))
    length_std = float(np.hypot(0.5 * np.sqrt(max(n_free, 1)) * mean_scale, scale_len_std))
    # the metric frame's y points down like the image's, so one angle convention serves both
    orientation = _orientation(all_pts)
    diff = abs((orientation - element_axis_deg) % 180.0)
    angle_to_axis = float(min(diff, 180.0 - diff))
    pattern = _classify(angle_to_axis, len(graph.junctions), graph.n_loops)
    return CrackQuantification(
        unit=unit,
        length=Quantity(value=float(length_u), std=length_std, unit=unit),
        width_max=w_max,
        width_mean=w_mean,
        width_p95=w_p95,
        width_max_location_px=max_loc,
        area=Quantity(value=area_val, std=area_std, unit=unit + "2"),
        orientation_deg=orientation,
        angle_to_axis_deg=angle_to_axis,
        pattern=pattern,
        polylines_px=tuple(polylines),
        stations=CrackStations(
            centres_px=centres,
            normals=normals,
            widths_px=w_px,
            widths_std_px=s_px,
            widths=np.asarray(w_u, np.float64),
            widths_std=np.asarray(s_u, np.float64),
            branch=branch,
            unit=unit,
        ),
        n_junctions=len(graph.junctions),
        n_loops=graph.n_loops,
        floor_ratio=floor_ratio,
        floor_ratio_source=floor_src,
        reliable=reliable,
        notes=tuple(p.english() for p in notes),
        note_phrases=tuple(notes),
    )


def _floor(
    grey: NDArray[np.float32],
    mask: NDArray[np.bool_],
    dist: NDArray[np.float32],
    crack_floor_ratio: float | None,
) -> tuple[float, float, str]:
    if crack_floor_ratio is not None:
        if not 0.0 <= crack_floor_ratio < 1.0:
            raise MeasurementInputError(
                f"crack_floor_ratio must be in [0, 1), got {crack_floor_ratio}",
                field="crack_floor_ratio",
            )
        return crack_floor_ratio, 0.02, "given"
    graph = centreline_graph(mask & (dist >= 2.5)) if (dist >= 3.0).any() else None
    if graph is not None:
        polys = [smooth_polyline(b, 3.0) for b in graph.branches if len(b) >= 7]
        est = estimate_floor_ratio(grey, polys, dist)
        if est is not None:
            r, std, _ = est
            return r, max(std, 0.01), "measured"
    skeleton = centreline_graph(mask)
    polys = [smooth_polyline(b, 2.0) for b in skeleton.branches if len(b) >= 9]
    fitted = fit_floor_ratio_from_shape(grey, polys, dist)
    if fitted is not None:
        r, std, _ = fitted
        return r, max(std, 0.03), "fitted"
    return DEFAULT_FLOOR_RATIO, DEFAULT_FLOOR_STD, "default"


def _prepare(
    mask: NDArray[np.generic],
    image: NDArray[np.generic],
    station_spacing_px: float,
    psf_margin_px: float,
    crack_floor_ratio: float | None,
) -> tuple[
    NDArray[np.bool_],
    NDArray[np.float32],
    NDArray[np.float32],
    tuple[float, float, str],
    NDArray[np.bool_],
]:
    """Validated mask and grey image, the mask's distance map, the crack floor and occupancy."""
    m, grey = _check_inputs(mask, image)
    if station_spacing_px <= 0:
        raise MeasurementInputError(
            "station_spacing_px must be positive", field="station_spacing_px"
        )
    if not 0.0 <= psf_margin_px <= 20.0:
        raise MeasurementInputError("psf_margin_px must be within 0-20 px", field="psf_margin_px")
    dist = _mask_distance(m)
    floor = _floor(grey, m, dist, crack_floor_ratio)
    occupied = np.asarray(cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    return m, grey, dist, floor, occupied


def quantify_cracks(
    mask: NDArray[np.generic],
    image: NDArray[np.generic],
    *,
    scale: Scale | None = None,
    element_axis_deg: float = 0.0,
    station_spacing_px: float = 2.0,
    crack_floor_ratio: float | None = None,
    min_area_px: int = 20,
    smoothing_px: float | None = None,
    psf_margin_px: float = 2.0,
    link_gap_px: float = 0.0,
) -> tuple[CrackQuantification, ...]:
    """Quantify every crack instance (8-connected component, or group within ``link_gap_px``)
    of a mask.

    Parameters
    ----------
    mask : numpy.ndarray
        ``(H, W)`` crack mask (bool or 0/255).
    image : numpy.ndarray
        ``(H, W)`` grey or ``(H, W, 3)`` RGB capture the mask belongs to.
    scale : Scale, optional
        Image-to-surface scale; without it every figure is in px.
    element_axis_deg : float
        Direction of the element axis in the image, degrees counter-clockwise from the x axis.
    station_spacing_px : float
        Distance between width stations along the centreline, px.
    crack_floor_ratio : float, optional
        Crack interior luminance relative to the surface; default: measured from the wide
        stretches of all cracks in the image, else :data:`DEFAULT_FLOOR_RATIO`.
    min_area_px : int
        Ignore components smaller than this (mask noise).
    smoothing_px : float, optional
        Centreline smoothing length, px; default from the crack width.
    psf_margin_px : float
        How far the blur spreads a crack's darkness beyond its edges, px (about 3 sigma of the
        optics' blur; 2 px suits sharp photos, raise it for soft ones).
    link_gap_px : float
        Treat mask pieces closer than this as one crack (a segmentation model often breaks a
        crack); the gap itself is not counted in the length.

    Returns
    -------
    tuple of CrackQuantification
        Longest first.
    """
    m, grey, dist, floor, occupied = _prepare(
        mask, image, station_spacing_px, psf_margin_px, crack_floor_ratio
    )
    if link_gap_px < 0:
        raise MeasurementInputError("link_gap_px must be >= 0", field="link_gap_px")
    grouping = m
    if link_gap_px > 0:
        # pieces of one crack broken by a segmentation gap are measured as one crack
        size = 2 * int(np.ceil(link_gap_px / 2)) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        grouping = cv2.dilate(m.astype(np.uint8), kernel) > 0
    labels, n = nd_label(grouping, structure=np.ones((3, 3)))
    sizes = np.bincount(labels[m].ravel(), minlength=n + 1)
    results = []
    for k in range(1, n + 1):
        if sizes[k] < min_area_px:
            continue
        results.append(
            _analyse(
                m & (labels == k),
                grey,
                occupied,
                dist,
                scale=scale,
                element_axis_deg=element_axis_deg,
                station_spacing_px=station_spacing_px,
                floor=floor,
                smoothing_px=smoothing_px,
                psf_margin_px=psf_margin_px,
            )
        )
    results.sort(key=lambda q: -q.length.value)
    return tuple(results)


def quantify_crack(
    mask: NDArray[np.generic],
    image: NDArray[np.generic],
    *,
    scale: Scale | None = None,
    element_axis_deg: float = 0.0,
    station_spacing_px: float = 2.0,
    crack_floor_ratio: float | None = None,
    smoothing_px: float | None = None,
    psf_margin_px: float = 2.0,
) -> CrackQuantification:
    """Quantify one crack given by its mask (all mask pixels form one crack or network).

    Parameters are those of :func:`quantify_cracks`; the whole mask is treated as one instance
    (use :func:`quantify_cracks` to split a mask into connected cracks).

    Returns
    -------
    CrackQuantification
    """
    m, grey, dist, floor, occupied = _prepare(
        mask, image, station_spacing_px, psf_margin_px, crack_floor_ratio
    )
    return _analyse(
        m,
        grey,
        occupied,
        dist,
        scale=scale,
        element_axis_deg=element_axis_deg,
        station_spacing_px=station_spacing_px,
        floor=floor,
        smoothing_px=smoothing_px,
        psf_margin_px=psf_margin_px,
    )
