"""Cracks in a capture: segment with the packaged model, store each crack as a Defect.

Each run is a :class:`CaptureAnalysis` (model name and version, mask blob); its cracks become
Defects with their geometry (bounding box, skeleton polyline, pixel count), confidence and model
version. When the capture has a scale (its own mm/px or its camera's ``scale`` calibration) each
crack is also measured in millimetres with an uncertainty (length, width profile statistics,
orientation to the element axis, pattern, area). A run with a model version already applied to
the capture is skipped; runs with other versions are kept side by side.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.measure import MeasurementInputError, Scale, detect_markers, quantify_crack
from infrasight.services.calibrations import MARKER, capture_scale, latest_calibration
from infrasight.storage.blobs import BlobStore, register_blob
from infrasight.storage.models import Capture, CaptureAnalysis, Defect, Element
from infrasight.vision.cracks import (
    CrackSegmentation,
    CrackSegmenter,
    default_segmenter,
    overlay,
)
from infrasight.vision.instances import CrackInstance

__all__ = [
    "CRACK_MODEL",
    "analyse_cracks",
    "group_instances",
    "marker_exclusion",
    "mask_png",
    "measure_instance",
    "measure_segmentation",
    "render_overlay",
]

CRACK_MODEL = "crack-segmentation"
_MARGIN_PX = 12
#: Segmented pieces closer than this are one crack (the model's mask often breaks a thin crack
#: where it crosses a wider one), px.
LINK_GAP_PX = 4.0


def mask_png(mask: np.ndarray) -> bytes:
    """A bool mask as a 0/255 8-bit PNG."""
    out = io.BytesIO()
    Image.fromarray(mask.view(np.uint8) * np.uint8(255)).save(out, format="PNG")
    return out.getvalue()


def _crop_scale(scale: Scale, x0: int, y0: int) -> Scale:
    """The same scale for image coordinates measured from ``(x0, y0)``."""
    if scale.homography is None:
        return scale
    shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    return Scale(
        mm_per_px=scale.mm_per_px,
        relative_std=scale.relative_std,
        homography=np.asarray(scale.homography) @ shift,
        source=scale.source,
    )


def measure_instance(
    instance: CrackInstance,
    pixels: np.ndarray,
    scale: Scale | None,
    axis_deg: float,
    *,
    crack_floor_ratio: float | None = None,
    include_profile: bool = False,
) -> dict[str, Any]:
    """Millimetre figures of one segmented crack (its mask measured in a crop with a margin).

    The one measurement path of the platform (capture analysis) and ``infrasight measure crack``:
    the JSON-ready :meth:`CrackQuantification.to_dict` with image coordinates, or ``{"error":
    ...}`` when the crack cannot be measured.
    """
    x, y, w, h = instance.bbox
    height, width = pixels.shape[:2]
    x0, y0 = max(0, x - _MARGIN_PX), max(0, y - _MARGIN_PX)
    x1, y1 = min(width, x + w + _MARGIN_PX), min(height, y + h + _MARGIN_PX)
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    mask[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = instance.mask
    try:
        result = quantify_crack(
            mask,
            pixels[y0:y1, x0:x1],
            scale=None if scale is None else _crop_scale(scale, x0, y0),
            element_axis_deg=axis_deg,
            crack_floor_ratio=crack_floor_ratio,
        )
    except MeasurementInputError as err:
        return {"error": str(err)}
    measured = result.to_dict(include_profile=include_profile)
    mx, my = result.width_max_location_px
    measured["width_max_location_px"] = [mx + x0, my + y0]
    for station in measured.get("profile", []):
        station["x"] += x0
        station["y"] += y0
    measured["scale"] = None if scale is None else scale.to_dict()
    return measured


def _marker_area(session: Session, capture: Capture, pixels: np.ndarray) -> np.ndarray | None:
    """Pixels covered by the camera's scale markers (with a margin), which are not cracks."""
    if capture.device_id is None:
        return None
    record = latest_calibration(session, capture.device_id, MARKER, capture)
    if record is None:
        return None
    return marker_exclusion(pixels, str(record.parameters.get("dictionary", "DICT_4X4_50")))


