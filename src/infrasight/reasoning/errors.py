"""Typed errors of the reasoning package, placed in the project's hierarchy (``core/errors.py``).

Bad input is an :class:`~infrasight.core.errors.InvalidInputError` (HTTP 422, CLI exit 2) that
names the field; a forbidden hazard transition is a :class:`~infrasight.core.errors.ConflictError`
(HTTP 409) naming the allowed ones; a broken data file is a :class:`DefinitionError`.
"""

from __future__ import annotations

from collections.abc import Sequence

from infrasight.core.errors import ConflictError, InfraSightError, InvalidInputError
from infrasight.core.phrases import N_, phrase

__all__ = [
    "DefinitionError",
    "MissingElementDataError",
    "OutOfRangeError",
    "TransitionNotAllowedError",
    "UnknownStandardError",
]


#: What an element or a defect lacks, by the kind of subject.
_LACKS = {
    "element": N_("element {id} lacks '{what!t}', needed by {standard}"),
    "defect": N_("defect {id} lacks '{what!t}', needed by {standard}"),
}


class DefinitionError(InfraSightError):
    """A packaged or user-supplied TOML definition (standard, mechanism) is malformed."""


class UnknownStandardError(InvalidInputError):
    """The named condition standard is not one of the loaded data files."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(
            field="standard",
            phrase=phrase(
                "unknown standard {name}; known: {known}",
                name=repr(name),
                known=", ".join(sorted(known)),
            ),
        )
        self.name = name
        self.known = tuple(sorted(known))


class MissingElementDataError(InvalidInputError):
    """An element (or one of its defects) lacks a value the standard needs.

    ``subject`` is ``"element ID"`` or ``"defect ID"``; ``what`` the value (or values joined by
    ``" or "``) it lacks.
    """

    def __init__(self, subject: str, what: str, standard: str) -> None:
        kind, _, ident = subject.partition(" ")
        key = _LACKS.get(kind, N_("{subject} lacks '{what!t}', needed by {standard}"))
        who = {"id": ident} if kind in _LACKS else {"subject": subject}
        said = phrase(key, what=what, standard=standard, **who)
        super().__init__(f"{subject} lacks {what!r}, needed by {standard}", field=what, phrase=said)
        self.subject = subject
        self.what = what
        self.standard = standard


class OutOfRangeError(InvalidInputError):
    """A value is outside the range the standard or the model accepts."""


class TransitionNotAllowedError(ConflictError):
    """A lifecycle transition that the table forbids; ``allowed`` lists the permitted ones."""

    def __init__(self, state: str, action: str, allowed: Sequence[str]) -> None:
        allowed_txt = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"transition {action!r} not allowed from {state!r}; allowed: {allowed_txt}"
        )
        self.state = state
        self.action = action
        self.allowed = tuple(allowed)
