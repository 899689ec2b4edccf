"""Exception hierarchy of the signal analytics.

Every error is a :class:`ValueError` subclass so that callers that only know the standard library
still catch it; the subclasses tell the caller what to do.
"""

from __future__ import annotations

__all__ = [
    "InputDataError",
    "LifecycleError",
    "NotEnoughDataError",
    "RuleDefinitionError",
    "SignalsError",
]


class SignalsError(ValueError):
    """Base class of every error raised by :mod:`infrasight.signals`."""


class InputDataError(SignalsError):
    """The input arrays are malformed (shape, NaN, duplicated or out-of-order timestamps)."""


class NotEnoughDataError(SignalsError):
    """The input is valid but too short (or too constant) for the requested analysis."""


class RuleDefinitionError(SignalsError):
    """An alarm rule definition is inconsistent (missing limit, unknown field, bad order)."""


class LifecycleError(SignalsError):
    """An alarm lifecycle transition is not allowed from the alarm's current status."""
