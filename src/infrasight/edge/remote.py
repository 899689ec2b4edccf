"""The part of a terminal's configuration that the server owns, pulled and applied live.

The server keeps it as the device's ``edge_config`` calibration record (versioned by record id,
history kept, audited); the agent polls ``GET /api/v1/devices/config`` and applies a new version
without restarting. A key left out keeps the value of the agent's local TOML file.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infrasight.core.errors import InvalidInputError

__all__ = ["CameraSource", "RemoteConfig", "Threshold", "parse_remote_config"]

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


class CameraSource(BaseModel):
    """One camera of the terminal.

    Attributes
    ----------
    name
        Label of the camera (used in logs, health and the captures it sends).
    source
        A folder of images (``/var/lib/cam1``), an RTSP URL (``rtsp://...``) or ``usb:N``.
    interval_s
        Seconds between two analysed frames.
    enabled
        False: configured but not captured.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1, max_length=1000)
    interval_s: float = Field(default=10.0, gt=0, le=86400)
    enabled: bool = True


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
