"""Errors raised by the vision library (all are :class:`ValueError` subclasses)."""

from __future__ import annotations

from infrasight.core.errors import InfraSightError, InvalidInputError, PayloadTooLargeError

__all__ = ["ImageDecodeError", "ImageTooLargeError", "ModelLoadError", "VisionInputError"]


class VisionInputError(InvalidInputError):
    """An image or mask is unusable (shape, dtype, size, values); the message says why."""


class ImageDecodeError(VisionInputError):
    """A file is missing, empty, corrupt or truncated, or is not an image format we read."""


class ImageTooLargeError(VisionInputError, PayloadTooLargeError):
    """An image has more pixels than the configured limit."""


class ModelLoadError(InfraSightError, RuntimeError):
    """The packaged model or its metadata cannot be loaded (a broken installation)."""
