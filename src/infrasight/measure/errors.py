"""Errors raised by the measurement code (all are bad-input errors: fix the input, retry)."""

from __future__ import annotations

from infrasight.core.errors import InvalidInputError

__all__ = [
    "CalibrationError",
    "FrameSizeMismatchError",
    "MarkerNotFoundError",
    "MeasurementInputError",
    "RegionOutOfFrameError",
]


class MeasurementInputError(InvalidInputError):
    """An image, mask, region or parameter cannot be measured as given."""


class MarkerNotFoundError(MeasurementInputError):
    """No usable marker of the requested dictionary/id/size was found in the image."""


class CalibrationError(MeasurementInputError):
    """Camera calibration cannot be computed from the given views (too few corners or views)."""


class FrameSizeMismatchError(MeasurementInputError):
    """A frame of a sequence does not have the reference frame's size."""


class RegionOutOfFrameError(MeasurementInputError):
    """A requested region does not lie inside the reference frame."""
