"""Signal analytics: graded alarm rules, anomaly scores, modal analysis, forecasts.

A pure library (numpy and scipy only). The platform calls, per stored reading batch,
:func:`evaluate_rule` (alarm rules, with a JSON-serialisable :class:`RuleState`), the lifecycle
functions (:func:`apply_transition`, :func:`apply_no_data`, :func:`acknowledge`,
:func:`check_escalation`) and :func:`score_online` (anomaly score with :class:`AnomalyState`).
"""

from infrasight.signals.anomaly import (
    AnomalyState,
    anomaly_scores,
    score_online,
    score_online_many,
    score_series,
)
from infrasight.signals.changepoint import ChangePoints, block_means, detect_change_points
from infrasight.signals.compensation import CompensationModel, driver_values, fit_compensation
from infrasight.signals.errors import (
    InputDataError,
    LifecycleError,
    NotEnoughDataError,
    RuleDefinitionError,
    SignalsError,
)
from infrasight.signals.evaluate import (
    LevelTransition,
    NoDataEvent,
    RuleEvaluation,
    RuleState,
    evaluate_rule,
)
from infrasight.signals.faults import (
    FaultClass,
    FaultClassification,
    Routing,
    classify_window,
    route_anomalies,
)
from infrasight.signals.fdd import fdd
from infrasight.signals.forecast import (
    CrackGrowth,
    Forecast,
    TimeToLimit,
    TrendModel,
    TrendSelection,
    crack_growth_rate,
    fit_best_trend,
    fit_trend,
    time_to_limit,
)
from infrasight.signals.lifecycle import (
    Alarm,
    AlarmEvent,
    AlarmStatus,
    acknowledge,
    apply_no_data,
    apply_transition,
    check_escalation,
    clear_manually,
)
from infrasight.signals.modal import ModalResult, Mode, mac, mac_matrix
from infrasight.signals.readers import Record, load_record
from infrasight.signals.rules import Level, Limit, Rule, rules_from_json, rules_to_json
from infrasight.signals.ssi import ssi_cov
from infrasight.signals.tracking import (
    FrequencyAssessment,
    FrequencyBaseline,
    fit_frequency_baseline,
    match_modes,
    tracked_frequencies,
)

__all__ = [
    "Alarm",
    "AlarmEvent",
    "AlarmStatus",
    "AnomalyState",
    "ChangePoints",
    "CompensationModel",
    "CrackGrowth",
    "FaultClass",
    "FaultClassification",
    "Forecast",
    "FrequencyAssessment",
    "FrequencyBaseline",
    "InputDataError",
    "Level",
    "LevelTransition",
    "LifecycleError",
    "Limit",
    "ModalResult",
    "Mode",
    "NoDataEvent",
    "NotEnoughDataError",
    "Record",
    "Routing",
    "Rule",
    "RuleDefinitionError",
    "RuleEvaluation",
    "RuleState",
    "SignalsError",
    "TimeToLimit",
    "TrendModel",
    "TrendSelection",
    "acknowledge",
    "anomaly_scores",
    "apply_no_data",
    "apply_transition",
    "block_means",
    "check_escalation",
    "classify_window",
    "clear_manually",
    "crack_growth_rate",
    "detect_change_points",
    "driver_values",
    "evaluate_rule",
    "fdd",
    "fit_best_trend",
    "fit_compensation",
    "fit_frequency_baseline",
    "fit_trend",
    "load_record",
    "mac",
    "mac_matrix",
    "match_modes",
    "route_anomalies",
    "rules_from_json",
    "rules_to_json",
    "score_online",
    "score_online_many",
    "score_series",
    "ssi_cov",
    "time_to_limit",
    "tracked_frequencies",
]
