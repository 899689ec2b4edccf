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

__all__ = ["CRACK_MODEL", "analyse_cracks", "mask_png", "render_overlay"]

CRACK_MODEL = "crack-segmentation"
_MARGIN_PX = 12


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


def _measure(
    instance: CrackInstance, pixels: np.ndarray, scale: Scale | None, axis_deg: float
) -> dict[str, Any]:
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
        )
    except MeasurementInputError as err:
        return {"error": str(err)}
    measured = result.to_dict()
    mx, my = result.width_max_location_px
    measured["width_max_location_px"] = [mx + x0, my + y0]
    measured["scale"] = None if scale is None else scale.to_dict()
    return measured


def _marker_area(session: Session, capture: Capture, pixels: np.ndarray) -> np.ndarray | None:
    """Pixels covered by the camera's scale markers (with a margin), which are not cracks."""
    import cv2

    if capture.device_id is None:
        return None
    record = latest_calibration(session, capture.device_id, MARKER, capture)
    if record is None:
        return None
    markers = detect_markers(
        pixels, dictionary=str(record.parameters.get("dictionary", "DICT_4X4_50"))
    )
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
    cracks = [instance for instance in result.instances if not _inside(instance, markers)]
    element = session.get(Element, capture.element_id) if capture.element_id else None
    axis = element.axis_deg if element is not None else 0.0
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
    for instance in cracks:
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
                measurements=_measure(instance, pixels, scale, axis),
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
