"""On-terminal analysis of camera frames, through the server's own library path.

Cracks: the packaged ONNX model (:class:`infrasight.vision.cracks.CrackSegmenter`) and the
measurement shared with the server's capture analysis
(:func:`infrasight.services.crack_analysis.measure_segmentation`), so a frame analysed here gives
the cracks, lengths and widths the server would give. The result is the body of
``POST /api/v1/devices/captures``: each crack with its confidence, geometry (px of the frame),
millimetre measurements and a JPEG thumbnail, plus the original frame or a reduced preview.

Displacement: the target region of a camera configured as a displacement sensor is tracked with
:func:`infrasight.measure.tracking.track_displacement` against a reference frame (the first frame
the terminal took, kept on disk so that a restart measures from the same reference).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from PIL import Image

from infrasight.edge.cameras import Frame
from infrasight.edge.items import EdgeReading
from infrasight.edge.remote import CameraSource, DisplacementSettings

if TYPE_CHECKING:
    from infrasight.measure import Scale

__all__ = [
    "CaptureItem",
    "CrackAnalyser",
    "DisplacementTracker",
    "TargetLostError",
    "encode_jpeg",
    "frame_key",
    "frame_scale",
]

_LOGGER = logging.getLogger(__name__)
THUMBNAIL_PX = 256
THUMBNAIL_MARGIN_PX = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureItem:
    """A frame's analysis, ready to queue: its key, time (µs), crack count and request body."""

    key: str
    camera: str
    ts_us: int
    cracks: int
    body: bytes


def frame_key(camera: str, frame: Frame) -> str:
    """Idempotency key of a frame: the camera and a hash of its pixels (the same frame read
    again after a crash gets the same key, so the server stores it once)."""
    digest = hashlib.sha256(frame.encoded or frame.pixels.tobytes()).hexdigest()[:40]
    return f"{camera}:{digest}"


