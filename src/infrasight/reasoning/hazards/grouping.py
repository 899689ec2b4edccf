"""Evidence grouping: all evidence about one element and one mechanism is one hazard."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infrasight.reasoning.evidence import Evidence
from infrasight.reasoning.hazards.lifecycle import (
    HazardAction,
    HazardStatus,
    Transition,
    apply_action,
)

__all__ = ["ExistingHazard", "HazardEvidence", "HazardPlan", "group_evidence"]

_LIVE = frozenset(
    {HazardStatus.OPEN, HazardStatus.ACKNOWLEDGED, HazardStatus.MITIGATING, HazardStatus.RESOLVED}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HazardEvidence:
    """A piece of evidence attributed to an element and a mechanism."""

    element_id: str
    mechanism: str
    evidence: Evidence


@dataclass(frozen=True, slots=True, kw_only=True)
class ExistingHazard:
    """A hazard already recorded, with the evidence refs it holds."""

    hazard_id: str
    element_id: str
    mechanism: str
    status: HazardStatus
    refs: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class HazardPlan:
    """What to do for one (element, mechanism): open a new hazard or add to an existing one.

    ``new_evidence`` holds only evidence the hazard does not have yet, so applying a plan twice
    changes nothing (idempotent). ``transition`` is set when new evidence reopens a resolved
    hazard.
    """

    element_id: str
    mechanism: str
    hazard_id: str | None
    new_evidence: tuple[Evidence, ...]
    transition: Transition | None = None


def group_evidence(
    items: Iterable[HazardEvidence], existing: Sequence[ExistingHazard] = ()
) -> list[HazardPlan]:
    """Group evidence by (element, mechanism) and match it to live hazards.

    A live hazard (open, acknowledged, mitigating, resolved) of the same element and mechanism
    receives the evidence; a resolved one is reopened by new evidence. Closed and merged hazards
    are final, so evidence about them opens a new hazard. Plans with no new evidence are
    dropped.
    """
    groups: dict[tuple[str, str], list[Evidence]] = {}
    for it in items:
        groups.setdefault((it.element_id, it.mechanism), []).append(it.evidence)
    live = {(h.element_id, h.mechanism): h for h in existing if h.status in _LIVE}
    plans: list[HazardPlan] = []
    for key, evs in groups.items():
        seen: set[str] = set()
        unique = []
        for e in evs:
            if e.ref not in seen:
                seen.add(e.ref)
                unique.append(e)
        h = live.get(key)
        if h is None:
            plans.append(
                HazardPlan(
                    element_id=key[0], mechanism=key[1], hazard_id=None, new_evidence=tuple(unique)
                )
            )
            continue
        fresh = tuple(e for e in unique if e.ref not in h.refs)
        if not fresh:
            continue
        plans.append(
            HazardPlan(
                element_id=key[0],
                mechanism=key[1],
                hazard_id=h.hazard_id,
                new_evidence=fresh,
                transition=apply_action(h.status, HazardAction.NEW_EVIDENCE, "new evidence")
                if h.status is HazardStatus.RESOLVED
                else None,
            )
        )
    return plans
