"""Layered weighted-deduction evaluation (JTG/T H21-2011 style): component scores from defect
deductions, part scores, structure scores with part weights, a total score and a class."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from infrasight.core.errors import InvalidInputError
from infrasight.core.phrases import N_, phrase
from infrasight.reasoning.errors import DefinitionError, MissingElementDataError, OutOfRangeError
from infrasight.reasoning.evidence import Evidence, EvidenceKind
from infrasight.reasoning.standards.texts import joined_clauses
from infrasight.reasoning.standards.types import (
    AssetCondition,
    ConditionRating,
    ElementObservation,
)

if TYPE_CHECKING:
    from infrasight.reasoning.standards.loader import Standard, StandardRegistry

__all__ = ["component_score", "part_score", "rate", "t_value", "validate"]


def validate(data: Mapping[str, Any], source: str) -> None:
    """Check the fields a ``weighted_deduction`` file needs."""
    for key in ("deductions", "part", "structures", "classes", "indicators", "component"):
        if not isinstance(data.get(key), dict):
            raise DefinitionError(f"{source}: {key!r} table missing")
    part = data["part"]
    if len(part.get("t_n", [])) != len(part.get("t_values", [])) or not part.get("t_n"):
        raise DefinitionError(f"{source}: part.t_n and part.t_values must pair up")
    for name, ind in data["indicators"].items():
        if str(ind.get("max_class")) not in data["deductions"]:
            raise DefinitionError(f"{source}: indicator {name} max_class has no deduction row")
    structures = {k: v for k, v in data["structures"].items() if isinstance(v, dict)}
    for name, s in structures.items():
        total = sum(s.get("parts", {}).values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise DefinitionError(f"{source}: part weights of {name} sum to {total}, not 1")
    if not math.isclose(sum(s["weight"] for s in structures.values()), 1.0, abs_tol=1e-9):
        raise DefinitionError(f"{source}: structure weights do not sum to 1")


def component_score(deductions: Sequence[float]) -> float:
    """Component score PMCI from its deductions (JTG/T H21-2011 formula 4.1.1).

    Parameters
    ----------
    deductions : sequence of float
        Deduction values DP (0-100), any order.

    Returns
    -------
    float
        ``100 - sum U_x`` with the deductions sorted descending, ``U_1 = DP_1`` and
        ``U_x = DP_x / (100 sqrt(x)) (100 - sum_{y<x} U_y)``.
    """
    total = 0.0
    for x, dp in enumerate(sorted(deductions, reverse=True), start=1):
        total += dp if x == 1 else dp / (100.0 * math.sqrt(x)) * (100.0 - total)
    return 100.0 - total


def t_value(n: int, t_n: Sequence[float], t_values: Sequence[float]) -> float:
    """The coefficient t of formula 4.1.2 for ``n`` components (infinity for one)."""
    if n < 1:
        raise OutOfRangeError("component count must be >= 1", field="n")
    if n == 1:
        return math.inf
    return float(np.interp(float(n), np.asarray(t_n, float), np.asarray(t_values, float)))


def part_score(scores: Sequence[float], t: float) -> float:
    """Part score PCCI = mean(PMCI) - (100 - min PMCI) / t (formula 4.1.2)."""
    return float(np.mean(scores)) - (100.0 - min(scores)) / t


def _class_of(score: float, bounds: Sequence[float]) -> int:
    for i, b in enumerate(bounds, start=1):
        if score >= b:
            return i
    return len(bounds) + 1


def _deduction(std: Standard, el: ElementObservation) -> tuple[list[float], list[Evidence]]:
    dps: list[float] = []
    ev: list[Evidence] = []
    indicators: Mapping[str, Any] = std.data["indicators"]
    for d in el.defects:
        ind = d.attributes.get("indicator")
        if not ind:
            raise MissingElementDataError(f"defect {d.defect_id}", "indicator", std.id)
        if ind not in indicators:
            raise InvalidInputError(
                field="indicator",
                phrase=phrase(
                    "defect {id}: indicator {indicator} unknown; known: {known}",
                    id=str(d.defect_id),
                    indicator=repr(ind),
                    known=", ".join(sorted(indicators)),
                ),
            )
        raw = d.attributes.get("class")
        if raw is None:
            raise MissingElementDataError(f"defect {d.defect_id}", "class", std.id)
        top = int(indicators[ind]["max_class"])
        try:
            cls = int(raw)
        except ValueError:
            raise InvalidInputError(
                field="class", phrase=phrase("{raw} is not an integer class", raw=repr(raw))
            ) from None
        if not 1 <= cls <= top:
            raise OutOfRangeError(
                field="class",
                phrase=phrase(
                    "defect {id}: class {cls} outside 1-{top} of indicator {indicator!c}",
                    id=str(d.defect_id),
                    cls=cls,
                    top=top,
                    indicator=ind,
                ),
            )
        dp = float(std.data["deductions"][str(top)][cls - 1])
        dps.append(dp)
        ev.append(
            Evidence(
                kind=EvidenceKind.DEFECT,
                ref=d.ref,
                test_phrase=phrase(
                    "{indicator!c} class {cls}/{top}", indicator=ind, cls=cls, top=top
                ),
                phrase=phrase(
                    "{indicator!c}: class {cls} of {top} -> DP {dp:g}",
                    indicator=indicators[ind].get("name", ind),
                    cls=cls,
                    top=top,
                    dp=dp,
                ),
                value=dp,
            )
        )
    return dps, ev


def rate(
    std: Standard, elements: Sequence[ElementObservation], registry: StandardRegistry
) -> AssetCondition:
    """Component, part, structure and bridge scores with the bridge class."""
    del registry
    if not elements:
        raise InvalidInputError(field="elements", phrase=phrase("no elements to rate"))
    data = std.data
    attr = data["part_attribute"]
    structures = {k: v for k, v in data["structures"].items() if isinstance(v, dict)}
    part_home = {p: s for s, spec in structures.items() for p in spec["parts"]}
    bounds = [float(b) for b in data["classes"]["lower_bounds"]]
    by_part: dict[str, list[tuple[ElementObservation, float]]] = {}
    element_ratings: list[ConditionRating] = []
    for el in elements:
        part = el.attributes.get(attr) or data.get("part_of_kind", {}).get(el.element_type)
        if not part:
            raise MissingElementDataError(f"element {el.element_id}", attr, std.id)
        if part not in part_home:
            raise InvalidInputError(
                f"element {el.element_id}: part {part!r} unknown; "
                f"known: {', '.join(sorted(part_home))}",
                field=attr,
            )
        dps, ev = _deduction(std, el)
        pmci = component_score(dps)
        by_part.setdefault(part, []).append((el, pmci))
        element_ratings.append(
            ConditionRating(
                standard=std.id,
                subject=f"element:{el.element_id}",
                rating=pmci,
                label=f"PMCI {pmci:.2f}",
                clause=f"{data['deductions']['clause']}; {data['component']['clause']}",
                evidence=tuple(ev),
                label_phrase=phrase("PMCI {score:.2f}", score=pmci),
                clause_phrase=joined_clauses(
                    [data["deductions"]["clause"], data["component"]["clause"]]
                ),
            )
        )
    groups: list[ConditionRating] = []
    part_scores: dict[str, float] = {}
    for part, items in by_part.items():
        scores = [s for _, s in items]
        t = t_value(len(scores), data["part"]["t_n"], data["part"]["t_values"])
        pcci = part_score(scores, t)
        part_scores[part] = pcci
        groups.append(
            ConditionRating(
                standard=std.id,
                subject=f"part:{part}",
                rating=pcci,
                label=f"PCCI {pcci:.2f}, class {_class_of(pcci, bounds)}",
                clause=data["part"]["clause"],
                label_phrase=phrase(
                    "PCCI {score:.2f}, class {cls}", score=pcci, cls=_class_of(pcci, bounds)
                ),
                evidence=tuple(
                    Evidence(
                        kind=EvidenceKind.RATING,
                        ref=f"element:{el.element_id}",
                        test=N_("PMCI"),
                        phrase=phrase(
                            "PMCI {score:.2f} (n = {n}, t = {t:g})", score=s, n=len(scores), t=t
                        ),
                        value=s,
                    )
                    for el, s in items
                ),
            )
        )
    struct_scores: dict[str, float] = {}
    for sname, spec in structures.items():
        present = {p: w for p, w in spec["parts"].items() if p in part_scores}
        if not present:
            continue
        wsum = sum(present.values())
        score = sum(part_scores[p] * w / wsum for p, w in present.items())
        struct_scores[sname] = score
        groups.append(
            ConditionRating(
                standard=std.id,
                subject=f"structure:{sname}",
                rating=score,
                label=f"{spec.get('name', sname)} {score:.2f}, class {_class_of(score, bounds)}",
                clause=f"{data['structures']['clause']}; {data['structures']['weight_clause']}",
                label_phrase=phrase(
                    "{name!c} {score:.2f}, class {cls}",
                    name=spec.get("name", sname),
                    score=score,
                    cls=_class_of(score, bounds),
                ),
                clause_phrase=joined_clauses(
                    [data["structures"]["clause"], data["structures"]["weight_clause"]]
                ),
                evidence=tuple(
                    Evidence(
                        kind=EvidenceKind.RATING,
                        ref=f"part:{p}",
                        test=N_("part weight"),
                        phrase=phrase(
                            "PCCI {score:.2f} x weight {weight:g}/{total:g}",
                            score=part_scores[p],
                            weight=w,
                            total=wsum,
                        ),
                        value=part_scores[p],
                    )
                    for p, w in present.items()
                ),
            )
        )
    wtot = sum(structures[s]["weight"] for s in struct_scores)
    dr = sum(struct_scores[s] * structures[s]["weight"] / wtot for s in struct_scores)
    cls = _class_of(dr, bounds)
    clause = data["classes"]["clause"]
    clauses = [clause]
    ev = [
        Evidence(
            kind=EvidenceKind.RATING,
            ref=f"structure:{s}",
            test=N_("structure weight"),
            phrase=phrase(
                "{score:.2f} x {weight:g}/{total:g}",
                score=v,
                weight=structures[s]["weight"],
                total=wtot,
            ),
            value=v,
        )
        for s, v in struct_scores.items()
    ]
    main = data.get("main_parts")
    if main:
        worst_main = max(
            ((p, _class_of(part_scores[p], bounds)) for p in main["parts"] if p in part_scores),
            key=lambda t: t[1],
            default=None,
        )
        if worst_main and worst_main[1] >= int(main["governs_from_class"]) and worst_main[1] > cls:
            cls = worst_main[1]
            clause = f"{clause}; {main['clause']}"
            clauses.append(main["clause"])
            ev.append(
                Evidence(
                    kind=EvidenceKind.RATING,
                    ref=f"part:{worst_main[0]}",
                    test=N_("main part governs"),
                    phrase=phrase(
                        "main part {part!t} in class {cls}", part=worst_main[0], cls=worst_main[1]
                    ),
                    value=part_scores[worst_main[0]],
                )
            )
    summary = ConditionRating(
        standard=std.id,
        subject="asset",
        rating=dr,
        label=f"Dr {dr:.2f}, class {cls}",
        clause=clause,
        evidence=tuple(ev),
        label_phrase=phrase("Dr {score:.2f}, class {cls}", score=dr, cls=cls),
        clause_phrase=joined_clauses(clauses),
        quantities={"class": float(cls)},
    )
    return AssetCondition(
        standard=std.id, elements=tuple(element_ratings), groups=tuple(groups), summary=summary
    )
