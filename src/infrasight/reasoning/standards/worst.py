"""The asset summary shared by the element-wise engines: the worst element's rating."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from infrasight.core.errors import InvalidInputError
from infrasight.core.phrases import N_, Phrase, phrase
from infrasight.reasoning.evidence import Evidence, EvidenceKind
from infrasight.reasoning.standards.types import AssetCondition, ConditionRating, ElementObservation

if TYPE_CHECKING:
    from infrasight.reasoning.standards.loader import Standard

__all__ = ["rate_by_worst_element"]


def rate_by_worst_element(
    std: Standard,
    elements: Sequence[ElementObservation],
    rate_one: Callable[[Standard, ElementObservation], ConditionRating],
    *,
    clause: Phrase,
    detail: Callable[[ConditionRating], Phrase],
) -> AssetCondition:
    """Rate every element with ``rate_one``; the asset summary is the worst element's rating,
    citing ``clause`` and that element (``detail`` describes it), both as phrases."""
    if not elements:
        raise InvalidInputError(field="elements", phrase=phrase("no elements to rate"))
    rated = tuple(rate_one(std, el) for el in elements)
    worst = max(rated, key=lambda r: r.rating)
    summary = ConditionRating(
        standard=std.id,
        subject="asset",
        rating=worst.rating,
        label=worst.label,
        clause=clause.english(),
        evidence=(
            Evidence(
                kind=EvidenceKind.RATING,
                ref=worst.subject,
                test=N_("worst element"),
                value=worst.rating,
                phrase=detail(worst),
            ),
        ),
        label_phrase=worst.label_phrase,
        clause_phrase=clause,
    )
    return AssetCondition(standard=std.id, elements=rated, groups=(), summary=summary)
