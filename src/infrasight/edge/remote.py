"""The part of a terminal's configuration that the server owns, pulled and applied live.

The server keeps it as the device's ``edge_config`` calibration record (versioned by record id,
history kept, audited); the agent polls ``GET /api/v1/devices/config`` and applies a new version
without restarting. A key left out keeps the value of the agent's local TOML file.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infrasight.core.errors import InvalidInputError

__all__ = [
    "CameraSource",
    "DisplacementSettings",
    "MarkerSettings",
    "RemoteConfig",
    "Threshold",
    "parse_remote_config",
]

#: Calibration kind under which the server stores a device's remote configuration.
EDGE_CONFIG_KIND = "edge_config"


class Threshold(BaseModel):
    """A reading below ``low`` or above ``high`` (channel unit) is queued as an alarm reading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Threshold:
        values = [v for v in (self.low, self.high) if v is not None]
        if not values:
            raise ValueError("needs low or high")
        if not all(math.isfinite(v) for v in values):
            raise ValueError("low and high must be finite")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError("low must be below high")
        return self

    def breached(self, value: float) -> bool:
        """Whether ``value`` lies outside the band."""
        return (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        )


class MarkerSettings(BaseModel):
    """An ArUco marker of known size in the camera's view: the scale of each frame.

    The server's ``marker`` calibration (:func:`infrasight.measure.calibrate_scale`), measured
    on the terminal in every frame, so a camera that moves or zooms keeps its millimetres.

    Attributes
    ----------
    marker_mm
        Printed side length of the marker's black square, mm.
    dictionary
        OpenCV dictionary name, e.g. ``DICT_4X4_50``.
    marker_id
        Use this marker (default: the largest one found).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    marker_mm: float = Field(gt=0, le=10_000)
    dictionary: str = Field(default="DICT_4X4_50", pattern=r"^DICT_[A-Z0-9_]{2,40}$")
    marker_id: int | None = Field(default=None, ge=0, le=100_000)


class DisplacementSettings(BaseModel):
    """A camera used as a displacement sensor: a target tracked against a reference frame.

    Attributes
    ----------
    roi
        The target's region ``[x, y, w, h]`` in the reference frame, px.
    mm_per_px
        Scale on the target's plane, mm per px.
    channel_dx, channel_dy
        Channels (keys) that receive the horizontal / vertical displacement, mm; at least one.
    reference_regions
        Regions on something fixed (``[[x, y, w, h], ...]``) whose motion, camera shake, is
        removed.
    search_radius_px
        Largest move between the reference frame and a frame that is still found, px.
    min_score
        Correlation (0-1) below which the target counts as lost and no reading is sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    roi: tuple[int, int, int, int]
    mm_per_px: float = Field(gt=0)
    channel_dx: str | None = Field(default=None, min_length=1, max_length=200)
    channel_dy: str | None = Field(default=None, min_length=1, max_length=200)
    reference_regions: list[tuple[int, int, int, int]] = Field(default_factory=list)
    search_radius_px: int = Field(default=32, ge=1, le=500)
    min_score: float = Field(default=0.8, ge=0, le=1)

    @model_validator(mode="after")
    def _channels(self) -> DisplacementSettings:
        if self.channel_dx is None and self.channel_dy is None:
            raise ValueError("needs channel_dx or channel_dy")
        for region in (self.roi, *self.reference_regions):
            if region[0] < 0 or region[1] < 0 or region[2] < 5 or region[3] < 5:
                raise ValueError(f"region {list(region)} must be inside the frame and >= 5x5 px")
        return self


class CameraSource(BaseModel):
    """One camera of the terminal.

    Attributes
    ----------
    name
        Label of the camera (used in logs, health and the captures it sends).
    source
        A folder of images (``/var/lib/cam1``), an RTSP URL (``rtsp://...``), ``usb:N`` or a
        video file.
    interval_s
        Seconds between two analysed frames (a folder is scanned this often).
    enabled
        False: configured but not captured.
    analysis
        ``cracks`` (segment and measure cracks on the terminal), ``displacement`` (track the
        target of ``displacement``) or ``none`` (send frames unanalysed, with ``send_original``
        ``always``).
    asset_id, element_id
        Where the camera looks (default asset: the device's).
    mm_per_px
        Scale of the surface for crack measurements in mm (None: pixels only); with
        ``marker``, the scale of frames where the marker is not found.
    marker
        A marker of known size in view: each frame's scale measured from it (and its area not
        taken for a crack).
    send_original
        When the original frame goes with the defects: ``always``, ``cracks`` (only when cracks
        are found) or ``never`` (a reduced preview instead). A frame without cracks is sent
        only with ``always``.
    preview_px
        Longest side of the preview sent instead of the original, px.
    displacement
        The target, when ``analysis`` is ``displacement``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    source: str = Field(min_length=1, max_length=1000)
    interval_s: float = Field(default=10.0, gt=0, le=86400)
    enabled: bool = True
    analysis: Literal["cracks", "displacement", "none"] = "cracks"
    asset_id: int | None = Field(default=None, ge=1)
    element_id: int | None = Field(default=None, ge=1)
    mm_per_px: float | None = Field(default=None, gt=0)
    marker: MarkerSettings | None = None
    send_original: Literal["always", "cracks", "never"] = "cracks"
    preview_px: int = Field(default=640, ge=64, le=8192)
    displacement: DisplacementSettings | None = None

    @model_validator(mode="after")
    def _displacement(self) -> CameraSource:
        if self.analysis == "displacement" and self.displacement is None:
            raise ValueError("analysis 'displacement' needs a displacement section")
        return self


class RemoteConfig(BaseModel):
    """Settings the server may set on a terminal (all optional; None keeps the local value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poll_s: float | None = Field(default=None, gt=0, le=3600)
    heartbeat_s: float | None = Field(default=None, gt=0, le=86400)
    batch_size: int | None = Field(default=None, ge=1, le=100_000)
    live_window_s: float | None = Field(default=None, ge=0, le=86400)
    max_items: int | None = Field(default=None, ge=1)
    max_age_s: float | None = Field(default=None, gt=0)
    max_bytes: int | None = Field(default=None, ge=65536)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    cameras: list[CameraSource] = Field(default_factory=list)

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[CameraSource]) -> list[CameraSource]:
        names = [camera.name for camera in cameras]
        if len(names) != len(set(names)):
            raise ValueError("camera names must be unique")
        return cameras

    def local_overrides(self) -> dict[str, Any]:
        """The scalar settings this configuration sets (what replaces the local file's values)."""
        keys = (
            "poll_s",
            "heartbeat_s",
            "batch_size",
            "live_window_s",
            "max_items",
            "max_age_s",
            "max_bytes",
        )
        return {key: getattr(self, key) for key in keys if getattr(self, key) is not None}


def parse_remote_config(document: object, *, field: str = "parameters") -> RemoteConfig:
    """Validate a remote configuration document.

    Raises
    ------
    InvalidInputError
        Naming the bad key (prefixed by ``field``) and the problem.
    """
    try:
        return RemoteConfig.model_validate(document)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join([field, *(str(part) for part in first["loc"])])
        raise InvalidInputError(first["msg"], field=key) from err
