"""The hazard lifecycle as a transition table ``{(state, action): next_state}``.

open -> acknowledged -> mitigating (a work order exists) -> resolved -> closed; any live hazard
can be merged into another; new evidence on a resolved hazard reopens it. Every applied
transition is returned as a record for the caller to audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from infrasight.core.phrases import Phrase
from infrasight.reasoning.errors import TransitionNotAllowedError

__all__ = [
    "TRANSITIONS",
    "HazardAction",
    "HazardStatus",
    "Transition",
    "action_to",
    "allowed_actions",
    "allowed_targets",
    "apply_action",
]


class HazardStatus(StrEnum):
    """States of a hazard."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MITIGATING = "mitigating"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"


class HazardAction(StrEnum):
    """What can happen to a hazard."""

    ACKNOWLEDGE = "acknowledge"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    CLOSE = "close"
    MERGE = "merge"
    REOPEN = "reopen"
    NEW_EVIDENCE = "new_evidence"
    EVIDENCE_GONE = "evidence_gone"


SYSTEM_ACTIONS = frozenset({HazardAction.NEW_EVIDENCE, HazardAction.EVIDENCE_GONE})
"""Actions only the system applies (from evidence); a person's transition never picks them."""


S, A = HazardStatus, HazardAction

TRANSITIONS: Mapping[tuple[HazardStatus, HazardAction], HazardStatus] = {
    (S.OPEN, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.OPEN, A.MERGE): S.MERGED,
    (S.OPEN, A.NEW_EVIDENCE): S.OPEN,
    (S.OPEN, A.EVIDENCE_GONE): S.RESOLVED,
    (S.ACKNOWLEDGED, A.MITIGATE): S.MITIGATING,
    (S.ACKNOWLEDGED, A.RESOLVE): S.RESOLVED,
    (S.ACKNOWLEDGED, A.MERGE): S.MERGED,
    (S.ACKNOWLEDGED, A.NEW_EVIDENCE): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, A.EVIDENCE_GONE): S.RESOLVED,
    (S.MITIGATING, A.RESOLVE): S.RESOLVED,
    (S.MITIGATING, A.MERGE): S.MERGED,
    (S.MITIGATING, A.NEW_EVIDENCE): S.MITIGATING,
    (S.RESOLVED, A.CLOSE): S.CLOSED,
    (S.RESOLVED, A.REOPEN): S.OPEN,
    (S.RESOLVED, A.NEW_EVIDENCE): S.OPEN,
}
"""Every allowed transition. Closed and merged hazards are final: new evidence about the same
element and mechanism opens a new hazard."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """One applied transition (to be written as an audit row).

    ``note`` is in English; ``phrase``, when the system wrote the note, is the same sentence as
    a message key and parameters (rendered in the reader's language by the adapters).
    """

    from_status: HazardStatus
    action: HazardAction
    to_status: HazardStatus
    note: str = ""
    phrase: Phrase | None = None


def allowed_actions(state: HazardStatus) -> tuple[HazardAction, ...]:
    """Actions the table allows from ``state``."""
    return tuple(a for (s, a) in TRANSITIONS if s is state)


def allowed_targets(state: HazardStatus) -> tuple[HazardStatus, ...]:
    """States a person may move a hazard to from ``state`` (``new_evidence`` excluded)."""
    out: list[HazardStatus] = []
    for (s, a), to in TRANSITIONS.items():
        if s is state and a not in SYSTEM_ACTIONS and to is not state and to not in out:
            out.append(to)
    return tuple(out)


def action_to(state: HazardStatus, target: HazardStatus) -> HazardAction:
    """The action that moves ``state`` to ``target`` (what ``POST .../transitions`` uses).

    Raises
    ------
    TransitionNotAllowedError
        No such transition; ``allowed`` names the reachable states.
    """
    for (s, a), to in TRANSITIONS.items():
        if s is state and to is target and a not in SYSTEM_ACTIONS:
            return a
    raise TransitionNotAllowedError(
        str(state), f"to {target}", [str(t) for t in allowed_targets(state)]
    )


def apply_action(state: HazardStatus, action: HazardAction, note: str | Phrase = "") -> Transition:
    """Apply ``action`` to a hazard in ``state``; ``note`` is a person's text or the system's
    phrase (its English text becomes the note).

    Raises
    ------
    TransitionNotAllowedError
        The table has no ``(state, action)`` row; ``allowed`` lists the actions it has.
    """
    try:
        to = TRANSITIONS[(state, action)]
    except KeyError:
        raise TransitionNotAllowedError(
            str(state), str(action), [str(a) for a in allowed_actions(state)]
        ) from None
    if isinstance(note, Phrase):
        return Transition(
            from_status=state, action=action, to_status=to, note=note.english(), phrase=note
        )
    return Transition(from_status=state, action=action, to_status=to, note=note)
