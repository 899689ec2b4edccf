"""Graded alarm rules declared as data.

A :class:`Rule` watches one or more channels. It has ordered :class:`Level` s (for example
``amber`` < ``red`` < ``action``); each level holds :class:`Limit` s on a *quantity* of the channel:

``value``
    the reading itself (absolute limits, or a percentage of the rule's control value);
``change``
    the cumulative change from the rule's ``baseline`` value;
``rate``
    the rate of change in units per ``rate_unit_s`` seconds over the last ``rate_window_s``.

A level is exceeded when *any* of its limits is exceeded (cumulative-change and rate-of-change
limits evaluated together, whichever is reached first, as in GB 50497). Several channels are
combined with ``combine="any"`` (OR) or ``combine="all"`` (AND). ``persistence_count`` consecutive
readings and ``persistence_s`` seconds must exceed before a level is confirmed (anti-flapping); a
limit clears only once the quantity is back inside it by ``hysteresis`` (same unit as the
quantity). ``no_data_s`` raises a no-data condition when a channel stays silent that long.

Rules round-trip through JSON with :func:`rules_from_json` / :func:`rules_to_json`.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from infrasight.signals.errors import RuleDefinitionError

__all__ = [
    "Level",
    "Limit",
    "Quantity",
    "Rule",
    "rule_from_dict",
    "rule_to_dict",
    "rules_from_json",
    "rules_to_json",
]

Quantity = Literal["value", "change", "rate"]
_QUANTITIES = ("value", "change", "rate")


def _opt_float(x: float | None, what: str) -> None:
    if x is not None and (isinstance(x, bool) or not math.isfinite(float(x))):
        raise RuleDefinitionError(f"{what} must be a finite number, got {x!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """One limit on one quantity of a channel.

    Parameters
    ----------
    quantity : {"value", "change", "rate"}
        What is compared with the limit (see module docstring).
    upper, lower : float, optional
        Absolute limits in the quantity's unit (value unit; value unit per ``rate_unit_s``).
    upper_pct, lower_pct : float, optional
        Limits as a percentage of the rule's ``control_value`` (e.g. 70, 85, 100).
    hysteresis : float
        The limit clears only when the quantity is back inside by this amount (>= 0).
    """

    quantity: Quantity = "value"
    upper: float | None = None
    lower: float | None = None
    upper_pct: float | None = None
    lower_pct: float | None = None
    hysteresis: float = 0.0

    def __post_init__(self) -> None:
        if self.quantity not in _QUANTITIES:
            raise RuleDefinitionError(
                f"limit quantity must be one of {_QUANTITIES}, got {self.quantity!r}"
            )
        for name in ("upper", "lower", "upper_pct", "lower_pct"):
            _opt_float(getattr(self, name), f"limit.{name}")
        _opt_float(self.hysteresis, "limit.hysteresis")
        if self.hysteresis < 0:
            raise RuleDefinitionError(f"limit.hysteresis must be >= 0, got {self.hysteresis}")
        if self.upper is not None and self.upper_pct is not None:
            raise RuleDefinitionError("limit: give either upper or upper_pct, not both")
        if self.lower is not None and self.lower_pct is not None:
            raise RuleDefinitionError("limit: give either lower or lower_pct, not both")
        if all(getattr(self, n) is None for n in ("upper", "lower", "upper_pct", "lower_pct")):
            raise RuleDefinitionError("limit: at least one of upper/lower/upper_pct/lower_pct")
        if self.upper is not None and self.lower is not None and self.lower >= self.upper:
            raise RuleDefinitionError(f"limit: lower {self.lower} must be < upper {self.upper}")

    def resolved(self, control_value: float | None) -> tuple[float, float]:
        """Return ``(lower, upper)`` in absolute units (``-inf`` / ``+inf`` when absent)."""
        up = self.upper
        lo = self.lower
        if self.upper_pct is not None or self.lower_pct is not None:
            if control_value is None:
                raise RuleDefinitionError("percentage limits need the rule's control_value")
            if self.upper_pct is not None:
                up = self.upper_pct / 100.0 * control_value
            if self.lower_pct is not None:
                lo = self.lower_pct / 100.0 * control_value
        return (-math.inf if lo is None else lo, math.inf if up is None else up)


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """One alarm grade: exceeded when any of its limits is exceeded.

    Parameters
    ----------
    name : str
        Grade name shown to users (``amber``, ``red``, ``action``...).
    severity : int
        1 = lowest grade; levels of a rule have strictly increasing severities.
    limits : tuple of Limit
        OR-combined limits.
    """

    name: str
    severity: int
    limits: tuple[Limit, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise RuleDefinitionError("level.name must not be empty")
        if isinstance(self.severity, bool) or int(self.severity) != self.severity:
            raise RuleDefinitionError(f"level {self.name!r}: severity must be an integer")
        if self.severity < 1:
            raise RuleDefinitionError(f"level {self.name!r}: severity must be >= 1")
        if not self.limits:
            raise RuleDefinitionError(f"level {self.name!r}: at least one limit is needed")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A graded alarm rule over one or more channels (see module docstring).

    Parameters
    ----------
    id : str
        Stable identifier (the platform's rule key).
    channels : tuple of str
        Channel keys the rule reads.
    levels : tuple of Level
        Grades in increasing severity.
    combine : {"any", "all"}
        Multi-channel combination: OR or AND of the per-channel grades.
    control_value : float, optional
        Reference for percentage limits (design value, in the value unit).
    baseline : float, optional
        Reference reading for ``change`` limits; when absent the first reading seen is used.
    rate_window_s : float
        Window of the rate-of-change estimate in seconds.
    rate_unit_s : float
        Time unit of rate limits in seconds (86400 = per day).
    persistence_count : int
        Consecutive exceeding readings needed to confirm a level (>= 1).
    persistence_s : float
        Minimum duration of the exceedance in seconds before it is confirmed.
    no_data_s : float, optional
        Silence (seconds) after which a channel is reported as no-data.
    name, description : str
        Free text.
    """

    id: str
    channels: tuple[str, ...]
    levels: tuple[Level, ...]
    combine: Literal["any", "all"] = "any"
    control_value: float | None = None
    baseline: float | None = None
    rate_window_s: float = 3600.0
    rate_unit_s: float = 86400.0
    persistence_count: int = 1
    persistence_s: float = 0.0
    no_data_s: float | None = None
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise RuleDefinitionError("rule.id must not be empty")
        where = f"rule {self.id!r}"
        if not self.channels:
            raise RuleDefinitionError(f"{where}: at least one channel is needed")
        if len(set(self.channels)) != len(self.channels):
            raise RuleDefinitionError(f"{where}: duplicated channel in {self.channels}")
        if not self.levels:
            raise RuleDefinitionError(f"{where}: at least one level is needed")
        sev = [lv.severity for lv in self.levels]
        if any(b <= a for a, b in itertools.pairwise(sev)):
            raise RuleDefinitionError(f"{where}: level severities must increase, got {sev}")
        if len({lv.name for lv in self.levels}) != len(self.levels):
            raise RuleDefinitionError(f"{where}: level names must be unique")
        if self.combine not in ("any", "all"):
            raise RuleDefinitionError(f"{where}: combine must be 'any' or 'all'")
        for name in ("control_value", "baseline", "no_data_s"):
            _opt_float(getattr(self, name), f"{where}.{name}")
        for name in ("rate_window_s", "rate_unit_s"):
            val = getattr(self, name)
            _opt_float(val, f"{where}.{name}")
            if val <= 0:
                raise RuleDefinitionError(f"{where}: {name} must be > 0, got {val}")
        if isinstance(self.persistence_count, bool) or self.persistence_count < 1:
            raise RuleDefinitionError(f"{where}: persistence_count must be an integer >= 1")
        _opt_float(self.persistence_s, f"{where}.persistence_s")
        if self.persistence_s < 0:
            raise RuleDefinitionError(f"{where}: persistence_s must be >= 0")
        if self.no_data_s is not None and self.no_data_s <= 0:
            raise RuleDefinitionError(f"{where}: no_data_s must be > 0")
        for lv in self.levels:
            for lim in lv.limits:
                try:
                    lim.resolved(self.control_value)
                except RuleDefinitionError as err:
                    raise RuleDefinitionError(f"{where}, level {lv.name!r}: {err}") from err

    def level_names(self) -> tuple[str, ...]:
        """Names of the grades, index 1.. (index 0 is ``normal``)."""
        return ("normal", *(lv.name for lv in self.levels))


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """Plain-JSON form of a rule (inverse of :func:`rule_from_dict`)."""
    d = asdict(rule)
    d["channels"] = list(rule.channels)
    d["levels"] = [
        {
            "name": lv.name,
            "severity": lv.severity,
            "limits": [
                {k: v for k, v in asdict(lim).items() if v is not None} for lim in lv.limits
            ],
        }
        for lv in rule.levels
    ]
    return {k: v for k, v in d.items() if v is not None}


