"""Hazards: evidence grouping, the lifecycle table and the 5 x 5 risk matrix."""

from infrasight.reasoning.hazards.grouping import (
    ExistingHazard,
    HazardEvidence,
    HazardPlan,
    evidence_identity,
    group_evidence,
)
from infrasight.reasoning.hazards.lifecycle import (
    TRANSITIONS,
    HazardAction,
    HazardStatus,
    Transition,
    action_to,
    allowed_actions,
    allowed_targets,
    apply_action,
)
from infrasight.reasoning.hazards.risk import Risk, RiskMatrix, assess_risk, load_risk_matrix

__all__ = [
    "TRANSITIONS",
    "ExistingHazard",
    "HazardAction",
    "HazardEvidence",
    "HazardPlan",
    "HazardStatus",
    "Risk",
    "RiskMatrix",
    "Transition",
    "action_to",
    "allowed_actions",
    "allowed_targets",
    "apply_action",
    "assess_risk",
    "evidence_identity",
    "group_evidence",
    "load_risk_matrix",
]
