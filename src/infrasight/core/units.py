"""Units at the edges: pint parses and converts, the rest of the code sees plain floats.

Each channel declares a quantity and a unit. A reading may arrive in any unit compatible with
that quantity; :func:`converter` gives the affine map ``value * scale + offset`` into the
channel's unit, cached, so a batch is converted with one vectorised multiply-add.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pint

from infrasight.core.errors import InvalidInputError

__all__ = [
    "QUANTITY_REFERENCE_UNITS",
    "UnitConverter",
    "check_unit_for_quantity",
    "converter",
    "normalise_unit",
]

_registry: pint.UnitRegistry[float] = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
_registry.define("microstrain = 1e-6 = µε = ue = microepsilon")
_registry.define("strain_unit = 1 = epsilon")

#: Quantity name -> a unit of the right dimension (the check compares dimensions only).
QUANTITY_REFERENCE_UNITS: dict[str, str] = {
    "strain": "microstrain",
    "displacement": "mm",
    "crack_width": "mm",
    "settlement": "mm",
    "convergence": "mm",
    "deflection": "mm",
    "length": "m",
    "tilt": "degree",
    "inclination": "degree",
    "temperature": "degC",
    "humidity": "percent",
    "water_ingress": "L/min",
    "flow": "L/min",
    "acceleration": "m/s**2",
    "velocity": "mm/s",
    "force": "kN",
    "pressure": "kPa",
    "stress": "MPa",
    "frequency": "Hz",
    "rainfall": "mm",
    "voltage": "V",
    "dimensionless": "dimensionless",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitConverter:
    """Affine map into a target unit: ``target = source * scale + offset``."""

    scale: float
    offset: float

    @property
    def is_identity(self) -> bool:
        """True when conversion changes nothing."""
        return self.scale == 1.0 and self.offset == 0.0


@lru_cache(maxsize=1024)
def _parse(unit: str) -> pint.Unit:
    if not unit.strip():
        raise InvalidInputError("unknown unit '' (empty)", field="unit")
    try:
        return _registry.Unit(unit)
    except (
        pint.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        ValueError,
        TypeError,
    ) as err:
        raise InvalidInputError(f"unknown unit {unit!r}", field="unit") from err
    except Exception as err:  # pint raises assorted parser errors for garbage strings
        raise InvalidInputError(f"unknown unit {unit!r}", field="unit") from err


def normalise_unit(unit: str) -> str:
    """Return pint's canonical spelling of ``unit``; raise :class:`InvalidInputError` if unknown."""
    return f"{_parse(unit):~}" or unit


def check_unit_for_quantity(quantity: str, unit: str) -> None:
    """Raise :class:`InvalidInputError` unless ``unit`` can measure ``quantity``."""
    reference = QUANTITY_REFERENCE_UNITS.get(quantity)
    if reference is None:
        known = ", ".join(sorted(QUANTITY_REFERENCE_UNITS))
        raise InvalidInputError(f"unknown quantity {quantity!r}; known: {known}", field="quantity")
    parsed = _parse(unit)
    if parsed.dimensionality != _parse(reference).dimensionality:
        raise InvalidInputError(
            f"unit {unit!r} cannot measure {quantity} (needs a unit like {reference!r})",
            field="unit",
        )


@lru_cache(maxsize=4096)
def converter(source: str, target: str) -> UnitConverter:
    """Affine converter from ``source`` to ``target`` unit.

    Raises
    ------
    InvalidInputError
        When either unit is unknown or the two are not of the same dimension.
    """
    if source == target:
        return UnitConverter(scale=1.0, offset=0.0)
    src, dst = _parse(source), _parse(target)
    if src.dimensionality != dst.dimensionality:
        raise InvalidInputError(f"unit {source!r} is not compatible with {target!r}", field="unit")
    zero = float(_registry.Quantity(0.0, src).to(dst).magnitude)
    one = float(_registry.Quantity(1.0, src).to(dst).magnitude)
    return UnitConverter(scale=one - zero, offset=zero)
