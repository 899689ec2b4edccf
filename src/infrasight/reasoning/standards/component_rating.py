"""Component ratings on a numeric scale (NBI 0-9 style): an inspector's recorded rating, or a
translation of the component's element condition-state shares, and a class of the lowest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from infrasight.core.errors import InvalidInputError
from infrasight.core.phrases import N_, phrase
from infrasight.reasoning.errors import DefinitionError, MissingElementDataError, OutOfRangeError
from infrasight.reasoning.evidence import Evidence, EvidenceKind
from infrasight.reasoning.standards import condition_states
from infrasight.reasoning.standards.texts import joined_clauses
from infrasight.reasoning.standards.types import (
    AssetCondition,
    ConditionRating,
    ElementObservation,
)

if TYPE_CHECKING:
    from infrasight.reasoning.standards.loader import Standard, StandardRegistry

__all__ = ["rate", "validate"]


def validate(data: Mapping[str, Any], source: str) -> None:
    """Check the fields a ``component_rating`` file needs."""
    for key in ("element_standard", "component_attribute", "recorded_attribute"):
        if not isinstance(data.get(key), str):
            raise DefinitionError(f"{source}: {key!r} missing")
    rng = data.get("range")
    if not (isinstance(rng, list) and len(rng) == 2 and rng[0] < rng[1]):
        raise DefinitionError(f"{source}: 'range' must be [low, high]")
    if not isinstance(data.get("components"), dict) or not data["components"]:
        raise DefinitionError(f"{source}: 'components' table missing")
    if not isinstance(data.get("translation"), list) or not data["translation"]:
        raise DefinitionError(f"{source}: 'translation' rules missing")
    if not isinstance(data.get("classes"), list) or not data["classes"]:
        raise DefinitionError(f"{source}: 'classes' missing")
    for rule in data["translation"]:
        if not isinstance(rule.get("rating"), int) or not isinstance(rule.get("clause"), str):
            raise DefinitionError(f"{source}: translation rule needs 'rating' and 'clause'")


def _recorded(std: Standard, el: ElementObservation) -> int | None:
    raw = el.attributes.get(std.data["recorded_attribute"])
    if raw is None:
        return None
    lo, hi = std.data["range"]
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(
            field=std.data["recorded_attribute"],
            phrase=phrase(
                "element {id}: {raw} is not an integer rating", id=str(el.element_id), raw=repr(raw)
            ),
        ) from None
    if not lo <= value <= hi or str(value) != str(raw).strip():
        raise OutOfRangeError(
            field=std.data["recorded_attribute"],
            phrase=phrase(
                "element {id}: rating {raw} outside {lo}-{hi}",
                id=str(el.element_id),
                raw=repr(raw),
                lo=int(lo),
                hi=int(hi),
            ),
        )
    return value


def _rate_component(
    std: Standard, name: str, els: Sequence[ElementObservation], registry: StandardRegistry
) -> tuple[ConditionRating, tuple[ConditionRating, ...]]:
    clause_item = std.data["components"][name]
    labels: Mapping[str, str] = std.data["ratings"]
    recorded = [(v, el) for el in els if (v := _recorded(std, el)) is not None]
    if recorded:
        value = min(v for v, _ in recorded)
        ev = tuple(
            Evidence(
                kind=EvidenceKind.RATING,
                ref=f"element:{e.element_id}",
                test=N_("recorded rating"),
                phrase=phrase("inspector's rating {rating}", rating=v),
                value=float(v),
            )
            for v, e in recorded
        )
        rating = ConditionRating(
            standard=std.id,
            subject=f"component:{name}",
            rating=float(value),
            label=f"{value} {labels[str(value)]}",
            clause=f"{clause_item}: recorded by the inspector (lowest of {len(recorded)})",
            evidence=ev,
            label_phrase=phrase("{rating} {label!c}", rating=value, label=labels[str(value)]),
            clause_phrase=phrase(
                "{item!c}: recorded by the inspector (lowest of {count})",
                item=clause_item,
                count=len(recorded),
            ),
        )
        return rating, ()
    elem_std = registry.get(std.data["element_standard"])
    rated = tuple(condition_states.rate_element(elem_std, el) for el in els)
    shares: dict[str, float] = {}
    total = 0.0
    for r in rated:
        if r.quantities:
            for k, q in r.quantities.items():
                shares[k] = shares.get(k, 0.0) + q
            total += sum(r.quantities.values())
        else:
            key = f"cs{int(r.rating)}"
            shares[key] = shares.get(key, 0.0) + 1.0
            total += 1.0
    frac = {k: v / total for k, v in shares.items()}
    for rule in std.data["translation"]:
        if all(frac.get(k, 0.0) >= float(v) for k, v in rule.get("min_share", {}).items()):
            value = int(rule["rating"])
            clause = f"{clause_item}; {rule['clause']}"
            clause_phrase = joined_clauses([clause_item, rule["clause"]])
            break
    else:  # pragma: no cover - validated files end with an unconditional rule
        raise DefinitionError(f"{std.source}: no translation rule matched")
    ev = tuple(
        Evidence(
            kind=EvidenceKind.RATING,
            ref=r.subject,
            test_phrase=phrase("{standard} condition state", standard=elem_std.id),
            phrase=phrase("{label!c}", label=r.label),
            value=r.rating,
        )
        for r in rated
    ) + tuple(
        Evidence(
            kind=EvidenceKind.RATING,
            ref=f"component:{name}",
            test_phrase=phrase("share in {state}", state=k.upper()),
            phrase=phrase(
                "{share:.1%} of the component's quantity in {state}", share=v, state=k.upper()
            ),
            value=v,
        )
        for k, v in sorted(frac.items())
    )
    rating = ConditionRating(
        standard=std.id,
        subject=f"component:{name}",
        rating=float(value),
        label=f"{value} {labels[str(value)]}",
        clause=clause,
        evidence=ev,
        label_phrase=phrase("{rating} {label!c}", rating=value, label=labels[str(value)]),
        clause_phrase=clause_phrase,
    )
    return rating, rated


def rate(
    std: Standard, elements: Sequence[ElementObservation], registry: StandardRegistry
) -> AssetCondition:
    """Rate each component present; classify the asset by the lowest component rating."""
    if not elements:
        raise InvalidInputError(field="elements", phrase=phrase("no elements to rate"))
    attr = std.data["component_attribute"]
    groups: dict[str, list[ElementObservation]] = {}
    for el in elements:
        comp = el.attributes.get(attr) or std.data.get("component_of_kind", {}).get(el.element_type)
        if not comp:
            raise MissingElementDataError(f"element {el.element_id}", attr, std.id)
        if comp not in std.data["components"]:
            raise InvalidInputError(
                f"element {el.element_id}: {attr} {comp!r} unknown; "
                f"known: {', '.join(std.data['components'])}",
                field=attr,
            )
        groups.setdefault(comp, []).append(el)
    comps: list[ConditionRating] = []
    rated_elements: list[ConditionRating] = []
    for name in std.data["components"]:
        if name in groups:
            c, r = _rate_component(std, name, groups[name], registry)
            comps.append(c)
            rated_elements.extend(r)
    lowest = min(comps, key=lambda c: c.rating)
    for cls in std.data["classes"]:
        if lowest.rating >= float(cls["min"]):
            break
    missing = [n for n in std.data["components"] if n not in groups]
    ev = [
        Evidence(
            kind=EvidenceKind.RATING,
            ref=c.subject,
            test=N_("component rating"),
            detail=c.label,
            value=c.rating,
            phrase=c.label_phrase,
        )
        for c in comps
    ]
    if missing:
        ev.append(
            Evidence(
                kind=EvidenceKind.ELEMENT,
                ref="asset",
                test=N_("components present"),
                phrase=phrase(
                    "not rated (no elements): {components!t}", components=", ".join(missing)
                ),
            )
        )
    summary = ConditionRating(
        standard=std.id,
        subject="asset",
        rating=lowest.rating,
        label=str(cls["label"]),
        clause=str(cls["clause"]),
        evidence=tuple(ev),
    )
    return AssetCondition(
        standard=std.id, elements=tuple(rated_elements), groups=tuple(comps), summary=summary
    )
