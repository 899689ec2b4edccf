"""The mechanism library: one TOML file per mechanism in ``reasoning/mechanisms``."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from infrasight.core.phrases import Phrase, phrase, phrase_list
from infrasight.reasoning.errors import DefinitionError

__all__ = ["SIGNAL_FEATURES", "Mechanism", "MechanismLibrary", "Test", "load_mechanisms"]

SIGNAL_FEATURES = frozenset(
    {
        "residual_change",
        "corroboration",
        "fault_signature",
        "abrupt",
        "decelerating",
        "load_at_change",
        "accel_at_change",
        "settlement_change",
        "rain_modulation",
        "freeze_modulation",
        "traffic_modulation",
        "moisture_rain_gain",
        "modal_drop",
        "applied_load",
    }
)
_CONTEXT_FIELDS = frozenset({"age_years", "exposure", "material"})
_MATCH_KEYS = frozenset({"kind", "orientation", "position", "max_width_mm", "min_width_mm"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Test:
    """One evidence test of a mechanism.

    ``weight_for`` is added (times the agreement) when the evidence agrees with the mechanism,
    ``weight_against`` subtracted (times the disagreement) when it contradicts it.
    """

    test: str  # signal | defect | context
    weight_for: float
    weight_against: float
    feature: str = ""
    expect: str = "high"  # signal: high | low; defect: present | absent
    match: Mapping[str, Any] | None = None
    field: str = ""
    condition: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        """Short description of the test."""
        if self.test == "signal":
            return f"{self.feature} {self.expect}"
        if self.test == "defect":  # "defect: crack, vertical or diagonal, >= 0.3 mm"
            terms: list[str] = []
            for key, want in (self.match or {}).items():
                if key == "min_width_mm":
                    terms.append(f">= {float(want):g} mm")
                elif key == "max_width_mm":
                    terms.append(f"<= {float(want):g} mm")
                elif isinstance(want, list | tuple):
                    terms.append(" or ".join(str(w) for w in want))
                else:
                    terms.append(f"{key} {want}")
            absent = self.expect == "absent"
            return ("no defect: " if absent else "defect: ") + ", ".join(terms)
        return f"{self.field} " + ", ".join(f"{k} {v}" for k, v in (self.condition or {}).items())

    @property
    def label_phrase(self) -> Phrase:
        """:attr:`label` as a phrase (its English is :attr:`label`), read in each language."""
        if self.test == "signal":
            return phrase("{feature!t} {expect!t}", feature=self.feature, expect=self.expect)
        if self.test == "defect":
            terms: list[Phrase] = []
            for key, want in (self.match or {}).items():
                if key == "min_width_mm":
                    terms.append(phrase(">= {width:g} mm", width=float(want)))
                elif key == "max_width_mm":
                    terms.append(phrase("<= {width:g} mm", width=float(want)))
                elif isinstance(want, list | tuple):
                    words = [phrase("{kind!t}", kind=str(w)) for w in want]
                    terms.append(phrase_list(*words, join="|"))
                else:
                    terms.append(phrase("{key!t} {value!t}", key=key, value=str(want)))
            head = phrase("no defect") if self.expect == "absent" else phrase("defect")
            return phrase_list(head, phrase_list(*terms), join=":")
        conditions = [
            phrase("{field!t} {condition!t} {value!t}", field=self.field, condition=k, value=str(v))
            for k, v in (self.condition or {}).items()
        ]
        return phrase_list(*conditions)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mechanism:
    """A candidate cause and its evidence tests."""

    id: str
    name: str
    damage: bool
    hazard_kind: str
    prior: float
    citation: str
    description: str
    tests: tuple[Test, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MechanismLibrary:
    """All mechanisms plus the calibration of their confidences."""

    mechanisms: Mapping[str, Mechanism]
    temperature: float

    @property
    def ids(self) -> tuple[str, ...]:
        """Mechanism ids, sorted."""
        return tuple(sorted(self.mechanisms))


def _parse_test(raw: Mapping[str, Any], where: str) -> Test:
    kind = raw.get("test")
    try:
        w_for = float(raw["for"])
        w_against = float(raw["against"])
    except (KeyError, TypeError, ValueError):
        raise DefinitionError(f"{where}: 'for' and 'against' weights needed") from None
    if w_for < 0 or w_against < 0:
        raise DefinitionError(f"{where}: weights must be >= 0")
    if kind == "signal":
        feature = raw.get("feature")
        if feature not in SIGNAL_FEATURES:
            raise DefinitionError(f"{where}: unknown feature {feature!r}")
        if raw.get("expect") not in ("high", "low"):
            raise DefinitionError(f"{where}: expect must be high or low")
        return Test(
            test="signal",
            feature=str(feature),
            expect=str(raw["expect"]),
            weight_for=w_for,
            weight_against=w_against,
        )
    if kind == "defect":
        match = raw.get("match")
        if not isinstance(match, dict) or not match or set(match) - _MATCH_KEYS:
            raise DefinitionError(f"{where}: match needs keys among {sorted(_MATCH_KEYS)}")
        expect = raw.get("expect", "present")
        if expect not in ("present", "absent"):
            raise DefinitionError(f"{where}: a defect test expects present or absent")
        return Test(
            test="defect",
            match=match,
            expect=str(expect),
            weight_for=w_for,
            weight_against=w_against,
        )
    if kind == "context":
        field = raw.get("field")
        cond = {k: v for k, v in raw.items() if k in ("lt", "gt", "contains", "equals")}
        if field not in _CONTEXT_FIELDS or len(cond) != 1:
            raise DefinitionError(f"{where}: context test needs a field and one condition")
        return Test(
            test="context",
            field=str(field),
            condition=cond,
            weight_for=w_for,
            weight_against=w_against,
        )
    raise DefinitionError(f"{where}: test must be signal, defect or context")


def _parse(text: str, source: str) -> Mechanism:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DefinitionError(f"{source}: not valid TOML: {err}") from err
    for key in ("id", "name", "hazard_kind", "citation", "description"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise DefinitionError(f"{source}: missing string field {key!r}")
    if not isinstance(data.get("damage"), bool):
        raise DefinitionError(f"{source}: 'damage' must be true or false")
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        raise DefinitionError(f"{source}: 'tests' list missing")
    return Mechanism(
        id=data["id"],
        name=data["name"],
        damage=data["damage"],
        hazard_kind=data["hazard_kind"],
        prior=float(data.get("prior", 0.0)),
        citation=data["citation"],
        description=data["description"],
        tests=tuple(_parse_test(t, f"{source}: tests[{i}]") for i, t in enumerate(tests)),
    )


def load_mechanisms(extra_dirs: Iterable[Path] = ()) -> MechanismLibrary:
    """Load the packaged mechanisms (plus ``*.toml`` in ``extra_dirs``) and the calibration.

    Raises
    ------
    DefinitionError
        A file is malformed or two share an id.
    """
    pkg = resources.files("infrasight.reasoning.mechanisms")
    texts: list[tuple[str, str]] = []
    temperature = 1.0
    for entry in sorted(pkg.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        text = entry.read_text(encoding="utf-8")
        if entry.name == "library.toml":
            cal = tomllib.loads(text).get("calibration", {})
            temperature = float(cal.get("temperature", 1.0))
            continue
        texts.append((text, f"package:{entry.name}"))
    for folder in extra_dirs:
        texts.extend((p.read_text(encoding="utf-8"), str(p)) for p in sorted(folder.glob("*.toml")))
    found: dict[str, Mechanism] = {}
    for text, source in texts:
        mech = _parse(text, source)
        if mech.id in found:
            raise DefinitionError(f"{source}: duplicate mechanism id {mech.id!r}")
        found[mech.id] = mech
    if temperature <= 0:
        raise DefinitionError("library.toml: calibration temperature must be > 0")
    return MechanismLibrary(mechanisms=found, temperature=temperature)