def _check_keys(d: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise RuleDefinitionError(f"{where}: expected an object, got {type(d).__name__}")
    unknown = set(d) - allowed
    if unknown:
        raise RuleDefinitionError(f"{where}: unknown field(s) {sorted(unknown)}")
    return d


_RULE_KEYS = {f.name for f in fields(Rule)}
_LIMIT_KEYS = {f.name for f in fields(Limit)}


def rule_from_dict(d: Any) -> Rule:
    """Build a :class:`Rule` from its JSON form, with messages naming the bad field."""
    d = _check_keys(d, _RULE_KEYS, "rule")
    where = f"rule {d.get('id', '?')!r}"
    try:
        levels_raw = d["levels"]
        channels = d["channels"]
    except KeyError as err:
        raise RuleDefinitionError(f"{where}: missing field {err.args[0]!r}") from err
    if isinstance(channels, str) or not isinstance(channels, list):
        raise RuleDefinitionError(f"{where}: channels must be a list of channel keys")
    if not isinstance(levels_raw, list):
        raise RuleDefinitionError(f"{where}: levels must be a list")
    levels = []
    for i, lv in enumerate(levels_raw):
        lv = _check_keys(lv, {"name", "severity", "limits"}, f"{where}.levels[{i}]")
        lims_raw = lv.get("limits", [])
        if not isinstance(lims_raw, list):
            raise RuleDefinitionError(f"{where}.levels[{i}].limits must be a list")
        try:
            lims = tuple(
                Limit(**_check_keys(x, _LIMIT_KEYS, f"{where}.levels[{i}].limits[{j}]"))
                for j, x in enumerate(lims_raw)
            )
            levels.append(
                Level(name=str(lv.get("name", "")), severity=lv.get("severity", i + 1), limits=lims)
            )
        except TypeError as err:
            raise RuleDefinitionError(f"{where}.levels[{i}]: {err}") from err
    rest = {k: v for k, v in d.items() if k not in ("levels", "channels")}
    try:
        return Rule(channels=tuple(str(c) for c in channels), levels=tuple(levels), **rest)
    except TypeError as err:
        raise RuleDefinitionError(f"{where}: {err}") from err


def rules_from_json(text: str) -> tuple[Rule, ...]:
    """Parse a JSON document: a rule object, a list of rules or ``{"rules": [...]}``."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise RuleDefinitionError(f"rules file is not valid JSON: {err}") from err
    if isinstance(doc, dict) and "rules" in doc:
        doc = doc["rules"]
    items = doc if isinstance(doc, list) else [doc]
    rules = tuple(rule_from_dict(x) for x in items)
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise RuleDefinitionError(f"duplicated rule id in {ids}")
    return rules


def rules_to_json(rules: tuple[Rule, ...] | list[Rule]) -> str:
    """Serialise rules to the JSON form read by :func:`rules_from_json`."""
    return json.dumps({"rules": [rule_to_dict(r) for r in rules]}, indent=2)
