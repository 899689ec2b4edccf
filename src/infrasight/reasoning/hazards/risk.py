"""Risk on a 5 x 5 matrix: likelihood x consequence, both 1-5."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from infrasight.core.phrases import N_, Phrase, PhraseParam, phrase
from infrasight.reasoning.errors import OutOfRangeError

__all__ = ["Risk", "RiskMatrix", "assess_risk", "load_risk_matrix"]


#: The hazard kinds, translated in the basis phrase (``{kind!t}``).
HAZARD_KINDS = (N_("structural"), N_("durability"), N_("maintenance"), N_("none"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskMatrix:
    """The matrix's data (``hazards/risk.toml``)."""

    likelihood_bounds: tuple[float, ...]
    bands: tuple[tuple[str, int], ...]
    adjustment: Mapping[str, int]
    citation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Risk:
    """Likelihood, consequence, their product and its band, with how each was reached."""

    likelihood: int
    consequence: int
    score: int
    band: str
    probability: float
    basis: str
    basis_phrase: Phrase | None = None  # ``basis`` as a message key and parameters

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "likelihood": self.likelihood,
            "consequence": self.consequence,
            "score": self.score,
            "band": self.band,
            "probability": self.probability,
            "basis": self.basis,
            **({"basis_message": self.basis_phrase.as_dict()} if self.basis_phrase else {}),
        }


def load_risk_matrix() -> RiskMatrix:
    """The packaged matrix."""
    text = resources.files("infrasight.reasoning.hazards").joinpath("risk.toml").read_text()
    data: dict[str, Any] = tomllib.loads(text)
    return RiskMatrix(
        likelihood_bounds=tuple(float(b) for b in data["likelihood_bounds"]),
        bands=tuple((str(b["label"]), int(b["max"])) for b in data["bands"]),
        adjustment={str(k): int(v) for k, v in data["consequence_adjustment"].items()},
        citation=str(data["citation"]),
    )


def _level(name: str, value: int) -> int:
    if not 1 <= value <= 5:
        raise OutOfRangeError(f"must be 1-5, got {value}", field=name)
    return value


def assess_risk(
    matrix: RiskMatrix,
    *,
    cause_confidence: float,
    progression_probability: float | None,
    asset_criticality: int,
    element_criticality: int,
    hazard_kind: str,
) -> Risk:
    """Risk of one hazard.

    Parameters
    ----------
    cause_confidence : float
        Confidence (0-1) of the hazard's mechanism as the cause.
    progression_probability : float or None
        Probability (0-1) that the element reaches its next condition state or a limit within a
        year (from the prediction); None when there is no prediction.
    asset_criticality, element_criticality : int
        1 (minor) to 5 (critical).
    hazard_kind : str
        ``structural``, ``durability``, ``maintenance`` or ``none``.

    Returns
    -------
    Risk
        The likelihood level bins ``p = confidence x (0.5 + 0.5 P(progress))`` (``p =
        confidence`` without a prediction) at the matrix's bounds; the consequence is
        ``ceil((asset + element) / 2)`` plus the kind's adjustment, clamped to 1-5.
    """
    for name, v in (
        ("cause_confidence", cause_confidence),
        ("progression_probability", progression_probability),
    ):
        if v is not None and not (0.0 <= v <= 1.0 and math.isfinite(v)):
            raise OutOfRangeError(f"must be in [0, 1], got {v}", field=name)
    a = _level("asset_criticality", asset_criticality)
    e = _level("element_criticality", element_criticality)
    if hazard_kind not in matrix.adjustment:
        raise OutOfRangeError(
            f"unknown hazard kind {hazard_kind!r}; known: {', '.join(matrix.adjustment)}",
            field="hazard_kind",
        )
    p = cause_confidence
    if progression_probability is not None:
        p = cause_confidence * (0.5 + 0.5 * progression_probability)
    likelihood = 1 + sum(p >= b for b in matrix.likelihood_bounds)
    consequence = min(5, max(1, math.ceil((a + e) / 2) + matrix.adjustment[hazard_kind]))
    score = likelihood * consequence
    band = next(label for label, top in matrix.bands if score <= top)
    terms: dict[str, PhraseParam] = {
        "confidence": cause_confidence,
        "asset": a,
        "element": e,
        "adjustment": matrix.adjustment[hazard_kind],
        "kind": hazard_kind,
    }
    said = (
        phrase(
            "cause confidence {confidence:.2f}; consequence ceil(({asset} + {element}) / 2) "
            "{adjustment:+d} for {kind!t}",
            **terms,
        )
        if progression_probability is None
        else phrase(
            "cause confidence {confidence:.2f} x (0.5 + 0.5 P(progress within 1 year) "
            "{progress:.2f}); consequence ceil(({asset} + {element}) / 2) {adjustment:+d} "
            "for {kind!t}",
            progress=progression_probability,
            **terms,
        )
    )
    return Risk(
        likelihood=likelihood,
        consequence=consequence,
        score=score,
        band=band,
        probability=p,
        basis=said.english(),
        basis_phrase=said,
    )
