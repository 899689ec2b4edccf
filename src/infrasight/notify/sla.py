"""Service levels as data: which unattended item escalates when, and how often it repeats.

Pure: the rules come from ``sla.toml`` (or a file named in the settings); :func:`due_step` says
which escalation step an item has reached at a moment. The sweep (``services/notify/sweep.py``)
records each step once, so running it again in the same step changes nothing.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from infrasight.notify.kinds import EVENT_KINDS

__all__ = ["SUBJECTS", "SlaError", "SlaPolicy", "SlaRule", "due_step", "load_sla"]

SUBJECTS = ("alarm", "hazard", "work_order")


class SlaError(ValueError):
    """An SLA file that is malformed; the message names the rule and the field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaRule:
    """One escalation ladder.

    Attributes
    ----------
    id
        Unique name, recorded with every escalation.
    subject
        ``alarm``, ``hazard`` or ``work_order``.
    event
        The notification event kind an escalation produces.
    statuses
        Statuses of the subject that count as unattended.
    min_severity
        Lowest severity (0-5) the rule applies to.
    first_after_h
        Hours after the clock starts before step 1, h.
    repeat_every_h
        Hours between further steps (reminders until attended), h.
    max_steps
        Last step; no reminders after it.
    clock
        ``start`` (an alarm's raise, a hazard's opening, a work order's creation) or ``due``
        (a work order's due date).
    """

    id: str
    subject: str
    event: str
    statuses: frozenset[str]
    min_severity: int
    first_after_h: float
    repeat_every_h: float
    max_steps: int
    clock: str = "start"

    def __post_init__(self) -> None:
        where = f"SLA rule {self.id!r}"
        if self.subject not in SUBJECTS:
            raise SlaError(f"{where}: subject must be one of {', '.join(SUBJECTS)}")
        if self.event not in EVENT_KINDS:
            raise SlaError(f"{where}: event {self.event!r} is not an event kind")
        if not self.statuses:
            raise SlaError(f"{where}: statuses may not be empty")
        if not 0 <= self.min_severity <= 5:
            raise SlaError(f"{where}: min_severity must be 0-5")
        if not (math.isfinite(self.first_after_h) and self.first_after_h >= 0):
            raise SlaError(f"{where}: first_after_h must be >= 0")
        if not (math.isfinite(self.repeat_every_h) and self.repeat_every_h > 0):
            raise SlaError(f"{where}: repeat_every_h must be > 0")
        if self.clock not in ("start", "due") or (
            self.clock == "due" and self.subject != "work_order"
        ):
            raise SlaError(f"{where}: clock must be 'start' (or 'due' for work orders)")
        if self.max_steps < 1:
            raise SlaError(f"{where}: max_steps must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaPolicy:
    """The rules of every subject, in file order, and the file's citation."""

    rules: tuple[SlaRule, ...]
    citation: str

    def rules_for(self, subject: str, status: str, severity: int) -> list[SlaRule]:
        """The rules that apply to an item of ``subject`` in ``status`` at ``severity``: per
        event kind, the first in file order whose statuses and severity match."""
        chosen: dict[str, SlaRule] = {}
        for rule in self.rules:
            if rule.subject != subject or status not in rule.statuses or rule.event in chosen:
                continue
            if severity >= rule.min_severity:
                chosen[rule.event] = rule
        return list(chosen.values())


def due_step(rule: SlaRule, *, anchor_s: float, now_s: float) -> int:
    """The escalation step reached ``now_s`` for a clock started at ``anchor_s`` (0: none yet).

    Step 1 falls ``first_after_h`` after the anchor, then one more every ``repeat_every_h``, up
    to ``max_steps``. Times are Unix seconds.
    """
    elapsed_h = (now_s - anchor_s) / 3600.0 - rule.first_after_h
    if elapsed_h < 0:
        return 0
    return min(rule.max_steps, 1 + math.floor(elapsed_h / rule.repeat_every_h))


def _rule(raw: dict[str, Any], index: int) -> SlaRule:
    name = str(raw.get("id", f"#{index + 1}"))
    try:
        return SlaRule(
            id=name,
            subject=str(raw["subject"]),
            event=str(raw["event"]),
            statuses=frozenset(str(s) for s in raw["statuses"]),
            min_severity=int(raw.get("min_severity", 0)),
            first_after_h=float(raw["first_after_h"]),
            repeat_every_h=float(raw["repeat_every_h"]),
            max_steps=int(raw.get("max_steps", 1)),
            clock=str(raw.get("clock", "start")),
        )
    except KeyError as err:
        raise SlaError(f"SLA rule {name!r}: missing field {err.args[0]!r}") from err
    except (TypeError, ValueError) as err:
        if isinstance(err, SlaError):
            raise
        raise SlaError(f"SLA rule {name!r}: {err}") from err


def load_sla(path: Path | None = None) -> SlaPolicy:
    """Read and validate an SLA file (the packaged defaults when ``path`` is None).

    Raises
    ------
    SlaError
        Malformed TOML, a bad field (named), or two rules with one id.
    """
    if path is None:
        text = (resources.files("infrasight.notify") / "sla.toml").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SlaError(f"SLA file is not valid TOML: {err}") from err
    raw_rules: Sequence[dict[str, Any]] = doc.get("rules", [])
    rules = tuple(_rule(raw, i) for i, raw in enumerate(raw_rules))
    ids = [r.id for r in rules]
    duplicate = sorted({i for i in ids if ids.count(i) > 1})
    if duplicate:
        raise SlaError(f"SLA rule ids must be unique: {duplicate}")
    return SlaPolicy(rules=rules, citation=str(doc.get("citation", "")))
