"""The work-order lifecycle as a transition table ``{(state, action): next_state}``.

draft -> open -> assigned -> in_progress -> completed -> verifying -> closed; assigned or
in-progress work can be put on hold and resumed; anything not yet completed can be cancelled
(a reason is required); a completed, verifying or closed work order is reopened when
verification fails or the hazard returns (a reason is required). Every applied transition is
returned as a record for the caller to audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from infrasight.core.errors import InvalidInputError
from infrasight.core.phrases import Phrase
from infrasight.reasoning.errors import TransitionNotAllowedError

__all__ = [
    "NOTE_REQUIRED",
    "SUPERVISORY",
    "TRANSITIONS",
    "WorkOrderAction",
    "WorkOrderStatus",
    "WorkOrderTransition",
    "action_to",
    "allowed_targets",
    "apply_action",
]


class WorkOrderStatus(StrEnum):
    """States of a work order."""

    DRAFT = "draft"
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    VERIFYING = "verifying"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REOPENED = "reopened"


class WorkOrderAction(StrEnum):
    """What can happen to a work order."""

    SUBMIT = "submit"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    COMPLETE = "complete"
    VERIFY = "verify"
    CLOSE = "close"
    CANCEL = "cancel"
    REOPEN = "reopen"


S, A = WorkOrderStatus, WorkOrderAction

TRANSITIONS: Mapping[tuple[WorkOrderStatus, WorkOrderAction], WorkOrderStatus] = {
    (S.DRAFT, A.SUBMIT): S.OPEN,
    (S.DRAFT, A.CANCEL): S.CANCELLED,
    (S.OPEN, A.ASSIGN): S.ASSIGNED,
    (S.OPEN, A.CANCEL): S.CANCELLED,
    (S.ASSIGNED, A.START): S.IN_PROGRESS,
    (S.ASSIGNED, A.HOLD): S.ON_HOLD,
    (S.ASSIGNED, A.UNASSIGN): S.OPEN,
    (S.ASSIGNED, A.CANCEL): S.CANCELLED,
    (S.IN_PROGRESS, A.COMPLETE): S.COMPLETED,
    (S.IN_PROGRESS, A.HOLD): S.ON_HOLD,
    (S.IN_PROGRESS, A.CANCEL): S.CANCELLED,
    (S.ON_HOLD, A.RESUME): S.IN_PROGRESS,
    (S.ON_HOLD, A.CANCEL): S.CANCELLED,
    (S.COMPLETED, A.VERIFY): S.VERIFYING,
    (S.COMPLETED, A.REOPEN): S.REOPENED,
    (S.VERIFYING, A.CLOSE): S.CLOSED,
    (S.VERIFYING, A.REOPEN): S.REOPENED,
    (S.CLOSED, A.REOPEN): S.REOPENED,
    (S.REOPENED, A.ASSIGN): S.ASSIGNED,
    (S.REOPENED, A.START): S.IN_PROGRESS,
    (S.REOPENED, A.CANCEL): S.CANCELLED,
}
"""Every allowed transition; ``cancelled`` is final. Each ``(state, target)`` pair has at most
one action, so a person may name the target state instead of the action."""

NOTE_REQUIRED: frozenset[WorkOrderAction] = frozenset({A.CANCEL, A.REOPEN})
"""Actions that need a reason in the note."""

SUPERVISORY: frozenset[WorkOrderAction] = frozenset(
    {A.SUBMIT, A.ASSIGN, A.UNASSIGN, A.CLOSE, A.CANCEL, A.REOPEN}
)
"""Actions that dispatch or sign off work (an engineer's); the others record field progress."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkOrderTransition:
    """One applied transition (to be written as an audit row).

    ``note`` is in English; ``phrase``, when the system wrote the note, is the same sentence as
    a message key and parameters (rendered in the reader's language by the adapters).
    """

    from_status: WorkOrderStatus
    action: WorkOrderAction
    to_status: WorkOrderStatus
    note: str = ""
    phrase: Phrase | None = None


def allowed_targets(state: WorkOrderStatus) -> tuple[WorkOrderStatus, ...]:
    """States the table allows from ``state``, in table order."""
    return tuple(to for (s, _), to in TRANSITIONS.items() if s is state)


def action_to(state: WorkOrderStatus, target: WorkOrderStatus) -> WorkOrderAction:
    """The action that moves ``state`` to ``target``.

    Raises
    ------
    TransitionNotAllowedError
        No such transition; ``allowed`` names the reachable states.
    """
    for (s, a), to in TRANSITIONS.items():
        if s is state and to is target:
            return a
    raise TransitionNotAllowedError(
        str(state), f"to {target}", [str(t) for t in allowed_targets(state)]
    )


def apply_action(
    state: WorkOrderStatus, action: WorkOrderAction, note: str | Phrase = ""
) -> WorkOrderTransition:
    """Apply ``action`` to a work order in ``state``; ``note`` is a person's text or the
    system's phrase (its English text becomes the note).

    Raises
    ------
    TransitionNotAllowedError
        The table has no ``(state, action)`` row.
    InvalidInputError
        The action needs a reason and ``note`` is blank (field ``note``).
    """
    try:
        to = TRANSITIONS[(state, action)]
    except KeyError:
        allowed = [str(a) for (s, a) in TRANSITIONS if s is state]
        raise TransitionNotAllowedError(str(state), str(action), allowed) from None
    said = note if isinstance(note, Phrase) else None
    text = note.english() if isinstance(note, Phrase) else note.strip()
    if action in NOTE_REQUIRED and not text:
        raise InvalidInputError(f"{action} needs a reason in the note", field="note")
    return WorkOrderTransition(
        from_status=state, action=action, to_status=to, note=text, phrase=said
    )
