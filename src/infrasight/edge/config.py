"""The agent's configuration file (TOML), validated at start."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from infrasight.core.errors import InvalidInputError
from infrasight.edge.remote import CameraSource

__all__ = ["EdgeConfig", "load_config"]


class EdgeConfig(BaseModel):
    """Everything the agent needs; see docs/field.md for an example file.

    Attributes
    ----------
    server_url
        Base URL of the InfraSight server, e.g. ``https://infrasight.example.org``.
    token
        The device's ingest token (``isd_...``).
    queue_path
        The SQLite queue file; put it on persistent storage.
    max_items
        Most items held; beyond it the oldest routine readings are dropped first.
    max_age_s
        Routine readings older than this (seconds in the queue) are dropped.
    max_bytes
        Most bytes of the queue file (None: up to the disk); when reached, or when the disk is
        full, the oldest routine readings are dropped first, alarm readings last.
    watch_dir
        Folder of datalogger CSV files (``channel,time,value[,unit]``); None: no folder input.
    listen_port
        Port of the local HTTP endpoint on ``listen_host`` (0: any free port; None: off).
    batch_size
        Most readings per upstream request.
    live_window_s
        Items queued in the last ``live_window_s`` seconds are live: sent before backfill.
    heartbeat_s
        Seconds between heartbeats.
    config_poll_s
        Seconds between two pulls of the configuration the server holds for this device.
    cameras
        The terminal's cameras (a watched folder of images, RTSP, USB); the server's
        configuration replaces this list when it sets one.
    send_original_max_bytes
        An original frame larger than this is replaced by its preview.
    crack_bounded_memory
        Segment frames in 512 px tiles, releasing ONNX Runtime's memory after each: about a
        third of the memory for about 1.5 times the CPU (False: the server's faster path).
    transport
        ``http`` (readings POSTed to the ingest API) or ``mqtt`` (readings published QoS 1 to
        ``mqtt_topic``/readings and acknowledged by the server on ``mqtt_topic``/ack; captures
        the same way on ``mqtt_topic``/captures); heartbeats and configuration use HTTP.
    mqtt_url
        The broker, ``mqtt://[user:password@]host[:port]``, with ``transport = "mqtt"``.
    mqtt_topic
        ``infrasight/<organization id>/<device id>``, with ``transport = "mqtt"``.
    mqtt_max_capture_bytes
        Largest capture (JSON body, image base64) published over MQTT to
        ``mqtt_topic``/captures; a larger one is sent over HTTP. Keep it within the broker's
        message size limit.
    backoff_min_s, backoff_max_s
        Bounds of the exponential back-off (with jitter) after a failed send, in seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    server_url: str = Field(min_length=1)
    token: str = Field(min_length=1)
    queue_path: Path = Path("edge-queue.db")
    max_items: int = Field(default=5_000_000, ge=1)
    max_age_s: float = Field(default=90 * 86400.0, gt=0)
    max_bytes: int | None = Field(default=None, ge=65536)
    watch_dir: Path | None = None
    poll_s: float = Field(default=1.0, gt=0)
    listen_host: str = "127.0.0.1"
    listen_port: int | None = Field(default=8787, ge=0, le=65535)
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    live_window_s: float = Field(default=10.0, ge=0)
    heartbeat_s: float = Field(default=60.0, gt=0)
    config_poll_s: float = Field(default=60.0, gt=0)
    backoff_min_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    cameras: list[CameraSource] = Field(default_factory=list)
    send_original_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    crack_bounded_memory: bool = True
    transport: Literal["http", "mqtt"] = "http"
    mqtt_url: str | None = Field(default=None, pattern=r"^mqtts?://")
    mqtt_topic: str | None = Field(default=None, pattern=r"^infrasight/[0-9]{1,18}/[0-9]{1,18}$")
    mqtt_max_capture_bytes: int = Field(default=256 * 1024, ge=1024)

    @model_validator(mode="after")
    def _mqtt(self) -> EdgeConfig:
        if self.transport == "mqtt" and (self.mqtt_url is None or self.mqtt_topic is None):
            raise ValueError('transport "mqtt" needs mqtt_url and mqtt_topic')
        return self

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[CameraSource]) -> list[CameraSource]:
        names = [camera.name for camera in cameras]
        if len(names) != len(set(names)):
            raise ValueError("camera names must be unique")
        return cameras


def load_config(path: Path) -> EdgeConfig:
    """Read and validate a TOML configuration file.

    Raises
    ------
    InvalidInputError
        Naming the file and the bad key.
    """
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise InvalidInputError(f"cannot read {path}: {err}", field="config") from err
    try:
        return EdgeConfig.model_validate(document)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(f"{path}: {first['msg']}", field=key) from err
