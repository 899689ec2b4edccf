"""Frame sources of a terminal's cameras: a watched folder of images, or an OpenCV capture
(RTSP URL, ``usb:N`` or a video file) read one frame per interval; and each camera's status.

OpenCV is imported only when a camera is configured, so a terminal without cameras keeps the
light agent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = [
    "IMAGE_SUFFIXES",
    "CameraStatus",
    "FolderSource",
    "Frame",
    "FrameSource",
    "VideoSource",
    "open_source",
]

_LOGGER = logging.getLogger(__name__)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})
#: A camera that gave no frame for this many intervals is reported as "no_frames".
SILENT_INTERVALS = 3


class SourceError(Exception):
    """The source cannot be read now (folder missing, stream not opened, unreadable file)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One frame: RGB pixels, the terminal's time it was taken (epoch s), its label, and the
    encoded file as the camera wrote it (folder sources) or None (streams)."""

    pixels: np.ndarray
    taken_at: float
    label: str
    encoded: bytes | None = None
    path: Path | None = None


class FrameSource(Protocol):
    def grab(self) -> list[Frame]:
        """The frames available now (raises :class:`SourceError`)."""
        ...

    def done(self, frame: Frame) -> None:
        """The frame is queued: never give it again."""
        ...

    def close(self) -> None: ...


def _decode(data: bytes) -> np.ndarray | None:
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return np.ascontiguousarray(bgr[..., ::-1])


class FolderSource:
    """Images dropped into a folder (by the camera's FTP or SMB upload): each settled file once,
    oldest first; a processed file moves to ``done/``, an unreadable one to ``rejected/``."""

    def __init__(self, folder: Path, *, settle_s: float = 1.0, limit: int = 20) -> None:
        self.folder = folder
        self.settle_s = settle_s
        self.limit = limit

    def grab(self) -> list[Frame]:
        if not self.folder.is_dir():
            raise SourceError(f"folder {self.folder} does not exist")
        now = time.time()
        frames: list[Frame] = []
        candidates = [p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        for path in sorted(candidates, key=lambda p: (p.stat().st_mtime, p.name)):
            if len(frames) >= self.limit:
                break
            stat = path.stat()
            if now - stat.st_mtime < self.settle_s:
                continue  # still being written
            data = path.read_bytes()
            pixels = _decode(data)
            if pixels is None:
                self._set_aside(path, "rejected")
                _LOGGER.warning("camera image %s is not a readable image; set aside", path)
                continue
            frames.append(
                Frame(
                    pixels=pixels, taken_at=stat.st_mtime, label=path.name, encoded=data, path=path
                )
            )
        return frames

    @staticmethod
    def _set_aside(path: Path, where: str) -> None:
        target = path.parent / where
        target.mkdir(exist_ok=True)
        path.replace(target / path.name)

    def done(self, frame: Frame) -> None:
        if frame.path is not None and frame.path.exists():
            self._set_aside(frame.path, "done")

    def close(self) -> None:
        return None


class VideoSource:
    """An OpenCV ``VideoCapture`` (RTSP/HTTP URL, ``usb:N`` or a video file): one frame a grab.

    A stream that fails is released and reopened at the next grab; a video file that ended
    gives no more frames.
    """

    def __init__(self, source: str, *, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self._clock = clock
        self._capture: Any = None
        self._count = 0
        self._is_file = "://" not in source and not source.startswith("usb:")
        self._ended = False

    def _open(self) -> Any:
        import cv2

        target: str | int = self.source
        if self.source.startswith("usb:"):
            target = int(self.source.removeprefix("usb:"))
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self.source}")
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # live streams: the newest frame, not a backlog
        return capture

    def grab(self) -> list[Frame]:
        if self._ended:
            return []
        if self._capture is None:
            self._capture = self._open()
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            self.close()
            self._ended = self._is_file
            return []
        self._count += 1
        pixels = np.ascontiguousarray(bgr[..., ::-1]) if bgr.ndim == 3 else bgr
        return [Frame(pixels=pixels, taken_at=self._clock(), label=f"frame-{self._count}")]

    def done(self, frame: Frame) -> None:
        return None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def open_source(source: str, *, settle_s: float = 1.0) -> FrameSource:
    """A folder of images, or an OpenCV capture for a URL, ``usb:N`` or an existing file."""
    if source.startswith("usb:") or "://" in source or Path(source).is_file():
        return VideoSource(source)
    return FolderSource(Path(source), settle_s=settle_s)


@dataclass(slots=True, kw_only=True)
class CameraStatus:
    """What heartbeats say about one camera: ``ok``, ``no_frames`` or ``error``."""

    started_at: float
    interval_s: float
    frames: int = 0
    analysed: int = 0
    last_frame_at: float | None = None
    error: str | None = None
    last_cracks: int | None = None
    analysis_errors: int = 0
    analysis_error: str | None = None

    def state(self, now: float) -> str:
        if self.error is not None:
            return "error"
        since = self.last_frame_at if self.last_frame_at is not None else self.started_at
        if now - since > SILENT_INTERVALS * self.interval_s:
            return "no_frames"
        return "ok"

    def to_dict(self, now: float) -> dict[str, object]:
        return {
            "state": self.state(now),
            "frames": self.frames,
            "analysed": self.analysed,
            "last_frame_age_s": None
            if self.last_frame_at is None
            else round(max(0.0, now - self.last_frame_at), 3),
            "error": self.error,
            "last_cracks": self.last_cracks,
            "analysis_errors": self.analysis_errors,
            "analysis_error": self.analysis_error,
        }
