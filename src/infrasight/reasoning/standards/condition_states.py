"""Element condition states by defect (AASHTO MBEI style): each defect gets a state from its
measurements or category, the element takes its worst, and quantities are distributed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from infrasight.core.errors import InvalidInputError
from infrasight.core.phrases import phrase
from infrasight.reasoning.errors import DefinitionError, MissingElementDataError, OutOfRangeError
from infrasight.reasoning.evidence import Evidence, EvidenceKind
from infrasight.reasoning.standards.bins import bin_state, validate_bins
from infrasight.reasoning.standards.texts import joined_clauses
from infrasight.reasoning.standards.types import (
    AssetCondition,
    ConditionRating,
    DefectObservation,
    ElementObservation,
)
from infrasight.reasoning.standards.worst import rate_by_worst_element

if TYPE_CHECKING:
    from infrasight.reasoning.standards.loader import Standard, StandardRegistry

__all__ = ["defect_state", "rate", "rate_element", "validate"]


def validate(data: Mapping[str, Any], source: str) -> None:
    """Check the fields a ``condition_states`` file needs."""
    states = data.get("states")
    if not isinstance(states, dict) or not states:
        raise DefinitionError(f"{source}: 'states' table missing")
    kinds = data.get("kinds")
    defects = data.get("defects")
    if not isinstance(kinds, dict) or not isinstance(defects, dict):
        raise DefinitionError(f"{source}: 'kinds' and 'defects' tables needed")
    for name, d in defects.items():
        where = f"{source}: defects.{name}"
        if not isinstance(d.get("clause"), str):
            raise DefinitionError(f"{where}: 'clause' missing")
        for rule in d.get("rules", []):
            if not isinstance(rule.get("measure"), str):
                raise DefinitionError(f"{where}: rule without 'measure'")
            validate_bins(rule.get("bins"), f"{where}.{rule['measure']}")
        if not d.get("rules") and not d.get("categories"):
            raise DefinitionError(f"{where}: needs 'rules' or 'categories'")
    for kind, key in kinds.items():
        if "{" not in key and key not in defects:
            raise DefinitionError(f"{source}: kinds.{kind} names unknown defect {key!r}")


def _defect_key(std: Standard, el: ElementObservation, d: DefectObservation) -> str:
    kinds: Mapping[str, str] = std.data["kinds"]
    if d.kind not in kinds:
        raise InvalidInputError(
            f"defect {d.defect_id}: kind {d.kind!r} is not rated by {std.id}; "
            f"known: {', '.join(sorted(kinds))}",
            field="kind",
        )
    key = kinds[d.kind]
    if "{material}" in key:
        material = el.attributes.get("material")
        if not material:
            raise MissingElementDataError(f"element {el.element_id}", "material", std.id)
        key = key.replace("{material}", material)
    if key not in std.data["defects"]:
        raise InvalidInputError(
            field="material",
            phrase=phrase(
                "element {id}: {standard} has no {kind!t} defect for material {material}",
                id=str(el.element_id),
                standard=std.id,
                kind=d.kind,
                material=repr(el.attributes.get("material")),
            ),
        )
    return key


def defect_state(
    std: Standard, el: ElementObservation, d: DefectObservation
) -> tuple[int, tuple[Evidence, ...]]:
    """Condition state of one defect and the evidence (measurement or category) that set it."""
    key = _defect_key(std, el, d)
    spec = std.data["defects"][key]
    label = f"{spec.get('number', key)} {spec.get('name', '')}".strip()
    found: list[tuple[int, Evidence]] = []
    review = std.data.get("structural_review", {})
    if review and d.attributes.get(review["attribute"], "").lower() == "true":
        found.append(
            (
                int(review["state"]),
                Evidence(
                    kind=EvidenceKind.DEFECT,
                    ref=d.ref,
                    test_phrase=phrase("{label!c} structural review", label=label),
                    phrase=phrase("marked as warranting a structural review"),
                ),
            )
        )
    for rule in spec.get("rules", []):
        measure = rule["measure"]
        value = d.measurements.get(measure)
        if value is None:
            if rule.get("required", False):
                raise MissingElementDataError(f"defect {d.defect_id}", measure, std.id)
            continue
        state = bin_state(float(value), rule["bins"], field=measure)
        found.append(
            (
                state,
                Evidence(
                    kind=EvidenceKind.DEFECT,
                    ref=d.ref,
                    test_phrase=phrase("{label!c} {measure!t}", label=label, measure=measure),
                    phrase=phrase(
                        "{measure!t} = {value:g} -> CS{state}",
                        measure=measure,
                        value=float(value),
                        state=state,
                    ),
                    value=float(value),
                    unit="mm" if measure.endswith("_mm") else "",
                ),
            )
        )
    categories: Mapping[str, int] = spec.get("categories", {})
    grade = d.attributes.get("grade")
    if grade is not None:
        if grade not in categories:
            raise InvalidInputError(
                f"defect {d.defect_id}: grade {grade!r} unknown for {label}; "
                f"known: {', '.join(sorted(categories))}",
                field="grade",
            )
        found.append(
            (
                int(categories[grade]),
                Evidence(
                    kind=EvidenceKind.DEFECT,
                    ref=d.ref,
                    test_phrase=phrase("{label!c} grade", label=label),
                    phrase=phrase(
                        "grade {grade!t} -> CS{state}", grade=grade, state=int(categories[grade])
                    ),
                ),
            )
        )
    if not found:
        needs = [r["measure"] for r in spec.get("rules", [])] + (["grade"] if categories else [])
        raise MissingElementDataError(f"defect {d.defect_id}", " or ".join(needs), std.id)
    state = max(s for s, _ in found)
    return state, tuple(e for _, e in found)


def rate_element(std: Standard, el: ElementObservation) -> ConditionRating:
    """The element's governing condition state and its quantity per state."""
    states: dict[str, float] = {}
    evidence: list[Evidence] = []
    clauses: list[str] = []
    worst = 1
    for d in el.defects:
        s, ev = defect_state(std, el, d)
        evidence.extend(ev)
        key = _defect_key(std, el, d)
        if s >= worst:
            clause = std.data["defects"][key]["clause"]
            clauses = [clause] if s > worst else [*clauses, clause]
            worst = s
        if el.quantity is not None:
            if d.quantity is None:
                raise MissingElementDataError(f"defect {d.defect_id}", "quantity", std.id)
            if d.quantity < 0:
                raise OutOfRangeError(field="quantity", phrase=phrase("must be >= 0"))
            states[f"cs{s}"] = states.get(f"cs{s}", 0.0) + float(d.quantity)
    quantities: dict[str, float] = {}
    if el.quantity is not None:
        if el.quantity <= 0:
            raise OutOfRangeError(field="quantity", phrase=phrase("element quantity must be > 0"))
        used = sum(states.values())
        if used > el.quantity * (1 + 1e-9):
            raise OutOfRangeError(
                field="quantity",
                phrase=phrase(
                    "element {id}: defect quantities {used:g} exceed the element quantity "
                    "{quantity:g}",
                    id=str(el.element_id),
                    used=used,
                    quantity=float(el.quantity),
                ),
            )
        n_states = len(std.data["states"])
        quantities = {f"cs{i}": states.get(f"cs{i}", 0.0) for i in range(1, n_states + 1)}
        quantities["cs1"] = quantities["cs1"] + el.quantity - used
    unique = list(dict.fromkeys(clauses))
    clause_phrase = joined_clauses(unique)
    if not el.defects:
        unique = [f"{std.name}: no defects recorded, all quantity in CS1"]
        clause_phrase = phrase("{name!c}: no defects recorded, all quantity in CS1", name=std.name)
    return ConditionRating(
        standard=std.id,
        subject=f"element:{el.element_id}",
        rating=float(worst),
        label=std.data["states"][str(worst)],
        clause="; ".join(unique),
        evidence=tuple(evidence),
        quantities=quantities,
        clause_phrase=clause_phrase,
    )


def rate(
    std: Standard, elements: Sequence[ElementObservation], registry: StandardRegistry
) -> AssetCondition:
    """Rate every element; the summary is the worst element's state."""
    del registry
    return rate_by_worst_element(
        std,
        elements,
        rate_element,
        clause=phrase(
            "{name!c}: element states are reported per element; summary = worst element",
            name=std.name,
        ),
        detail=lambda worst: phrase(
            "element:{element} in {label!c}",
            element=worst.subject.removeprefix("element:"),
            label=worst.label,
        ),
    )
