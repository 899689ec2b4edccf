"""Graded indicators (tunnel lining style): each indicator maps a measurement or category to a
grade; the element takes its worst indicator, the asset its worst element."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from infrasight.core.errors import InvalidInputError
from infrasight.core.phrases import phrase
from infrasight.reasoning.errors import DefinitionError, MissingElementDataError
from infrasight.reasoning.evidence import Evidence, EvidenceKind
from infrasight.reasoning.standards.bins import bin_state, validate_bins
from infrasight.reasoning.standards.texts import joined_clauses
from infrasight.reasoning.standards.types import (
    AssetCondition,
    ConditionRating,
    ElementObservation,
)
from infrasight.reasoning.standards.worst import rate_by_worst_element

if TYPE_CHECKING:
    from infrasight.reasoning.standards.loader import Standard, StandardRegistry

__all__ = ["rate", "validate"]


def validate(data: Mapping[str, Any], source: str) -> None:
    """Check the fields a ``graded`` file needs."""
    if not isinstance(data.get("grades"), dict) or not isinstance(data.get("indicators"), dict):
        raise DefinitionError(f"{source}: 'grades' and 'indicators' tables needed")
    for name, ind in data["indicators"].items():
        where = f"{source}: indicators.{name}"
        if ind.get("source") not in ("defect", "element") or not isinstance(ind.get("clause"), str):
            raise DefinitionError(f"{where}: needs source = defect|element and a clause")
        if "measure" in ind:
            validate_bins(ind.get("bins"), where)
        elif not isinstance(ind.get("categories"), dict):
            raise DefinitionError(f"{where}: needs 'measure' with 'bins' or 'categories'")


def _grade_element(std: Standard, el: ElementObservation) -> ConditionRating:
    grades: Mapping[str, str] = std.data["grades"]
    found: list[tuple[int, str, Evidence]] = []
    for name, ind in std.data["indicators"].items():
        if ind["source"] == "element":
            value = el.measurements.get(ind["measure"])
            if value is None:
                if ind.get("required", False):
                    raise MissingElementDataError(
                        f"element {el.element_id}", ind["measure"], std.id
                    )
                continue
            g = bin_state(float(value), ind["bins"], field=ind["measure"])
            found.append(
                (
                    g,
                    ind["clause"],
                    Evidence(
                        kind=EvidenceKind.ELEMENT,
                        ref=f"element:{el.element_id}",
                        test=name,
                        phrase=phrase(
                            "{measure!t} = {value:g} -> grade {grade}",
                            measure=ind["measure"],
                            value=float(value),
                            grade=g,
                        ),
                        value=float(value),
                        unit="mm" if ind["measure"].endswith("_mm") else "",
                    ),
                )
            )
            continue
        for d in el.defects:
            if d.kind not in ind.get("kinds", []):
                continue
            if "measure" in ind:
                value = d.measurements.get(ind["measure"])
                if value is None:
                    raise MissingElementDataError(f"defect {d.defect_id}", ind["measure"], std.id)
                g = bin_state(float(value), ind["bins"], field=ind["measure"])
                said = phrase(
                    "{measure!t} = {value:g} -> grade {grade}",
                    measure=ind["measure"],
                    value=float(value),
                    grade=g,
                )
                val: float | None = float(value)
            else:
                cat = d.attributes.get(ind.get("attribute", "grade"))
                if cat is None:
                    raise MissingElementDataError(
                        f"defect {d.defect_id}", ind.get("attribute", "grade"), std.id
                    )
                if cat not in ind["categories"]:
                    raise InvalidInputError(
                        f"defect {d.defect_id}: {cat!r} unknown; "
                        f"known: {', '.join(ind['categories'])}",
                        field=ind.get("attribute", "grade"),
                    )
                g = int(ind["categories"][cat])
                said = phrase("{category!t} -> grade {grade}", category=cat, grade=g)
                val = None
            found.append(
                (
                    g,
                    ind["clause"],
                    Evidence(
                        kind=EvidenceKind.DEFECT, ref=d.ref, test=name, value=val, phrase=said
                    ),
                )
            )
    worst = max((g for g, _, _ in found), default=0)
    clauses = list(dict.fromkeys(c for g, c, _ in found if g == worst))
    clause_phrase = joined_clauses(clauses)
    if not clauses:
        clauses = [f"{std.name}: no indicator above grade 0"]
        clause_phrase = phrase("{name!c}: no indicator above grade 0", name=std.name)
    return ConditionRating(
        standard=std.id,
        subject=f"element:{el.element_id}",
        rating=float(worst),
        label=grades[str(worst)],
        clause="; ".join(clauses),
        evidence=tuple(e for _, _, e in found),
        clause_phrase=clause_phrase,
    )


def rate(
    std: Standard, elements: Sequence[ElementObservation], registry: StandardRegistry
) -> AssetCondition:
    """Grade every element; the summary is the worst."""
    del registry
    return rate_by_worst_element(
        std,
        elements,
        _grade_element,
        clause=phrase("{name!c}: the asset takes its worst element's grade", name=std.name),
        detail=lambda worst: phrase("{label!c}", label=worst.label),
    )
