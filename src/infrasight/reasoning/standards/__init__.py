"""Condition standards as data: AASHTO MBEI condition states, NBI component ratings,
JTG/T H21-2011 technical condition evaluation and a configurable tunnel lining grading.

Each ``*.toml`` in this folder is a standard; :func:`rate_condition` rates elements with one.
"""

from __future__ import annotations

from collections.abc import Sequence

from infrasight.reasoning.standards.loader import Standard, StandardRegistry, load_standards
from infrasight.reasoning.standards.types import (
    AssetCondition,
    ConditionRating,
    DefectObservation,
    ElementObservation,
)

__all__ = [
    "AssetCondition",
    "ConditionRating",
    "DefectObservation",
    "ElementObservation",
    "Standard",
    "StandardRegistry",
    "load_standards",
    "rate_condition",
]


def rate_condition(
    registry: StandardRegistry, standard: str, elements: Sequence[ElementObservation]
) -> AssetCondition:
    """Rate ``elements`` under the standard with id ``standard``.

    Raises
    ------
    UnknownStandardError
        No loaded standard has that id.
    MissingElementDataError
        An element or defect lacks a value the standard needs (named in the error).
    OutOfRangeError
        A value is outside its range.
    """
    from infrasight.reasoning.standards.engines import METHODS

    std = registry.get(standard)
    return METHODS[std.method].rate(std, elements, registry)
