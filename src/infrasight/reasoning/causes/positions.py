"""Where on its element a defect lies: an inspector's face and position along the span turned
into the position vocabulary the mechanism tests read (rules as data, ``positions.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from infrasight.reasoning.errors import DefinitionError

__all__ = ["PositionRules", "load_position_rules", "position_on_element"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRule:
    """A face (one of ``faces``) and a span interval, in fractions of the span, -> a position."""

    faces: frozenset[str]
    position: str
    span_from: float = 0.0
    span_to: float = 1.0
    lower_open: bool = False
    upper_open: bool = False

    def fits(self, face: str, span_fraction: float | None) -> bool:
        """Whether a defect on ``face`` at ``span_fraction`` (None: not recorded) fits."""
        if face not in self.faces:
            return False
        if self.span_from <= 0.0 and self.span_to >= 1.0:
            return True  # any position along the span
        if span_fraction is None:
            return False
        lo = span_fraction > self.span_from if self.lower_open else span_fraction >= self.span_from
        hi = span_fraction < self.span_to if self.upper_open else span_fraction <= self.span_to
        return lo and hi


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRules:
    """The position vocabulary, the faces an inspector can name, and the rules between them."""

    positions: frozenset[str]
    faces: frozenset[str]
    rules: tuple[PositionRule, ...]


def _rule(raw: dict[str, object], positions: frozenset[str], faces: frozenset[str]) -> PositionRule:
    where = f"positions.toml rule {raw}"
    position = raw.get("position")
    rule_faces = raw.get("faces")
    if position not in positions:
        raise DefinitionError(f"{where}: position must be one of {sorted(positions)}")
    if not isinstance(rule_faces, list) or not set(rule_faces) <= faces:
        raise DefinitionError(f"{where}: faces must be a list among {sorted(faces)}")
    bounds = {k: raw[k] for k in ("span_below", "span_above", "span_from", "span_to") if k in raw}
    if not all(isinstance(v, int | float) and 0.0 <= float(v) <= 1.0 for v in bounds.values()):
        raise DefinitionError(f"{where}: span bounds are fractions of the span, 0 to 1")
    lo = float(bounds.get("span_above", bounds.get("span_from", 0.0)))  # type: ignore[arg-type]
    hi = float(bounds.get("span_below", bounds.get("span_to", 1.0)))  # type: ignore[arg-type]
    return PositionRule(
        faces=frozenset(str(f) for f in rule_faces),
        position=str(position),
        span_from=lo,
        span_to=hi,
        lower_open="span_above" in bounds,
        upper_open="span_below" in bounds,
    )


@cache
def load_position_rules() -> PositionRules:
    """The shipped rules (``reasoning/causes/positions.toml``)."""
    text = resources.files("infrasight.reasoning.causes").joinpath("positions.toml").read_text()
    data = tomllib.loads(text)
    positions = frozenset(str(p) for p in data["positions"])
    faces = frozenset(str(f) for f in data["faces"])
    rules = tuple(_rule(r, positions, faces) for r in data.get("rule", []))
    return PositionRules(positions=positions, faces=faces, rules=rules)


def position_on_element(
    face: str, span_fraction: float | None, rules: PositionRules | None = None
) -> str:
    """The position vocabulary word for a defect on ``face`` at ``span_fraction`` of the span
    (0 and 1: the supports; None: not recorded); "" when no rule fits (unknown).

    Parameters
    ----------
    face : str
        One of the rules' faces (soffit, web, deck, pier, edge, joint, surface).
    span_fraction : float or None
        Position along the span, dimensionless, 0 to 1.
    """
    r = rules if rules is not None else load_position_rules()
    return next((rule.position for rule in r.rules if rule.fits(face, span_fraction)), "")
