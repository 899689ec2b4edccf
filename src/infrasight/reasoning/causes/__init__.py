"""Root-cause inference: a mechanism library as data and explainable ranked causes."""

from infrasight.reasoning.causes.features import Feature, compute_features, damage_signal
from infrasight.reasoning.causes.infer import infer_causes, score_mechanism
from infrasight.reasoning.causes.library import Mechanism, MechanismLibrary, load_mechanisms
from infrasight.reasoning.causes.types import (
    CauseResult,
    ChannelData,
    ChannelRole,
    DefectEvidence,
    ElementContext,
    Inference,
    Observations,
)

__all__ = [
    "CauseResult",
    "ChannelData",
    "ChannelRole",
    "DefectEvidence",
    "ElementContext",
    "Feature",
    "Inference",
    "Mechanism",
    "MechanismLibrary",
    "Observations",
    "compute_features",
    "damage_signal",
    "infer_causes",
    "load_mechanisms",
    "score_mechanism",
]
