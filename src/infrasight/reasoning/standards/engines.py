"""The rating engines a standard's data file can name as its ``method``.

Each engine validates a file's data and rates a set of elements with it. The rules and numbers
live in the files; the engines only know the shape of a method (condition states by defect,
component ratings translated from condition states, weighted deductions, graded indicators).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infrasight.reasoning.standards import component_rating, condition_states, deduction, graded
from infrasight.reasoning.standards.types import AssetCondition, ElementObservation

if TYPE_CHECKING:
    from infrasight.reasoning.standards.loader import Standard, StandardRegistry

__all__ = ["METHODS", "Method"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Method:
    """A rating engine: how to validate a file of this method and how to rate with it."""

    validate: Callable[[Mapping[str, Any], str], None]
    rate: Callable[[Standard, Sequence[ElementObservation], StandardRegistry], AssetCondition]


METHODS: Mapping[str, Method] = {
    "condition_states": Method(validate=condition_states.validate, rate=condition_states.rate),
    "component_rating": Method(validate=component_rating.validate, rate=component_rating.rate),
    "weighted_deduction": Method(validate=deduction.validate, rate=deduction.rate),
    "graded": Method(validate=graded.validate, rate=graded.rate),
}
