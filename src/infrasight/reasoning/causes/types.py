"""Inputs and results of cause inference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from infrasight.reasoning.evidence import Evidence

__all__ = [
    "CauseResult",
    "ChannelData",
    "ChannelRole",
    "DefectEvidence",
    "ElementContext",
    "Inference",
    "Observations",
]

FloatArray = npt.NDArray[np.float64]


class ChannelRole(StrEnum):
    """What a channel measures at the element."""

    RESPONSE = "response"  # crack opening, strain, displacement of the element
    SETTLEMENT = "settlement"  # vertical movement or tilt of a support
    MOISTURE = "moisture"  # leak / wetness sensor
    ACCELERATION = "acceleration"  # peak acceleration per sample interval
    FREQUENCY = "frequency"  # an identified natural frequency


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelData:
    """One channel's series at the element.

    Attributes
    ----------
    key : str
        Channel key; evidence refers to ``channel:<key>[t0/t1]``.
    role : ChannelRole
    times_h : ndarray, shape (n,)
        Sample times in hours from the observation origin, increasing.
    values : ndarray, shape (n,)
        Values in the channel's unit (NaN = missing).
    unit : str
    judged_until : int, optional
        Samples from this index on are not yet due: their absence is data still on its way (a
        backfill sent channel by channel), not evidence of a fault. None: all are due.
    """

    key: str
    role: ChannelRole
    times_h: FloatArray
    values: FloatArray
    unit: str = ""
    judged_until: int | None = None

    def __post_init__(self) -> None:
        if self.times_h.shape != self.values.shape or self.times_h.ndim != 1:
            raise ValueError(f"channel {self.key}: times_h and values must be equal 1-D arrays")


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectEvidence:
    """A defect seen on the element, as the cause tests read it.

    Attributes
    ----------
    defect_id : str
    kind : str
        ``crack``, ``spall``, ``scaling``, ``rust_staining``, ``leakage``, ``efflorescence``.
    orientation : str
        For cracks: ``transverse``, ``diagonal``, ``longitudinal``, ``map``, ``vertical``.
    position : str
        ``midspan_soffit``, ``near_support``, ``along_bar``, ``pier``, ``edge``, ``weld_toe``,
        ``joint``, ``surface``.
    width_mm : float or None
    region : str
        Image or element region (``"capture:3#bbox=..."``).
    """

    defect_id: str
    kind: str
    orientation: str = ""
    position: str = ""
    width_mm: float | None = None
    region: str = ""

    @property
    def ref(self) -> str:
        """Evidence reference."""
        return f"defect:{self.defect_id}" + (f"#{self.region}" if self.region else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementContext:
    """What is known about the element itself; None for a fact that is not known (no evidence
    either way: an empty exposure set is known to be benign, None is not recorded)."""

    element_id: str
    material: str | None = "rc"  # rc, psc, steel
    age_years: float | None = None
    exposure: frozenset[str] | None = frozenset()  # "freeze_thaw", "chloride", "water"


_EMPTY: Mapping[str, FloatArray] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Observations:
    """Everything the cause tests may read for one element.

    Attributes
    ----------
    context : ElementContext
    times_h : ndarray, shape (n,)
        Common hourly grid of the drivers, hours from the origin.
    drivers : Mapping[str, ndarray]
        ``temperature`` (°C), ``rain`` (mm/h), ``water_level`` (m), ``traffic`` (kN or
        vehicles/h) on ``times_h``; any may be absent.
    channels : tuple of ChannelData
    defects : tuple of DefectEvidence
    alarms : Mapping[str, str]
        Alarm id -> channel key of alarms raised on the element (cited as evidence).
    """

    context: ElementContext
    times_h: FloatArray
    drivers: Mapping[str, FloatArray] = field(default_factory=lambda: _EMPTY)
    channels: tuple[ChannelData, ...] = ()
    defects: tuple[DefectEvidence, ...] = ()
    alarms: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True, kw_only=True)
class CauseResult:
    """One candidate mechanism with its confidence and the evidence for and against it."""

    mechanism: str
    name: str
    damage: bool
    hazard_kind: str
    confidence: float
    score: float
    citation: str
    evidence_for: tuple[Evidence, ...]
    evidence_against: tuple[Evidence, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "mechanism": self.mechanism,
            "name": self.name,
            "damage": self.damage,
            "hazard_kind": self.hazard_kind,
            "confidence": self.confidence,
            "score": self.score,
            "citation": self.citation,
            "evidence_for": [e.as_dict() for e in self.evidence_for],
            "evidence_against": [e.as_dict() for e in self.evidence_against],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Inference:
    """Ranked causes for one element (highest confidence first)."""

    element_id: str
    causes: tuple[CauseResult, ...]
    features: Mapping[str, float | None]

    @property
    def top(self) -> CauseResult:
        """The most likely cause."""
        return self.causes[0]
