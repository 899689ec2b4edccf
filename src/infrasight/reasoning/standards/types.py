"""Inputs and results of condition rating."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from infrasight.core.phrases import Phrase
from infrasight.reasoning.evidence import Evidence

__all__ = ["AssetCondition", "ConditionRating", "DefectObservation", "ElementObservation"]

_EMPTY_F: Mapping[str, float] = MappingProxyType({})
_EMPTY_S: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectObservation:
    """One observed defect on an element.

    Attributes
    ----------
    defect_id : str
        Identity of the defect (``"12"``); evidence refers to it.
    kind : str
        ``crack``, ``spall``, ``delamination``, ``exposed_rebar``, ``efflorescence``,
        ``corrosion``, ``leakage``, ... (the standard's file maps kinds to its defects).
    measurements : Mapping[str, float]
        ``width_mm``, ``spacing_mm``, ``depth_mm``, ``diameter_mm``, ``convergence_mm``, ...
    attributes : Mapping[str, str]
        Categorical observations: ``grade`` (``"heavy_buildup_rust"``), ``indicator`` and
        ``class`` for JTG/T H21, ``structural_review`` (``"true"``).
    quantity : float or None
        Extent in the element's quantity unit (m² for decks, m for girders).
    region : str
        Where on the image or element (``"capture:3#bbox=10,20,40,8"``); empty when unknown.
    """

    defect_id: str
    kind: str
    measurements: Mapping[str, float] = field(default_factory=lambda: _EMPTY_F)
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY_S)
    quantity: float | None = None
    region: str = ""

    @property
    def ref(self) -> str:
        """Evidence reference of this defect (with its region when known)."""
        return f"defect:{self.defect_id}" + (f"#{self.region}" if self.region else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementObservation:
    """An element with what a standard may need to rate it.

    Attributes
    ----------
    element_id : str
    element_type : str
        ``deck``, ``girder``, ``pier``, ``abutment``, ``bearing``, ``lining_ring``, ...
    attributes : Mapping[str, str]
        ``material`` (``rc``, ``psc``, ``steel``), ``component`` (NBI: ``deck``,
        ``superstructure``, ``substructure``), ``part`` (JTG/T H21 part key),
        ``nbi_rating`` (an inspector's 0-9 rating), ...
    quantity : float or None
        Total quantity of the element (m² or m), for condition-state distributions.
    defects : tuple of DefectObservation
    measurements : Mapping[str, float]
        Element-level measurements (tunnel ``convergence_mm``).
    """

    element_id: str
    element_type: str
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY_S)
    quantity: float | None = None
    defects: tuple[DefectObservation, ...] = ()
    measurements: Mapping[str, float] = field(default_factory=lambda: _EMPTY_F)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionRating:
    """A rating of one subject (element, component, part or asset) under one standard.

    Attributes
    ----------
    standard : str
        Standard id (``"aashto-mbei"``).
    subject : str
        ``"element:G1"``, ``"component:deck"``, ``"part:superstructure.main"``, ``"asset"``.
    rating : float
        The state, rating, score or grade (CS 1-4; NBI 0-9; JTG score 0-100; grade 0-4).
    label : str
        The class in words (``"CS2 Fair"``, ``"Good"``, ``"class 2"``).
    clause : str
        The clause of the standard the rating follows.
    evidence : tuple of Evidence
        What the rating used.
    quantities : Mapping[str, float]
        Quantity per condition state, when the standard distributes quantities.
    label_phrase, clause_phrase : Phrase or None
        ``label`` / ``clause`` as a message key and parameters, rendered in the reader's
        language by the adapters (None: the text is the data catalogue's own, translated as is).
    """

    standard: str
    subject: str
    rating: float
    label: str
    clause: str
    evidence: tuple[Evidence, ...] = ()
    quantities: Mapping[str, float] = field(default_factory=lambda: _EMPTY_F)
    label_phrase: Phrase | None = None
    clause_phrase: Phrase | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "standard": self.standard,
            "subject": self.subject,
            "rating": self.rating,
            "label": self.label,
            "clause": self.clause,
            "evidence": [e.as_dict() for e in self.evidence],
            "quantities": dict(self.quantities),
            **({"label_message": self.label_phrase.as_dict()} if self.label_phrase else {}),
            **({"clause_message": self.clause_phrase.as_dict()} if self.clause_phrase else {}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetCondition:
    """The ratings of an asset's elements (and intermediate groups) and the summary."""

    standard: str
    elements: tuple[ConditionRating, ...]
    groups: tuple[ConditionRating, ...]
    summary: ConditionRating

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "standard": self.standard,
            "elements": [r.as_dict() for r in self.elements],
            "groups": [r.as_dict() for r in self.groups],
            "summary": self.summary.as_dict(),
        }
