"""Threshold bins and categories as declared in the data files."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from infrasight.core.phrases import phrase
from infrasight.reasoning.errors import DefinitionError, OutOfRangeError

__all__ = ["bin_state", "validate_bins"]

_OPS = {
    "lt": lambda v, t: v < t,
    "le": lambda v, t: v <= t,
    "gt": lambda v, t: v > t,
    "ge": lambda v, t: v >= t,
}


def validate_bins(bins: Any, where: str) -> None:
    """Check a bin list: tables with ``state`` and at most one comparison, the last open."""
    if not isinstance(bins, list) or not bins:
        raise DefinitionError(f"{where}: bins must be a non-empty list")
    for i, b in enumerate(bins):
        if not isinstance(b, dict) or not isinstance(b.get("state"), int):
            raise DefinitionError(f"{where}: bin {i} needs an integer 'state'")
        ops = [k for k in b if k != "state"]
        if any(k not in _OPS for k in ops) or len(ops) > 1:
            raise DefinitionError(f"{where}: bin {i} may hold one of {sorted(_OPS)}")
        if i == len(bins) - 1 and ops:
            raise DefinitionError(f"{where}: the last bin must be open (no comparison)")
        if i < len(bins) - 1 and not ops:
            raise DefinitionError(f"{where}: only the last bin may be open")


def bin_state(value: float, bins: Sequence[Mapping[str, Any]], *, field: str) -> int:
    """The state of the first bin whose comparison holds for ``value``.

    Raises
    ------
    OutOfRangeError
        ``value`` is negative, NaN or infinite (measurements here are widths, depths, lengths).
    """
    if not math.isfinite(value) or value < 0.0:
        raise OutOfRangeError(
            field=field,
            phrase=phrase("must be a finite value >= 0, got {value}", value=repr(value)),
        )
    for b in bins:
        ops = [k for k in b if k != "state"]
        if not ops or _OPS[ops[0]](value, float(b[ops[0]])):
            return int(b["state"])
    raise AssertionError("validated bins end with an open bin")  # pragma: no cover