def marker_exclusion(pixels: np.ndarray, dictionary: str) -> np.ndarray | None:
    """Pixels covered by ArUco markers of ``dictionary`` and their quiet zones (not cracks)."""
    import cv2

    markers = detect_markers(pixels, dictionary=dictionary)
    if not markers:
        return None
    area = np.zeros(pixels.shape[:2], dtype=np.uint8)
    for marker in markers:
        corners = np.asarray(marker.corners_px, dtype=np.float64)
        centre = corners.mean(axis=0)
        grown = centre + 1.25 * (corners - centre)  # the white quiet zone around the marker
        cv2.fillConvexPoly(area, np.round(grown).astype(np.int32), 1)
    return area.astype(bool)


def _inside(instance: CrackInstance, area: np.ndarray | None) -> bool:
    if area is None:
        return False
    x, y, w, h = instance.bbox
    return bool(area[y : y + h, x : x + w][instance.mask].mean() > 0.5)


def _touch(
    a: CrackInstance, b: CrackInstance, kernel: np.ndarray, size: int, shape: tuple[int, int]
) -> bool:
    """Whether the two pieces' masks, each dilated by ``kernel``, overlap or touch (8-connected).

    The same test as labelling the dilated union of all pieces, in a window around the two
    pieces only (a frame-sized label image is 4 bytes a pixel: 400 MB at 100 megapixels).
    """
    import cv2

    x0 = max(min(a.bbox[0], b.bbox[0]) - size, 0)
    y0 = max(min(a.bbox[1], b.bbox[1]) - size, 0)
    x1 = min(max(a.bbox[0] + a.bbox[2], b.bbox[0] + b.bbox[2]) + size, shape[1])
    y1 = min(max(a.bbox[1] + a.bbox[3], b.bbox[1] + b.bbox[3]) + size, shape[0])
    grown = []
    for piece in (a, b):
        canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
        x, y, w, h = piece.bbox
        canvas[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = piece.mask
        grown.append(cv2.dilate(canvas, kernel))
    neighbourhood = cv2.dilate(grown[0], np.ones((3, 3), np.uint8))
    return bool(np.logical_and(neighbourhood, grown[1]).any())


def group_instances(
    instances: tuple[CrackInstance, ...] | list[CrackInstance],
    shape: tuple[int, int],
    gap_px: float = LINK_GAP_PX,
) -> list[CrackInstance]:
    """Join segmented pieces closer than ``gap_px`` into one crack instance (largest first).

    The joined instance has the union of the pieces' masks, their summed pixel count and skeleton
    length, the pixel-weighted mean confidence and the longest piece's polyline.
    """
    import cv2

    items = list(instances)
    if len(items) < 2 or gap_px <= 0:
        return items
    size = 2 * int(np.ceil(gap_px / 2)) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    boxes = np.array([inst.bbox for inst in items], np.int64)
    left, top = boxes[:, 0] - size, boxes[:, 1] - size
    right, bottom = boxes[:, 0] + boxes[:, 2] + size, boxes[:, 1] + boxes[:, 3] + size
    for i in range(len(items) - 1):
        near = np.nonzero(
            (left[i + 1 :] < right[i])
            & (right[i + 1 :] > left[i])
            & (top[i + 1 :] < bottom[i])
            & (bottom[i + 1 :] > top[i])
        )[0]
        for j in near + i + 1:
            if root(i) != root(int(j)) and _touch(items[i], items[int(j)], kernel, size, shape):
                parent[root(int(j))] = root(i)
    groups: dict[int, list[CrackInstance]] = {}
    for index, inst in enumerate(items):
        groups.setdefault(root(index), []).append(inst)
    out = []
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        x0 = min(m.bbox[0] for m in members)
        y0 = min(m.bbox[1] for m in members)
        x1 = max(m.bbox[0] + m.bbox[2] for m in members)
        y1 = max(m.bbox[1] + m.bbox[3] for m in members)
        mask = np.zeros((y1 - y0, x1 - x0), bool)
        for m in members:
            x, y, w, h = m.bbox
            mask[y - y0 : y - y0 + h, x - x0 : x - x0 + w] |= m.mask
        count = sum(m.pixel_count for m in members)
        longest = max(members, key=lambda m: m.length_px)
        out.append(
            CrackInstance(
                pixel_count=count,
                bbox=(x0, y0, x1 - x0, y1 - y0),
                polyline=longest.polyline,
                skeleton_length_px=sum(m.skeleton_length_px for m in members),
                mean_confidence=float(
                    min(sum(m.mean_confidence * m.pixel_count for m in members) / count, 1.0)
                ),
                mask=mask,
            )
        )
    out.sort(key=lambda m: -m.pixel_count)
    return out


def measure_segmentation(
    pixels: np.ndarray,
    segmentation: CrackSegmentation,
    *,
    scale: Scale | None,
    axis_deg: float,
    exclude: np.ndarray | None = None,
    crack_floor_ratio: float | None = None,
    include_profile: bool = False,
) -> list[tuple[CrackInstance, dict[str, Any]]]:
    """Each segmented crack outside ``exclude`` (marker areas) with its measurements.

    Pieces closer than :data:`LINK_GAP_PX` are one crack (:func:`group_instances`). Shared by the
    capture analysis and the CLI so that both give the same cracks, lengths and widths for the
    same image.
    """
    kept = [i for i in segmentation.instances if not _inside(i, exclude)]
    return [
        (
            instance,
            measure_instance(
                instance,
                pixels,
                scale,
                axis_deg,
                crack_floor_ratio=crack_floor_ratio,
                include_profile=include_profile,
            ),
        )
        for instance in group_instances(kept, segmentation.mask.shape)
    ]


def analyse_cracks(
    session: Session,
    blobs: BlobStore,
    capture: Capture,
    pixels: np.ndarray,
    *,
    segmenter: CrackSegmenter | None = None,
) -> CaptureAnalysis | None:
    """Segment, store the analysis and its Defects; None when this model version already ran."""
    model = segmenter or default_segmenter()
    version = model.model_version
    done = session.scalar(
        select(CaptureAnalysis.id).where(
            CaptureAnalysis.capture_id == capture.id,
            CaptureAnalysis.model_name == CRACK_MODEL,
            CaptureAnalysis.model_version == version,
        )
    )
    if done is not None:
        return None
    result = model.segment(pixels)
    png = mask_png(result.mask)
    mask_sha, _ = blobs.put(png)
    register_blob(session, mask_sha, len(png), "image/png")
    scale = capture_scale(session, capture, pixels)
    markers = _marker_area(session, capture, pixels)
    element = session.get(Element, capture.element_id) if capture.element_id else None
    axis = element.axis_deg if element is not None else 0.0
    cracks = measure_segmentation(pixels, result, scale=scale, axis_deg=axis, exclude=markers)
    analysis = CaptureAnalysis(
        capture_id=capture.id,
        model_name=CRACK_MODEL,
        model_version=version,
        mask_sha256=mask_sha,
        summary={
            "threshold": result.threshold,
            "crack_pixels": int(np.count_nonzero(result.mask)),
            "crack_fraction": result.crack_fraction,
            "cracks": len(cracks),
            "excluded_marker_regions": len(result.instances) - len(cracks),
            "scale": None if scale is None else scale.to_dict(),
        },
    )
    session.add(analysis)
    session.flush()
    for instance, measured in cracks:
        session.add(
            Defect(
                organization_id=capture.organization_id,
                capture_id=capture.id,
                analysis_id=analysis.id,
                element_id=capture.element_id,
                kind="crack",
                confidence=instance.mean_confidence,
                model_version=version,
                geometry={
                    "bbox": list(instance.bbox),
                    "pixel_count": instance.pixel_count,
                    "polyline_px": instance.polyline.round(2).tolist(),
                    "skeleton_length_px": instance.skeleton_length_px,
                    "mask_sha256": mask_sha,
                },
                measurements=measured,
            )
        )
    return analysis


def render_overlay(
    pixels: np.ndarray, mask: np.ndarray, polylines: list[np.ndarray], *, quality: int = 90
) -> bytes:
    """JPEG of the image with the crack mask tinted and each crack's centreline drawn."""
    import cv2

    if mask.shape != pixels.shape[:2]:
        raise ValueError("mask and image sizes differ")
    stub = CrackSegmentation(
        probability=mask.astype(np.float32),
        mask=mask,
        instances=(),
        threshold=0.5,
        model_version="stored",
    )
    rgb = overlay(np.array(pixels), stub, draw_polylines=False)  # a writable copy
    thickness = max(1, round(max(mask.shape) / 1500))
    for line in polylines:
        if line.ndim == 2 and len(line) >= 2:
            points = line.round().astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(rgb, [points], False, (255, 230, 0), thickness, cv2.LINE_AA)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()