def encode_jpeg(pixels: np.ndarray, *, max_side: int | None = None, quality: int = 85) -> bytes:
    """RGB (or grey) pixels as JPEG, reduced so its longest side is at most ``max_side`` px."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if max_side is not None and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _thumbnail(pixels: np.ndarray, bbox: tuple[int, int, int, int]) -> bytes:
    x, y, w, h = bbox
    height, width = pixels.shape[:2]
    x0, y0 = max(0, x - THUMBNAIL_MARGIN_PX), max(0, y - THUMBNAIL_MARGIN_PX)
    x1 = min(width, x + w + THUMBNAIL_MARGIN_PX)
    y1 = min(height, y + h + THUMBNAIL_MARGIN_PX)
    return encode_jpeg(pixels[y0:y1, x0:x1], max_side=THUMBNAIL_PX)


def frame_scale(
    camera: CameraSource, pixels: np.ndarray
) -> tuple[Scale | None, np.ndarray | None, str | None]:
    """The frame's scale, the marker's area (not a crack) and why the marker gave no scale.

    With ``camera.marker``: the scale measured from the marker in this frame
    (:func:`infrasight.measure.calibrate_scale`, the server's ``marker`` calibration), else
    ``camera.mm_per_px`` (a user scale), else None (pixels only).
    """
    from infrasight.measure import MeasurementInputError, calibrate_scale
    from infrasight.measure import Scale as UserScale
    from infrasight.services.crack_analysis import marker_exclusion

    fallback = (
        None
        if camera.mm_per_px is None
        else UserScale(mm_per_px=camera.mm_per_px, relative_std=0.0, source="user")
    )
    marker = camera.marker
    if marker is None:
        return fallback, None, None
    exclude = marker_exclusion(pixels, marker.dictionary)
    try:
        calibration = calibrate_scale(
            pixels,
            marker_mm=marker.marker_mm,
            dictionary=marker.dictionary,
            marker_id=marker.marker_id,
        )
    except MeasurementInputError as err:
        _LOGGER.info("camera %s: no scale from the marker (%s)", camera.name, err)
        return fallback, exclude, str(err)
    return calibration.scale, exclude, None


class CrackAnalyser:
    """Segments and measures cracks in frames; loads the ONNX model on first use.

    Parameters
    ----------
    segmenter
        A :class:`~infrasight.vision.cracks.CrackSegmenter`; default the packaged model.
    original_max_bytes
        An original frame larger than this is replaced by its preview.
    bounded_memory
        Segment every frame in 512 px tiles with ONNX Runtime's arena shrunk after each (the
        model's path for large images): about a third of the memory for about 1.5 times the
        CPU time (a 1920x1080 frame on one core: 220 MB instead of 680 MB resident).
    """

    def __init__(
        self,
        segmenter: Any = None,
        *,
        original_max_bytes: int = 16 << 20,
        bounded_memory: bool = True,
    ) -> None:
        self._segmenter = segmenter
        self.original_max_bytes = original_max_bytes
        self.bounded_memory = bounded_memory

    @property
    def segmenter(self) -> Any:
        if self._segmenter is None:
            from infrasight.vision.cracks import CrackSegmenter

            if self.bounded_memory:
                self._segmenter = CrackSegmenter(threads=1, large_image_pixels=1, large_tile=512)
            else:
                self._segmenter = CrackSegmenter(threads=1)
        return self._segmenter

    def analyse(self, camera: CameraSource, frame: Frame) -> CaptureItem | None:
        """The capture to send for ``frame`` (None: no cracks and nothing asks for the frame)."""
        from infrasight.services.crack_analysis import measure_segmentation

        pixels = frame.pixels
        scale: Scale | None = None
        if camera.analysis == "cracks":
            segmentation = self.segmenter.segment(pixels)
            scale, exclude, marker_error = frame_scale(camera, pixels)
            cracks = measure_segmentation(
                pixels, segmentation, scale=scale, axis_deg=0.0, exclude=exclude
            )
            version = str(segmentation.model_version)
            summary: dict[str, Any] = {
                "threshold": segmentation.threshold,
                "crack_pixels": int(np.count_nonzero(segmentation.mask)),
                "crack_fraction": segmentation.crack_fraction,
                "scale": None if scale is None else scale.to_dict(),
            }
            if marker_error is not None:
                summary["marker_error"] = marker_error
        else:
            cracks, version, summary = [], "none", {}
        send_original = camera.send_original == "always" or (
            camera.send_original == "cracks" and bool(cracks)
        )
        if not cracks and camera.send_original != "always":
            return None
        original = frame.encoded if frame.encoded is not None else None
        if send_original and original is None:
            original = encode_jpeg(pixels, quality=95)
        if send_original and original is not None and len(original) <= self.original_max_bytes:
            image, image_kind = original, "original"
        else:
            image, image_kind = encode_jpeg(pixels, max_side=camera.preview_px), "preview"
        height, width = pixels.shape[:2]
        ts_us = round(frame.taken_at * 1_000_000)
        key = frame_key(camera.name, frame)
        defects = [
            {
                "kind": "crack",
                "confidence": float(instance.mean_confidence),
                "geometry": {
                    "bbox": [int(v) for v in instance.bbox],
                    "pixel_count": int(instance.pixel_count),
                    "polyline_px": instance.polyline.round(2).tolist(),
                    "skeleton_length_px": float(instance.skeleton_length_px),
                    "frame_px": [width, height],
                },
                "measurements": measured,
                "thumbnail": _b64(_thumbnail(pixels, instance.bbox)),
            }
            for instance, measured in cracks
        ]
        body: dict[str, Any] = {
            "key": key,
            "camera": camera.name,
            "time": datetime.fromtimestamp(frame.taken_at, UTC).isoformat(),
            "model_version": version,
            "summary": {**summary, "frame_px": [width, height], "label": frame.label},
            "image": _b64(image),
            "image_kind": image_kind,
            "defects": defects,
        }
        for name in ("asset_id", "element_id", "mm_per_px"):
            if getattr(camera, name) is not None:
                body[name] = getattr(camera, name)
        if scale is not None and scale.source == "marker":
            body["mm_per_px"] = scale.mm_per_px
        return CaptureItem(
            key=key,
            camera=camera.name,
            ts_us=ts_us,
            cracks=len(defects),
            body=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        )


class TargetLostError(Exception):
    """The target was not found reliably in the frame (low correlation, out of the frame)."""


class DisplacementTracker:
    """Tracks one camera's target against its reference frame (kept at ``reference_path``)."""

    def __init__(self, settings: DisplacementSettings, reference_path: Path) -> None:
        self.settings = settings
        self.reference_path = reference_path
        self._reference: np.ndarray | None = None

    def _load_reference(self, frame: Frame) -> np.ndarray | None:
        """The stored reference, or ``frame`` made the reference (None: it was just set)."""
        if self._reference is not None:
            return self._reference
        if self.reference_path.exists():
            self._reference = np.asarray(Image.open(self.reference_path).convert("L"))
            return self._reference
        grey = np.asarray(Image.fromarray(frame.pixels).convert("L"))
        self.reference_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.reference_path.with_suffix(".tmp.png")
        Image.fromarray(grey).save(partial, format="PNG")
        partial.replace(self.reference_path)
        self._reference = grey
        _LOGGER.info("displacement reference frame saved to %s", self.reference_path)
        return None

    def readings(self, frame: Frame) -> list[EdgeReading]:
        """Displacement readings (mm) of the frame; none for the reference frame itself.

        Raises
        ------
        TargetLostError
            When the target's correlation is below ``min_score`` or it left the frame.
        """
        from infrasight.measure import Scale
        from infrasight.measure.tracking import Region, track_displacement

        reference = self._load_reference(frame)
        ts_us = round(frame.taken_at * 1_000_000)
        if reference is None:
            return self._make(ts_us, 0.0, 0.0)
        s = self.settings
        grey = np.asarray(Image.fromarray(frame.pixels).convert("L"))
        result = track_displacement(
            reference,
            [grey],
            rois=[Region(x=s.roi[0], y=s.roi[1], w=s.roi[2], h=s.roi[3])],
            reference_regions=[Region(x=r[0], y=r[1], w=r[2], h=r[3]) for r in s.reference_regions],
            search_radius=s.search_radius_px,
            min_score=s.min_score,
            scale=Scale(mm_per_px=s.mm_per_px, relative_std=0.0, source="user"),
            labels=[frame.label],
        )
        if not bool(result.reliable[0, 0]):
            raise TargetLostError(
                f"target not found reliably ({result.reasons[0][0] or 'unreliable'}, "
                f"score {float(result.score[0, 0]):.2f})"
            )
        mm = result.displacement_mm()
        assert mm is not None  # a scale was given
        return self._make(ts_us, float(mm[0][0, 0]), float(mm[1][0, 0]))

    def _make(self, ts_us: int, dx_mm: float, dy_mm: float) -> list[EdgeReading]:
        out = []
        if self.settings.channel_dx is not None:
            out.append(
                EdgeReading(channel=self.settings.channel_dx, ts_us=ts_us, value=dx_mm, unit="mm")
            )
        if self.settings.channel_dy is not None:
            out.append(
                EdgeReading(channel=self.settings.channel_dy, ts_us=ts_us, value=dy_mm, unit="mm")
            )
        return out
