"""Image and mask files in, validated arrays out (OpenCV decoding with clear errors).

:func:`load_image` returns the file's own pixel values (8- or 16-bit, grey, RGB or RGBA, in RGB
channel order); :func:`to_rgb8` turns any supported array into 8-bit RGB; :func:`load_mask` reads
binary ground-truth masks stored as 0/255, 0/1, 1-bit or RGB.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from infrasight.vision.errors import ImageDecodeError, ImageTooLargeError, VisionInputError

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "check_image",
    "load_image",
    "load_mask",
    "to_rgb8",
    "value_scale",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
MAX_PIXELS = 150_000_000
"""Largest image accepted, in pixels (150 MP, e.g. 15000 x 10000)."""
MIN_SIDE = 16
"""Smallest accepted image side, in pixels."""


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageDecodeError(f"{path}: is a directory, not an image file") from None
    except OSError as err:
        raise ImageDecodeError(f"{path}: cannot read ({err.strerror})") from err
    if not data:
        raise ImageDecodeError(f"{path}: file is empty")
    return data


def _check_complete(path: Path, data: bytes) -> None:
    """Reject truncated JPEG and PNG files, which OpenCV would decode with grey fill."""
    if data[:2] == b"\xff\xd8":
        if b"\xff\xd9" not in data[-64:].rstrip(b"\x00"):
            raise ImageDecodeError(f"{path}: truncated JPEG (no end-of-image marker)")
    elif data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-32:]:
        raise ImageDecodeError(f"{path}: truncated PNG (no IEND chunk)")


def _check_header_size(path: Path, data: bytes) -> None:
    """Reject over-large images from their header, before any pixel buffer is allocated."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
    except Image.DecompressionBombError:
        w, h = MAX_PIXELS + 1, 1
    except (UnidentifiedImageError, OSError, ValueError):
        return  # not a format Pillow knows: OpenCV decides below
    if w * h > MAX_PIXELS:
        raise ImageTooLargeError(
            f"{path}: image has more than {MAX_PIXELS / 1e6:.0f} MP ({w}x{h} px in its header)"
            if h > 1
            else f"{path}: image has more than {MAX_PIXELS / 1e6:.0f} MP"
        )


def check_image(image: NDArray[np.generic], *, name: str = "image") -> None:
    """Validate an image array's shape, size and dtype; raise :class:`VisionInputError`.

    Accepted: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` arrays of ``uint8``,
    ``uint16`` or floating point (values in [0, 1]), with both sides >= 16 px and at most
    :data:`MAX_PIXELS` pixels.
    """
    if not isinstance(image, np.ndarray):
        raise VisionInputError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise VisionInputError(
            f"{name} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {image.shape}"
        )
    h, w = image.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise VisionInputError(f"{name} is too small: {w}x{h} px; both sides must be >= {MIN_SIDE}")
    if h * w > MAX_PIXELS:
        raise ImageTooLargeError(
            f"{name} has {w}x{h} = {h * w / 1e6:.0f} MP; the limit is {MAX_PIXELS / 1e6:.0f} MP"
        )
    if image.dtype not in (np.uint8, np.uint16) and not np.issubdtype(image.dtype, np.floating):
        raise VisionInputError(f"{name} dtype must be uint8, uint16 or float; got {image.dtype}")


def value_scale(image: NDArray[np.generic]) -> float:
    """Full-scale value of an image: 255 (uint8), 4095 or 65535 (uint16), 1.0 (float).

    16-bit images whose maximum is <= 4095 are treated as 12-bit sensor data. Float images must
    be finite and lie in [0, 1]. Reads the whole image once without copying it.
    """
    check_image(image)
    if image.dtype == np.uint8:
        return 255.0
    if image.dtype == np.uint16:
        return 4095.0 if int(image.max()) <= 4095 else 65535.0
    lo, hi = float(image.min()), float(image.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise VisionInputError("image contains NaN or infinite values")
    if lo < 0.0 or hi > 1.0:
        raise VisionInputError(f"float images must have values in [0, 1]; got [{lo:g}, {hi:g}]")
    return 1.0


def to_rgb8(image: NDArray[np.generic], *, full_scale: float | None = None) -> NDArray[np.uint8]:
    """Convert a grey/RGB/RGBA, 8-bit/16-bit/float image to contiguous 8-bit RGB ``(H, W, 3)``.

    ``full_scale`` is the input value that maps to 255 (default :func:`value_scale`; pass it when
    converting tiles of one image so that all tiles are scaled alike). The alpha channel is dropped.
    An input that is already contiguous 8-bit RGB is returned as is (not copied).
    """
    if full_scale is None:
        full_scale = value_scale(image)
    img = image[:, :, None] if image.ndim == 2 else image
    if img.shape[2] == 4:
        img = img[:, :, :3]
    if img.dtype != np.uint8 or full_scale != 255.0:
        f = img.astype(np.float32) * np.float32(255.0 / full_scale) + np.float32(0.5)
        img = np.clip(f, 0, 255).astype(np.uint8)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img, dtype=np.uint8)


def load_image(path: str | Path) -> NDArray[np.uint8] | NDArray[np.uint16]:
    """Read an image file keeping its bit depth: ``(H, W)``, ``(H, W, 3)`` RGB or ``(H, W, 4)``.

    Colour files come back in RGB (RGBA) channel order.

    Raises
    ------
    ImageDecodeError
        Missing, empty, truncated, corrupt or unsupported file.
    ImageTooLargeError, VisionInputError
        Decoded image outside the accepted sizes (see :func:`check_image`).
    """
    p = Path(path)
    data = _read_bytes(p)
    _check_complete(p, data)
    _check_header_size(p, data)
    buf = np.frombuffer(data, np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageDecodeError(f"{p}: not a readable image (corrupt or unsupported format)")
    if img.ndim == 3 and img.shape[2] == 3:
        img = img[:, :, ::-1]
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, [2, 1, 0, 3]]
    if img.dtype not in (np.uint8, np.uint16):
        raise ImageDecodeError(f"{p}: unsupported pixel type {img.dtype}")
    check_image(img, name=str(p))
    if img.dtype == np.uint16:
        return np.ascontiguousarray(img, dtype=np.uint16)
    return np.ascontiguousarray(img, dtype=np.uint8)


def load_mask(path: str | Path) -> NDArray[np.bool_]:
    """Read a binary mask stored as 0/255, 0/1, 1-bit or RGB (any non-background channel).

    A pixel is crack when its grey value is above half of the file's range: > 127 for 8-bit
    0/255 masks, and 1 for masks whose maximum is 1 (0/1 masks).
    """
    p = Path(path)
    data = _read_bytes(p)
    _check_complete(p, data)
    _check_header_size(p, data)
    m = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if m is None:
        raise ImageDecodeError(f"{p}: not a readable mask image")
    if m.ndim == 3:
        m = m[:, :, :3].max(axis=2)
    mx = int(m.max())
    if mx <= 1:
        return m.astype(bool)
    half = 32767 if m.dtype == np.uint16 else 127
    return np.asarray(m > half)
