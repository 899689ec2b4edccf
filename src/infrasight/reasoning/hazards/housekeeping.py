"""When the system changes a hazard's state on its own: auto-resolve when its evidence is gone
for a stated time, merge duplicates. The rules are data (``hazards/housekeeping.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from infrasight.core.phrases import N_

__all__ = ["NOTES", "HousekeepingRules", "evidence_gone", "load_housekeeping", "superseded"]

#: The packaged file's notes, marked for the ``evidence`` catalogue (a note is a phrase key; a
#: deployment's own note without a translation reads in English).
NOTES = (
    N_(
        "evidence gone for {hours:.0f} h of data (alarms cleared, no change or fault supports "
        "{mechanism!t})"
    ),
    N_(
        "superseded by hazard {survivor} ({mechanism!t}, confidence {confidence:.2f} against "
        "{own:.2f}) for {hours:.0f} h of data"
    ),
    N_("duplicate of hazard {survivor}"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HousekeepingRules:
    """The housekeeping file's data.

    Attributes
    ----------
    quiet_hours : float
        Data time (h) without support after which a hazard resolves.
    max_score : float
        A mechanism scoring above this is still supported by evidence.
    supersede_hours : float
        Data time (h) a damage hazard's mechanism has been off the top before another damage
        mechanism on top supersedes it.
    supersede_margin : float
        Confidence (0-1) by which the top must exceed the hazard's own mechanism.
    resolve_statuses, supersede_statuses, merge_statuses : frozenset of str
        States the rule applies to.
    resolve_note, supersede_note, merge_note : str
        Transition notes, phrase keys (``core.phrases``) with ``hours``, ``mechanism``;
        ``survivor``, ``confidence``, ``own``.
    """

    quiet_hours: float
    max_score: float
    resolve_statuses: frozenset[str]
    resolve_note: str
    merge_statuses: frozenset[str]
    merge_note: str
    supersede_hours: float
    supersede_margin: float
    supersede_statuses: frozenset[str]
    supersede_note: str


def load_housekeeping() -> HousekeepingRules:
    """The packaged rules."""
    text = resources.files("infrasight.reasoning.hazards").joinpath("housekeeping.toml")
    data: dict[str, Any] = tomllib.loads(text.read_text())
    resolve, merge, sup = data["auto_resolve"], data["merge"], data["supersede"]
    return HousekeepingRules(
        quiet_hours=float(resolve["quiet_hours"]),
        max_score=float(resolve["max_score"]),
        resolve_statuses=frozenset(str(s) for s in resolve["statuses"]),
        resolve_note=str(resolve["note"]),
        merge_statuses=frozenset(str(s) for s in merge["statuses"]),
        merge_note=str(merge["note"]),
        supersede_hours=float(sup["held_hours"]),
        supersede_margin=float(sup["margin"]),
        supersede_statuses=frozenset(str(s) for s in sup["statuses"]),
        supersede_note=str(sup["note"]),
    )


def evidence_gone(
    rules: HousekeepingRules,
    *,
    is_top: bool,
    score: float | None,
    unsupported_h: float,
    alarms_active: bool,
) -> bool:
    """Whether a hazard's evidence is gone for long enough to resolve it.

    Parameters
    ----------
    is_top : bool
        Its mechanism is the element's top cause now.
    score : float or None
        Its mechanism's score now (None: not scored).
    unsupported_h : float
        Data time (h) since the mechanism last was the element's top cause.
    alarms_active : bool
        An alarm the hazard links is active or acknowledged.
    """
    supported = score is not None and score > rules.max_score
    return not is_top and not supported and not alarms_active and unsupported_h >= rules.quiet_hours


def superseded(
    rules: HousekeepingRules,
    *,
    is_top: bool,
    top_confidence: float,
    own_confidence: float,
    off_top_h: float,
) -> bool:
    """Whether a damage hazard is superseded by the element's (other) top damage cause.

    Parameters
    ----------
    is_top : bool
        Its mechanism is the element's top cause now.
    top_confidence, own_confidence : float
        Confidence (0-1) of the top cause and of the hazard's mechanism now.
    off_top_h : float
        Data time (h) since the mechanism last was the element's top cause.
    """
    return (
        not is_top
        and top_confidence - own_confidence >= rules.supersede_margin
        and off_top_h >= rules.supersede_hours
    )
