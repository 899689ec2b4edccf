"""The remediation catalogue: which actions fix a hazard, ranked, with urgency and sources.

The catalogue is data: ``reasoning/remediation/*.toml`` hold ``[[action]]`` tables (mechanisms,
activity, exposure and risk bands they apply to, a priority, a base urgency in days, the
expected effect and the source) and ``catalogue.toml`` the urgency factors per risk band and
how the activity of a hazard is read from its evidence. This module loads and validates them
and ranks the actions for one hazard; it does no I/O beyond reading its TOML files.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from infrasight.reasoning.errors import DefinitionError

__all__ = [
    "Activity",
    "ActivityRules",
    "Recommendation",
    "RemediationAction",
    "RemediationCatalogue",
    "infer_activity",
    "load_catalogue",
    "recommend",
]

SETTINGS_FILE = "catalogue.toml"
_ACTION_KEYS = frozenset(
    {
        "id",
        "name",
        "mechanisms",
        "activity",
        "exposure",
        "bands",
        "priority",
        "urgency_days",
        "effect",
        "source",
    }
)
_REQUIRED = ("id", "name", "mechanisms", "activity", "priority", "urgency_days", "effect", "source")


class Activity(StrEnum):
    """Whether the damage still moves: a dormant crack, an active one, or one that leaks."""

    DORMANT = "dormant"
    ACTIVE = "active"
    LEAKING = "leaking"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemediationAction:
    """One row of the catalogue.

    Attributes
    ----------
    id, name : str
    mechanisms : frozenset of str
        Mechanism ids (``reasoning/mechanisms``) the action treats.
    activity : frozenset of Activity
        Activities it suits.
    exposure : frozenset of str
        Exposures it needs (``chloride``, ``freeze_thaw``); empty = any.
    bands : frozenset of str
        Risk bands it applies to; empty = any.
    priority : int
        1 = first choice among the actions that apply.
    urgency_days : int
        Base urgency in days at risk band ``medium``.
    effect, source : str
        What it achieves, and the standard or guide it comes from.
    """

    id: str
    name: str
    mechanisms: frozenset[str]
    activity: frozenset[Activity]
    exposure: frozenset[str]
    bands: frozenset[str]
    priority: int
    urgency_days: int
    effect: str
    source: str

    def applies(
        self, mechanism: str, activity: Activity, band: str, exposure: frozenset[str]
    ) -> bool:
        """Whether the action suits a hazard with these properties."""
        return (
            mechanism in self.mechanisms
            and activity in self.activity
            and (not self.bands or band in self.bands)
            and (not self.exposure or bool(self.exposure & exposure))
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityRules:
    """How the activity of a hazard is read from what it carries."""

    leaking_mechanisms: frozenset[str]
    leaking_defects: frozenset[str]
    active_evidence: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class RemediationCatalogue:
    """All actions and the catalogue's settings."""

    actions: tuple[RemediationAction, ...]
    urgency_factor: Mapping[str, float]
    activity_rules: ActivityRules

    def get(self, action_id: str) -> RemediationAction | None:
        """The action with this id, or None."""
        return next((a for a in self.actions if a.id == action_id), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Recommendation:
    """A ranked action for one hazard.

    Attributes
    ----------
    rank : int
        1 = recommended.
    action : RemediationAction
    urgency_days : int
        Days until it should be done, scaled by the hazard's risk band (at least 1).
    """

    rank: int
    action: RemediationAction
    urgency_days: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        a = self.action
        return {
            "rank": self.rank,
            "action": a.id,
            "name": a.name,
            "priority": a.priority,
            "urgency_days": self.urgency_days,
            "effect": a.effect,
            "source": a.source,
        }


def _strings(value: Any, where: str, key: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise DefinitionError(f"{where}: {key!r} must be a list of non-empty strings")
    return frozenset(value)


def _positive_int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DefinitionError(f"{where}: {key!r} must be a positive integer, got {value!r}")
    return value


def _action(raw: Mapping[str, Any], where: str, bands: Iterable[str]) -> RemediationAction:
    unknown = set(raw) - _ACTION_KEYS
    if unknown:
        raise DefinitionError(f"{where}: unknown keys {sorted(unknown)}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise DefinitionError(f"{where}: missing {missing}")
    for key in ("id", "name", "effect", "source"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise DefinitionError(f"{where}: {key!r} must be a non-empty string")
    where = f"{where} ({raw['id']})"
    activity = _strings(raw["activity"], where, "activity")
    bad = activity - {a.value for a in Activity}
    if bad:
        raise DefinitionError(f"{where}: unknown activity {sorted(bad)}")
    row_bands = _strings(raw.get("bands", []), where, "bands") if raw.get("bands") else frozenset()
    if row_bands - set(bands):
        raise DefinitionError(f"{where}: unknown risk bands {sorted(row_bands - set(bands))}")
    exposure: frozenset[str] = frozenset()
    if raw.get("exposure"):
        exposure = _strings(raw["exposure"], where, "exposure")
    return RemediationAction(
        id=raw["id"],
        name=raw["name"],
        mechanisms=_strings(raw["mechanisms"], where, "mechanisms"),
        activity=frozenset(Activity(a) for a in activity),
        exposure=exposure,
        bands=row_bands,
        priority=_positive_int(raw["priority"], where, "priority"),
        urgency_days=_positive_int(raw["urgency_days"], where, "urgency_days"),
        effect=raw["effect"].strip(),
        source=raw["source"].strip(),
    )


def _settings(data: Mapping[str, Any], where: str) -> tuple[Mapping[str, float], ActivityRules]:
    factors = data.get("urgency_factor")
    if not isinstance(factors, dict) or not factors:
        raise DefinitionError(f"{where}: [urgency_factor] table missing")
    for band, f in factors.items():
        if isinstance(f, bool) or not isinstance(f, int | float) or f <= 0:
            raise DefinitionError(f"{where}: urgency factor of {band!r} must be > 0")
    rules = data.get("activity")
    if not isinstance(rules, dict):
        raise DefinitionError(f"{where}: [activity] table missing")
    try:
        act = ActivityRules(
            leaking_mechanisms=_strings(rules["leaking_mechanisms"], where, "leaking_mechanisms"),
            leaking_defects=_strings(rules["leaking_defects"], where, "leaking_defects"),
            active_evidence=_strings(rules["active_evidence"], where, "active_evidence"),
        )
    except KeyError as err:
        raise DefinitionError(f"{where}: [activity] lacks {err.args[0]!r}") from None
    return MappingProxyType({str(k): float(v) for k, v in factors.items()}), act


def _files(folder: Path | None) -> list[tuple[str, str]]:
    root: Traversable | Path = (
        folder
        if folder is not None
        else resources.files("infrasight.reasoning").joinpath("remediation")
    )
    return sorted(
        (p.name, p.read_text(encoding="utf-8")) for p in root.iterdir() if p.name.endswith(".toml")
    )


def load_catalogue(folder: Path | None = None) -> RemediationCatalogue:
    """Load and validate the catalogue (the packaged one, or the TOML files in ``folder``).

    Raises
    ------
    DefinitionError
        A file does not parse, lacks a key, has an unknown key or value, or two actions share
        an id; the message names the file and the action.
    """
    files = _files(folder)
    texts = dict(files)
    if SETTINGS_FILE not in texts:
        raise DefinitionError(f"remediation catalogue: {SETTINGS_FILE} missing")
    try:
        parsed = {name: tomllib.loads(text) for name, text in files}
    except tomllib.TOMLDecodeError as err:
        raise DefinitionError(f"remediation catalogue: {err}") from err
    factors, rules = _settings(parsed[SETTINGS_FILE], SETTINGS_FILE)
    actions: list[RemediationAction] = []
    for name, data in parsed.items():
        if name == SETTINGS_FILE:
            continue
        if set(data) - {"action"}:
            raise DefinitionError(f"{name}: only [[action]] tables are allowed")
        for i, raw in enumerate(data.get("action", [])):
            actions.append(_action(raw, f"{name} action {i + 1}", factors))
    ids = [a.id for a in actions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DefinitionError(f"remediation catalogue: duplicate action ids {dupes}")
    return RemediationCatalogue(
        actions=tuple(actions), urgency_factor=factors, activity_rules=rules
    )


def infer_activity(
    catalogue: RemediationCatalogue,
    *,
    mechanism: str,
    evidence_kinds: Iterable[str],
    defect_kinds: Iterable[str] = (),
) -> Activity:
    """The activity of a hazard from its mechanism, evidence kinds and defect kinds.

    Leaking when the mechanism or a defect says water comes through, active when measurements
    show a change (the catalogue's ``active_evidence`` kinds), dormant otherwise.
    """
    rules = catalogue.activity_rules
    if mechanism in rules.leaking_mechanisms or rules.leaking_defects & set(defect_kinds):
        return Activity.LEAKING
    if rules.active_evidence & set(evidence_kinds):
        return Activity.ACTIVE
    return Activity.DORMANT


def recommend(
    catalogue: RemediationCatalogue,
    *,
    mechanism: str,
    band: str,
    activity: Activity,
    exposure: frozenset[str] = frozenset(),
) -> tuple[Recommendation, ...]:
    """The actions that apply to a hazard, ranked by priority then urgency then id.

    Parameters
    ----------
    mechanism : str
        The hazard's top cause.
    band : str
        Its risk band (a key of the catalogue's urgency factors).
    activity : Activity
    exposure : frozenset of str
        The element's exposures (``chloride``, ``freeze_thaw``).

    Returns
    -------
    tuple of Recommendation
        Empty when no action applies.

    Raises
    ------
    DefinitionError
        ``band`` has no urgency factor.
    """
    if band not in catalogue.urgency_factor:
        raise DefinitionError(
            f"risk band {band!r} has no urgency factor; known: {sorted(catalogue.urgency_factor)}"
        )
    factor = catalogue.urgency_factor[band]
    rows = sorted(
        (a for a in catalogue.actions if a.applies(mechanism, activity, band, exposure)),
        key=lambda a: (a.priority, a.urgency_days, a.id),
    )
    return tuple(
        Recommendation(rank=i + 1, action=a, urgency_days=max(1, round(a.urgency_days * factor)))
        for i, a in enumerate(rows)
    )
