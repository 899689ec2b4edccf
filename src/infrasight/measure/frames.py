"""Frame sources for displacement tracking: image files, video files and RTSP/HTTP streams."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.measure.errors import MeasurementInputError

__all__ = ["VIDEO_SUFFIXES", "iter_frames", "read_image"]

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm"})
_STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://")


def read_image(path: str | Path) -> NDArray[np.uint8] | NDArray[np.uint16]:
    """Read an image file as ``(H, W)`` grey, uint8 or uint16 (16-bit depth is kept: DIC
    images often carry it; other types are scaled to 8 bits).

    Raises
    ------
    MeasurementInputError
        The file does not exist or is not an image OpenCV can read.
    """
    p = Path(path)
    if not p.is_file():
        raise MeasurementInputError(f"image file not found: {p}", field="image")
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise MeasurementInputError(f"not a readable image: {p}", field="image")
    if img.ndim == 3:
        img = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2GRAY)
    if img.dtype == np.uint16:
        return np.asarray(img, np.uint16)
    if img.dtype != np.uint8:
        lo, hi = float(img.min()), float(img.max())
        img = ((img - lo) / (hi - lo or 1.0) * 255).round().astype(np.uint8)
    return np.asarray(img, np.uint8)


def _iter_capture(source: str, max_frames: int | None) -> Iterator[tuple[str, NDArray[np.uint8]]]:
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise MeasurementInputError(f"cannot open video or stream: {source}", field="source")
    try:
        k = 0
        while max_frames is None or k < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            yield f"{source}#{k}", np.asarray(grey, np.uint8)
            k += 1
    finally:
        cap.release()


def iter_frames(
    sources: Sequence[str | Path], *, max_frames: int | None = None
) -> Iterator[tuple[str, NDArray[np.uint8] | NDArray[np.uint16]]]:
    """Yield ``(label, grey frame)`` from image files, video files and stream URLs, in order.

    Parameters
    ----------
    sources : sequence of str or Path
        Image paths, video paths (``.mp4``, ``.avi``...) or ``rtsp://`` / ``http(s)://`` URLs.
    max_frames : int, optional
        Stop each video/stream after this many frames (a live stream never ends).

    Yields
    ------
    tuple
        ``(label, frame)``: the file name (``name#k`` for video frames) and the ``(H, W)``
        grey frame (uint8, or uint16 for 16-bit image files).
    """
    for src in sources:
        text = str(src)
        if text.lower().startswith(_STREAM_PREFIXES):
            yield from _iter_capture(text, max_frames)
        elif Path(text).suffix.lower() in VIDEO_SUFFIXES:
            if not Path(text).is_file():
                raise MeasurementInputError(f"video file not found: {text}", field="source")
            yield from _iter_capture(text, max_frames)
        else:
            yield text, read_image(text)
