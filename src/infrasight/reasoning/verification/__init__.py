"""Verification of a repair from measurements: the rules (``rules.toml``) and pure judges.

A work order's method (re-inspection of tracked cracks, readings back within limits and
settled, or sensor health) comes from its remediation action, else its hazard's mechanism.
Each judge turns measurements into :class:`Check` results; :func:`combine` gives the outcome:
failed if any check failed, pending if any is still waiting for data (or there is none),
passed otherwise.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infrasight.core.errors import InvalidInputError
from infrasight.core.phrases import N_, Phrase, PhraseParam, phrase
from infrasight.reasoning.errors import DefinitionError

__all__ = [
    "Check",
    "CrackObservation",
    "Method",
    "Outcome",
    "VerificationRule",
    "VerificationRules",
    "combine",
    "judge_crack",
    "judge_readings",
    "load_verification_rules",
]


class Outcome(StrEnum):
    """What a verification (or one check) concluded."""

    PASSED = "passed"
    FAILED = "failed"
    PENDING = "pending"


class Method(StrEnum):
    """How a repair is verified."""

    REINSPECTION = "reinspection"
    READINGS = "readings"
    SENSOR_HEALTH = "sensor_health"


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One verification test on one piece of evidence."""

    test: str
    ref: str
    outcome: Outcome
    detail: str = ""  # in English; empty when given: ``phrase`` in English
    value: float | None = None
    unit: str = ""
    phrase: Phrase | None = None  # the detail as a message key and parameters

    def __post_init__(self) -> None:
        if not self.detail and self.phrase is not None:
            object.__setattr__(self, "detail", self.phrase.english())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``message``: the detail's key and parameters)."""
        return {
            "test": self.test,
            "ref": self.ref,
            "outcome": str(self.outcome),
            "detail": self.detail,
            "value": self.value,
            "unit": self.unit,
            **({"message": self.phrase.as_dict()} if self.phrase is not None else {}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationRule:
    """One method's rule (see ``rules.toml``)."""

    method: Method
    description: str
    actions: frozenset[str]
    mechanisms: frozenset[str]
    period_days: float
    source: str
    min_reinspections: int = 1
    width_sigmas: float = 2.0
    trend_sigmas: float = 3.0
    drift_noise_ratio: float = 2.0
    anomaly_max: float = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationRules:
    """Every method's rule and the accepted range of verification periods, days."""

    rules: tuple[VerificationRule, ...]
    min_period_days: float
    max_period_days: float
    by_method: dict[Method, VerificationRule] = field(default_factory=dict)

    def for_work(self, action_id: str, mechanism: str) -> VerificationRule:
        """The rule for a work order's action (else its hazard's mechanism).

        Raises
        ------
        InvalidInputError
            No rule covers the action or the mechanism (field ``action_id``).
        """
        for rule in self.rules:
            if action_id in rule.actions:
                return rule
        for rule in self.rules:
            if mechanism in rule.mechanisms:
                return rule
        raise InvalidInputError(
            f"no verification rule for action {action_id!r} or mechanism {mechanism!r}",
            field="action_id",
        )

    def check_period(self, period_days: float) -> float:
        """``period_days`` if within the accepted range.

        Raises
        ------
        InvalidInputError
            Out of range (field ``period_days``).
        """
        if not self.min_period_days <= period_days <= self.max_period_days:
            raise InvalidInputError(
                f"period_days must be within {self.min_period_days:g}-{self.max_period_days:g}, "
                f"got {period_days:g}",
                field="period_days",
            )
        return period_days


def _limits_phrase(
    low: float, high: float, unit: str, period: float, lower: float | None, upper: float | None
) -> Phrase:
    """The readings' range (``unit``) over the last ``period`` days beside the limits; an open
    side says there is no limit on it (not ``-inf`` / ``inf``)."""
    seen: dict[str, PhraseParam] = {"low": low, "high": high, "unit": unit, "period": period}
    if lower is None:
        return phrase(
            "readings {low:.4g} to {high:.4g} {unit} in the last {period:g} d; "
            "no lower limit, at most {upper:g} {unit}",
            upper=upper,
            **seen,
        )
    if upper is None:
        return phrase(
            "readings {low:.4g} to {high:.4g} {unit} in the last {period:g} d; "
            "no upper limit, at least {lower:g} {unit}",
            lower=lower,
            **seen,
        )
    return phrase(
        "readings {low:.4g} to {high:.4g} {unit} in the last {period:g} d; "
        "limits [{lower:g}, {upper:g}]",
        lower=lower,
        upper=upper,
        **seen,
    )


def load_verification_rules(path: Path | None = None) -> VerificationRules:
    """Load and validate ``rules.toml`` (or ``path``).

    Raises
    ------
    DefinitionError
        A malformed file: unknown method, missing key, bad period.
    """
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("infrasight.reasoning.verification")
        .joinpath("rules.toml")
        .read_text(encoding="utf-8")
    )
    try:
        data = tomllib.loads(text)
        limits = data["limits"]
        lo, hi = float(limits["min_period_days"]), float(limits["max_period_days"])
        rules = []
        for m in data["method"]:
            rule = VerificationRule(
                method=Method(m["id"]),
                description=str(m["description"]),
                actions=frozenset(m.get("actions", [])),
                mechanisms=frozenset(m.get("mechanisms", [])),
                period_days=float(m["period_days"]),
                source=str(m["source"]),
                min_reinspections=int(m.get("min_reinspections", 1)),
                width_sigmas=float(m.get("width_sigmas", 2.0)),
                trend_sigmas=float(m.get("trend_sigmas", 3.0)),
                drift_noise_ratio=float(m.get("drift_noise_ratio", 2.0)),
                anomaly_max=float(m.get("anomaly_max", 0.5)),
            )
            if not lo <= rule.period_days <= hi:
                raise ValueError(f"{rule.method}: period_days {rule.period_days} out of {lo}-{hi}")
            rules.append(rule)
    except (KeyError, ValueError, TypeError, tomllib.TOMLDecodeError) as err:
        raise DefinitionError(f"verification rules: {err}") from err
    return VerificationRules(
        rules=tuple(rules),
        min_period_days=lo,
        max_period_days=hi,
        by_method={r.method: r for r in rules},
    )


def combine(checks: Sequence[Check]) -> Outcome:
    """Failed if any check failed; pending if any is pending or there are none; else passed."""
    if any(c.outcome is Outcome.FAILED for c in checks):
        return Outcome.FAILED
    if not checks or any(c.outcome is Outcome.PENDING for c in checks):
        return Outcome.PENDING
    return Outcome.PASSED


@dataclass(frozen=True, slots=True, kw_only=True)
class CrackObservation:
    """A tracked crack in one capture.

    Attributes
    ----------
    days : float
        Days after the work order's completion (negative: before).
    detected : bool
        Whether the crack was found in the capture.
    width, width_std : float or None
        Largest width and its standard uncertainty, mm (None when not detected or unscaled).
    """

    days: float
    detected: bool
    width: float | None = None
    width_std: float | None = None


def _width_drop(a: CrackObservation, b: CrackObservation) -> tuple[float, float] | None:
    if a.width is None or b.width is None:
        return None
    sigma = float(np.hypot(a.width_std or 0.0, b.width_std or 0.0))
    return a.width - b.width, sigma


def judge_crack(
    ref: str,
    before: CrackObservation | None,
    after: Sequence[CrackObservation],
    rule: VerificationRule,
    *,
    period_days: float,
) -> Check:
    """Whether a repaired crack is sealed and stays so.

    Parameters
    ----------
    ref : str
        Evidence reference of the tracked crack (``defect_track:7``).
    before : CrackObservation or None
        Its last detection before completion.
    after : sequence of CrackObservation
        Its observations after completion, oldest first; those past ``period_days`` are ignored.
    rule : VerificationRule
        ``width_sigmas`` and ``min_reinspections``.
    period_days : float
        Observation period after completion, days.

    Returns
    -------
    Check
        Passed when every re-inspection in the period shows the crack sealed (not detected, or
        its width reduced by more than ``width_sigmas`` combined standard uncertainties) and none
        shows it again or wider; pending with fewer than ``min_reinspections``.
    """
    seen = [o for o in after if 0 <= o.days <= period_days]
    if len(seen) < rule.min_reinspections:
        return Check(
            test=N_("re-inspection"),
            ref=ref,
            outcome=Outcome.PENDING,
            phrase=phrase(
                "{count} re-inspection(s) after completion; {needed} needed",
                count=len(seen),
                needed=rule.min_reinspections,
            ),
        )
    first = seen[0]
    if first.detected:
        drop = None if before is None else _width_drop(before, first)
        if drop is None or drop[0] <= rule.width_sigmas * drop[1]:
            return Check(
                test=N_("crack sealed"),
                ref=ref,
                outcome=Outcome.FAILED,
                phrase=phrase(
                    "still detected {days:.1f} d after completion, largest width {width:.3f} mm "
                    "(before: {before:.3f} mm); not reduced beyond {sigmas:g} sigma",
                    days=first.days,
                    width=first.width,
                    before=None if before is None else before.width,
                    sigmas=rule.width_sigmas,
                ),
                value=first.width,
                unit="mm",
            )
    for later in seen[1:]:
        if not later.detected:
            continue
        if not first.detected:
            return Check(
                test=N_("stays sealed"),
                ref=ref,
                outcome=Outcome.FAILED,
                phrase=phrase("detected again {days:.1f} d after completion", days=later.days),
                value=later.width,
                unit="mm",
            )
        grew = _width_drop(later, first)
        if grew is not None and grew[0] > rule.width_sigmas * grew[1]:
            return Check(
                test=N_("stays sealed"),
                ref=ref,
                outcome=Outcome.FAILED,
                phrase=phrase(
                    "width grew by {growth:.3f} mm ({days:.1f} d after completion)",
                    growth=grew[0],
                    days=later.days,
                ),
                value=grew[0],
                unit="mm",
            )
    said = (
        phrase(
            "not detected at the re-inspection {days:.1f} d after completion; "
            "{count} re-inspection(s) in the period, none shows it again",
            days=first.days,
            count=len(seen),
        )
        if not first.detected
        else phrase(
            "width reduced to {width:.3f} mm at the re-inspection {days:.1f} d after "
            "completion; {count} re-inspection(s) in the period, none shows it again",
            width=first.width,
            days=first.days,
            count=len(seen),
        )
    )
    return Check(
        test=N_("crack sealed"),
        ref=ref,
        outcome=Outcome.PASSED,
        phrase=said,
        value=first.width,
        unit="mm",
    )


def judge_readings(
    ref: str,
    days: NDArray[np.float64],
    values: NDArray[np.float64],
    rule: VerificationRule,
    *,
    period_days: float,
    lower: float | None = None,
    upper: float | None = None,
    anomaly_max_seen: float | None = None,
    unit: str = "",
) -> list[Check]:
    """Whether a channel is back within limits and settled after a repair.

    Parameters
    ----------
    ref : str
        Evidence reference (``channel:KEY``).
    days : numpy.ndarray
        ``(N,)`` reading times, days after completion (only ``>= 0`` are judged).
    values : numpy.ndarray
        ``(N,)`` readings in the channel's unit.
    rule : VerificationRule
        ``trend_sigmas``, ``drift_noise_ratio``, ``anomaly_max``.
    period_days : float
        The period the readings must cover and are judged over (the last ``period_days``).
    lower, upper : float, optional
        The alarm rule's first limits, channel unit.
    anomaly_max_seen : float, optional
        Largest anomaly score (0-1) of the channel in the judged window.
    unit : str
        The channel's unit, for the texts.

    Returns
    -------
    list of Check
        Coverage (pending until the readings span the period), limits, trend, anomaly.
    """
    t = np.asarray(days, np.float64)
    v = np.asarray(values, np.float64)
    ok = (t >= 0) & np.isfinite(v)
    t, v = t[ok], v[ok]
    span = float(t.max()) if t.size else 0.0
    if t.size < 8 or span < period_days:
        return [
            Check(
                test=N_("readings cover the period"),
                ref=ref,
                outcome=Outcome.PENDING,
                phrase=phrase(
                    "{span:.1f} of {period:g} days of readings after completion",
                    span=span,
                    period=period_days,
                ),
                value=span,
                unit="d",
            )
        ]
    win = t >= span - period_days
    tw, vw = t[win], v[win]
    checks = [
        Check(
            test=N_("readings cover the period"),
            ref=ref,
            outcome=Outcome.PASSED,
            phrase=phrase(
                "{span:.1f} days of readings after completion ({count} in the last {period:g} d)",
                span=span,
                count=int(tw.size),
                period=period_days,
            ),
            value=span,
            unit="d",
        )
    ]
    lo_seen, hi_seen = float(vw.min()), float(vw.max())
    if lower is not None or upper is not None:
        inside = (lower is None or lo_seen >= lower) and (upper is None or hi_seen <= upper)
        checks.append(
            Check(
                test=N_("within limits"),
                ref=ref,
                outcome=Outcome.PASSED if inside else Outcome.FAILED,
                phrase=_limits_phrase(lo_seen, hi_seen, unit, period_days, lower, upper),
                value=hi_seen if upper is not None else lo_seen,
                unit=unit,
            )
        )
    slope, intercept = np.polyfit(tw, vw, 1)
    resid = vw - (slope * tw + intercept)
    noise = float(np.std(resid, ddof=2)) if tw.size > 2 else 0.0
    sxx = float(np.sum((tw - tw.mean()) ** 2))
    slope_std = noise / np.sqrt(sxx) if sxx > 0 else np.inf
    drift = float(slope * period_days)
    significant = abs(slope) > rule.trend_sigmas * slope_std
    large = abs(drift) > rule.drift_noise_ratio * noise
    checks.append(
        Check(
            test=N_("settled (no trend)"),
            ref=ref,
            outcome=Outcome.FAILED if significant and large else Outcome.PASSED,
            phrase=phrase(
                "trend {slope:+.4g} {unit}/d ({drift:+.4g} {unit} over {period:g} d, "
                "noise {noise:.3g} {unit})",
                slope=float(slope),
                unit=unit,
                drift=drift,
                period=period_days,
                noise=noise,
            ),
            value=float(slope),
            unit=f"{unit}/d",
        )
    )
    if anomaly_max_seen is not None:
        checks.append(
            Check(
                test=N_("no anomaly"),
                ref=ref,
                outcome=Outcome.PASSED if anomaly_max_seen <= rule.anomaly_max else Outcome.FAILED,
                phrase=phrase(
                    "largest anomaly score {score:.2f} (limit {limit:g}) in the last {period:g} d",
                    score=anomaly_max_seen,
                    limit=rule.anomaly_max,
                    period=period_days,
                ),
                value=anomaly_max_seen,
            )
        )
    return checks
