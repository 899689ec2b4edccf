"""Small image helpers shared by the measurement modules (validation and grey conversion)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.measure.errors import MeasurementInputError

__all__ = ["as_grey_float", "as_grey_u8"]


def _check(image: NDArray[np.generic], name: str) -> None:
    if not isinstance(image, np.ndarray):
        raise MeasurementInputError(
            f"expected a numpy array, got {type(image).__name__}", field=name
        )
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise MeasurementInputError(
            f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}", field=name
        )
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise MeasurementInputError(f"image is too small: {image.shape[:2]}", field=name)
    if image.size == 0 or not np.issubdtype(image.dtype, np.number):
        raise MeasurementInputError(f"image must be numeric, got {image.dtype}", field=name)


def as_grey_float(image: NDArray[np.generic], *, name: str = "image") -> NDArray[np.float32]:
    """``(H, W)`` float32 luminance of a grey or RGB image (grey levels as given)."""
    _check(image, name)
    img = np.asarray(image)
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[:, :, 0]
        else:
            img = cv2.cvtColor(img[:, :, :3].astype(np.float32), cv2.COLOR_RGB2GRAY)
    out = img.astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise MeasurementInputError("image contains NaN or infinite values", field=name)
    return out


def as_grey_u8(image: NDArray[np.generic], *, name: str = "image") -> NDArray[np.uint8]:
    """``(H, W)`` uint8 luminance (16-bit input is scaled, float input clipped to 0-255)."""
    grey = as_grey_float(image, name=name)
    if np.asarray(image).dtype == np.uint16:
        grey = grey / 257.0
    return np.clip(np.round(grey), 0, 255).astype(np.uint8)
