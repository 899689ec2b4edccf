"""Each hazard's prediction: where its element is heading.

Three sources, each optional:

* the Markov deterioration chain fitted to the recorded condition ratings of elements of the same
  kind (:func:`~infrasight.services.ratings.deterioration_forecast`): expected time to leave the
  element's latest condition state and the probability of doing so within 30/90/365 days;
* crack growth from a crack-width gauge's daily means
  (:func:`~infrasight.reasoning.deterioration.crack_forecast`) to the next crack-width boundary of
  the AASHTO MBEI condition states for the element's material (data: ``aashto-mbei.toml``);
* the forecasts of the hazard's channels to their next alarm limit (computed by the caller).

:func:`summarise` gives the soonest of them (``next``) and, per horizon, the largest probability.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InfraSightError
from infrasight.core.phrases import Phrase, phrase
from infrasight.reasoning.deterioration import crack_forecast
from infrasight.reasoning.standards import load_standards
from infrasight.services.hazard_evidence import HORIZONS_DAYS, Forecast
from infrasight.services.ratings import deterioration_forecast
from infrasight.signals import SignalsError
from infrasight.storage.models import ConditionRatingRecord

__all__ = [
    "PredictionCache",
    "condition_prediction",
    "crack_growth_prediction",
    "summarise",
    "width_boundaries_mm",
]

_log = logging.getLogger(__name__)

DAY_S = 86_400.0
YEAR_DAYS = 365.25
MIN_DAYS = 7
"""Daily means a crack-width gauge needs before its growth is forecast."""


def _finite(x: float | None) -> float | None:
    """JSON (and PostgreSQL's json) has no infinity: never reached is None."""
    return None if x is None or not math.isfinite(x) else float(x)


@lru_cache(maxsize=8)
def width_boundaries_mm(material: str) -> tuple[tuple[float, int, str], ...]:
    """Crack-width boundaries (mm) of the MBEI condition states for ``material`` (``rc`` or
    ``psc``), each with the state reached beyond it and the clause; empty for other materials."""
    std = load_standards().get("aashto-mbei")
    defect = std.data.get("defects", {}).get(f"cracking_{material}")
    if defect is None:
        return ()
    out = []
    for rule in defect.get("rules", ()):
        if rule.get("measure") != "width_mm":
            continue
        bins = list(rule.get("bins", ()))
        for b, following in pairwise(bins):
            bound = b.get("lt", b.get("le"))
            if isinstance(bound, int | float):
                out.append((float(bound), int(following["state"]), str(defect["clause"])))
    return tuple(sorted(out))


def crack_growth_prediction(
    key: str, times_s: np.ndarray, widths_mm: np.ndarray, material: str
) -> dict[str, Any] | None:
    """Growth of a crack-width gauge's daily means to the next MBEI width boundary.

    Parameters
    ----------
    key : str
        Channel key.
    times_s : ndarray
        Sample times (s since the epoch).
    widths_mm : ndarray
        Crack widths (mm), NaN where missing.
    material : str
        ``rc`` or ``psc`` (the boundaries differ).

    Returns
    -------
    dict or None
        Rate (mm/year) with its 95 % interval, width now, the boundary (mm) and the state beyond
        it with its clause, years to reach it (None: not growing) and the probability of passing
        it within 30/90/365 days; None with fewer than :data:`MIN_DAYS` daily means or when the
        width is beyond the last boundary.
    """
    ok = np.isfinite(widths_mm)
    if not ok.any():
        return None
    day = np.floor(times_s[ok] / DAY_S).astype(np.int64)
    days, inverse = np.unique(day, return_inverse=True)
    if days.size < MIN_DAYS:
        return None
    means = np.bincount(inverse, weights=widths_mm[ok]) / np.bincount(inverse)
    t = (days + 0.5) * DAY_S
    now = float(means[-1])
    bound = next((b for b in width_boundaries_mm(material) if b[0] > now), None)
    if bound is None:
        return None
    try:
        cf = crack_forecast(t, means, bound[0], HORIZONS_DAYS)
    except (SignalsError, InfraSightError) as exc:
        _log.info("no crack growth forecast for %s: %s", key, exc)
        return None
    return {
        "channel": key,
        "rate_mm_per_year": round(cf.rate_mm_per_year, 6),
        "rate_interval": [round(x, 6) for x in cf.rate_interval],
        "width_now_mm": round(cf.width_now_mm, 4),
        "limit_mm": bound[0],
        "state_beyond": bound[1],
        "clause": bound[2],
        "years_to_limit": _finite(cf.years_to_limit),
        "probability_within": {f"{d}d": round(p, 6) for d, p in cf.probability_within.items()},
    }


class PredictionCache:
    """Deterioration fits of one update, per (asset, standard): the fit reads the
    organisation's whole rating history, so it runs once however many hazards it feeds."""

    def __init__(self) -> None:
        self._fits: dict[tuple[int, str], dict[str, Any] | None] = {}

    def forecast(
        self, session: Session, organization_id: int, asset_id: int, standard: str
    ) -> dict[str, Any] | None:
        """``deterioration_forecast`` of the asset under ``standard``; None when it cannot fit."""
        key = (asset_id, standard)
        if key not in self._fits:
            try:
                self._fits[key] = deterioration_forecast(
                    session, organization_id, asset_id, standard
                )
            except InfraSightError as exc:
                _log.info("no deterioration forecast for asset %s: %s", asset_id, exc)
                self._fits[key] = None
        return self._fits[key]


def condition_prediction(
    session: Session,
    organization_id: int,
    asset_id: int,
    element_id: int,
    cache: PredictionCache,
) -> dict[str, Any] | None:
    """The Markov forecast of the element from its latest recorded rating (under the standard
    of that rating); None without ratings or without enough pairs to fit."""
    latest = session.scalars(
        select(ConditionRatingRecord)
        .where(ConditionRatingRecord.element_id == element_id)
        .order_by(ConditionRatingRecord.inspected_at.desc(), ConditionRatingRecord.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    doc = cache.forecast(session, organization_id, asset_id, latest.standard)
    entry = next(
        (e for e in (doc or {}).get("elements", ()) if e["element_id"] == element_id), None
    )
    if entry is None or entry.get("forecast") is None:
        return None
    f = entry["forecast"]
    interval = [_finite(x) for x in f["years_interval"]]
    return {
        "standard": latest.standard,
        "latest_rating": entry["latest_rating"],
        "inspected_at": entry["inspected_at"],
        "state": f["state"],
        "pairs": doc["kinds"][entry["kind"]]["pairs"] if doc else 0,
        "expected_years_to_next": _finite(f["expected_years_to_next"]),
        "years_interval": interval,
        "probability_within": f["probability_within"],
    }


def summarise(
    condition: dict[str, Any] | None,
    cracks: Sequence[dict[str, Any]],
    forecasts: Sequence[Forecast],
) -> dict[str, Any] | None:
    """The soonest predicted event and, per horizon, the largest probability of any.

    Returns
    -------
    dict or None
        ``{"event", "event_message", "years", "probability_within": {"30d", "90d", "365d"}}``
        (``event_message``: the event as a message key and parameters); ``years`` None
        when no source expects the event within its horizon. None without any source.
    """
    events: list[tuple[Phrase, float | None, dict[str, float]]] = []
    if condition is not None:
        events.append(
            (
                phrase(
                    "condition state {state} -> {next} ({standard})",
                    state=int(condition["state"]),
                    next=int(condition["state"]) + 1,
                    standard=str(condition["standard"]),
                ),
                condition["expected_years_to_next"],
                dict(condition["probability_within"]),
            )
        )
    for c in cracks:
        events.append(
            (
                phrase(
                    "{channel} passes {limit:g} mm (CS{state})",
                    channel=str(c["channel"]),
                    limit=float(c["limit_mm"]),
                    state=int(c["state_beyond"]),
                ),
                c["years_to_limit"],
                dict(c["probability_within"]),
            )
        )
    for f in forecasts:
        events.append(
            (
                phrase(
                    "{channel} reaches its {level!t} limit {limit:g} {unit}",
                    channel=f.channel,
                    level=f.level,
                    limit=float(f.limit),
                    unit=f.unit,
                ),
                None if f.expected_days is None else f.expected_days / YEAR_DAYS,
                {f"{d}d": float(p) for d, p in f.probability.items()},
            )
        )
    if not events:
        return None
    timed = [e for e in events if e[1] is not None]
    soonest = min(timed, key=lambda e: e[1] or 0.0) if timed else events[0]
    return {
        "event": soonest[0].english(),
        "event_message": soonest[0].as_dict(),
        "years": None if soonest[1] is None else round(soonest[1], 4),
        "probability_within": {
            f"{d}d": round(max(e[2].get(f"{d}d", 0.0) for e in events), 6) for d in HORIZONS_DAYS
        },
    }
