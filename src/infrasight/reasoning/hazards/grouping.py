"""Evidence grouping: all evidence about one element and one mechanism is one hazard."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from infrasight.core.phrases import phrase
from infrasight.reasoning.evidence import Evidence
from infrasight.reasoning.hazards.lifecycle import (
    HazardAction,
    HazardStatus,
    Transition,
    apply_action,
)

__all__ = [
    "ExistingHazard",
    "HazardEvidence",
    "HazardPlan",
    "evidence_identity",
    "group_evidence",
]

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
    """A hazard already recorded, with the evidence refs it holds.

    ``evidence`` (optional) are the held items themselves: with them, an incoming item about the
    same source, test and onset as a held one (see :func:`evidence_identity`) updates it in
    place instead of being new evidence, so a window that grows with the data or a forecast
    that is refitted never reopens a resolved hazard nor piles up rows.
    """

    hazard_id: str
    element_id: str
    mechanism: str
    status: HazardStatus
    refs: frozenset[str]
    evidence: tuple[Evidence, ...] = ()


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
    updated_evidence: tuple[tuple[str, Evidence], ...] = ()
    """(held ref, its new version) for held items whose window, value or detail changed."""


_WINDOW = re.compile(r"\[([^\[\]/]*)/([^\[\]/]*)\]$")
_CONTRIBUTION = re.compile(r"\s*\([+-]\d+(\.\d+)?\)$")


def evidence_identity(e: Evidence) -> tuple[str, str, str]:
    """What an item is about, whatever its current window and numbers: ``(kind, source,
    test)``, with the ref's time window and the test's score contribution left out."""
    return (str(e.kind), _WINDOW.sub("", e.ref), _CONTRIBUTION.sub("", e.test))


def _onset_h(ref: str) -> float | None:
    """Start of a ref's time window in hours (``120h`` or an ISO time); None when open."""
    m = _WINDOW.search(ref)
    if m is None:
        return None
    start = m.group(1).strip()
    if start in ("", ".."):
        return None
    if start.endswith("h"):
        try:
            return float(start[:-1])
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() / 3600.0
    except ValueError:
        return None


def _same_item(new: Evidence, held: Evidence, same_onset_h: float) -> bool:
    if evidence_identity(new) != evidence_identity(held):
        return False
    a, b = _onset_h(new.ref), _onset_h(held.ref)
    return a is None or b is None or abs(a - b) <= same_onset_h


def _split(
    unique: list[Evidence], h: ExistingHazard, same_onset_h: float
) -> tuple[tuple[Evidence, ...], tuple[tuple[str, Evidence], ...]]:
    """Incoming items of a live hazard -> (new ones, updates of held ones)."""
    held = {e.ref: e for e in h.evidence}
    # exact refs first, so that a held item named by an incoming one is never claimed by
    # another item's similarity match (both would update, then rename, the same link)
    used: set[str] = {e.ref for e in unique if e.ref in held}
    fresh: list[Evidence] = []
    updates: list[tuple[str, Evidence]] = []
    for e in unique:
        match: str | None = e.ref if e.ref in held else None
        if match is None and e.ref in h.refs:
            continue  # held, but only its ref is known: nothing to compare
        if match is None:
            match = next(
                (
                    r
                    for r, old in held.items()
                    if r not in used and _same_item(e, old, same_onset_h)
                ),
                None,
            )
            if match is not None:
                used.add(match)
        if match is None:
            fresh.append(e)
            continue
        if held[match] != e:
            updates.append((match, e))
    return tuple(fresh), tuple(updates)


def group_evidence(
    items: Iterable[HazardEvidence],
    existing: Sequence[ExistingHazard] = (),
    *,
    same_onset_h: float = 48.0,
) -> list[HazardPlan]:
    """Group evidence by (element, mechanism) and match it to live hazards.

    A live hazard (open, acknowledged, mitigating, resolved) of the same element and mechanism
    receives the evidence; a resolved one is reopened by new evidence. Closed and merged hazards
    are final, so evidence about them opens a new hazard. An item about the same source and
    test as a held one whose window starts within ``same_onset_h`` hours of it (or whose window
    has no start) is that item, updated; it is not new evidence. Plans with nothing new or
    changed are dropped.
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
        fresh, updates = _split(unique, h, same_onset_h)
        if not fresh and not updates:
            continue
        plans.append(
            HazardPlan(
                element_id=key[0],
                mechanism=key[1],
                hazard_id=h.hazard_id,
                new_evidence=fresh,
                transition=apply_action(h.status, HazardAction.NEW_EVIDENCE, phrase("new evidence"))
                if fresh and h.status is HazardStatus.RESOLVED
                else None,
                updated_evidence=updates,
            )
        )
    return plans
