"""Forecasts of a channel: trend with prediction intervals and the time until a limit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from infrasight.api.deps import CallerDep, SessionDep
from infrasight.api.routes.common import DbId, get_owned
from infrasight.core.domain import Action
from infrasight.core.errors import InvalidInputError
from infrasight.core.timeparse import us_to_datetime
from infrasight.signals import (
    NotEnoughDataError,
    SignalsError,
    TrendModel,
    TrendSelection,
    crack_growth_rate,
    fit_best_trend,
    fit_trend,
    time_to_limit,
)
from infrasight.storage.models import Channel
from infrasight.storage.readings import fetch_series, time_bounds

router = APIRouter(tags=["forecasts"])

DAY_S = 86_400.0


class ForecastPoint(BaseModel):
    time: datetime
    mean: float = Field(description="Expected value (for kind=auto, of the weighted mixture)")
    median: float = Field(
        description="Central forecast: half of the predictive distribution lies above it; "
        "always inside the interval (the line to draw)"
    )
    lower: float | None = Field(description="Lower bound of the interval; null if undefined")
    upper: float | None = Field(description="Upper bound of the interval; null if undefined")


class LimitCrossing(BaseModel):
    limit: float
    expected_at: datetime | None
    earliest_at: datetime | None
    latest_at: datetime | None
    probability_by_horizon: float


class GrowthRate(BaseModel):
    rate_per_year: float = Field(description="Robust linear rate, channel unit per year")
    ci_low: float
    ci_high: float
    probability_growing: float


class Candidate(BaseModel):
    kind: str
    weight: float = Field(description="Weight of this trend model in the forecast (sum 1)")


class ChannelForecast(BaseModel):
    channel_id: DbId
    unit: str
    kind: str = Field(description="Requested kind ('auto': chosen among the candidates)")
    selected_kind: str = Field(description="The trend model with the highest weight")
    candidates: list[Candidate] = Field(
        description="Trend models weighed into the forecast (AICc and a backtest on the history)"
    )
    interval_factor: float = Field(
        description="Factor (>= 1) the intervals were widened by after the backtest on the history"
    )
    fitted_from: datetime
    fitted_to: datetime
    n_readings: int
    level: float
    points: list[ForecastPoint]
    limit: LimitCrossing | None = None
    growth: GrowthRate | None = Field(
        default=None, description="Rate of change with its 95 % interval (e.g. crack growth)"
    )


def _at(now_s: float, offset_s: float | None) -> datetime | None:
    return None if offset_s is None else us_to_datetime(round((now_s + offset_s) * 1e6))


@router.get("/channels/{channel_id}/forecast")
def forecast(
    channel_id: DbId,
    session: SessionDep,
    caller: CallerDep,
    kind: Literal[
        "auto", "constant", "linear", "quadratic", "exponential", "saturating", "onset", "seasonal"
    ] = "auto",
    history_days: Annotated[float, Query(gt=0, le=3650)] = 90.0,
    horizon_days: Annotated[float, Query(gt=0, le=3650)] = 30.0,
    period_days: Annotated[float | None, Query(gt=0)] = None,
    limit: float | None = None,
    points: Annotated[int, Query(ge=2, le=1000)] = 60,
    level: Annotated[float, Query(gt=0, lt=1)] = 0.95,
) -> ChannelForecast:
    """Fit a trend to the last ``history_days`` of readings and project ``horizon_days`` ahead.

    ``kind=auto`` (default) weighs constant, linear, quadratic, exponential, saturating and onset
    trends by AICc and by a rolling-origin backtest on the history for this horizon; the
    interval is that of the weighted mixture, widened until it covered 95 % of the backtest.
    ``kind=seasonal`` needs ``period_days``. With ``limit`` (in the channel's unit), also when
    the trend is expected to cross it, the early/late crossing from the prediction interval,
    and the probability of being beyond it at the horizon.
    """
    caller.require(Action.READ)
    channel = get_owned(session, Channel, channel_id, caller.organization_id)
    if kind == "seasonal" and period_days is None:
        raise InvalidInputError(
            "period_days is required for kind=seasonal (the season length in days)",
            field="period_days",
        )
    bounds = time_bounds(session, channel_id)
    if bounds is None:
        raise InvalidInputError("the channel has no readings to forecast from", field="channel_id")
    start_us = bounds[1] - round(history_days * DAY_S * 1e6)
    stamps, values = fetch_series(session, channel_id, from_us=start_us)
    times = stamps / 1e6
    try:
        model: TrendModel | TrendSelection
        if kind == "auto":
            model = fit_best_trend(times, values, horizon_s=horizon_days * DAY_S)
        else:
            model = fit_trend(
                times, values, kind=kind, period_s=period_days * DAY_S if period_days else None
            )
        now = float(times[-1])
        grid = now + np.linspace(0.0, horizon_days * DAY_S, points)
        projected = model.predict(grid, level=level)
        crossing = (
            time_to_limit(model, limit, horizon_s=horizon_days * DAY_S, now=now, level=level)
            if limit is not None
            else None
        )
        growth = crack_growth_rate(times, values) if times.size >= 4 else None
    except NotEnoughDataError as err:
        raise InvalidInputError(f"not enough data: {err}", field="history_days") from err
    except SignalsError as err:
        raise InvalidInputError(str(err), field="kind") from err
    if isinstance(model, TrendSelection):
        candidates = [
            Candidate(kind=m.kind, weight=float(w))
            for m, w in zip(model.models, model.weights, strict=True)
        ]
        factor = model.interval_factor
    else:
        candidates, factor = [Candidate(kind=model.kind, weight=1.0)], 1.0
    return ChannelForecast(
        channel_id=channel_id,
        unit=channel.unit,
        kind=kind,
        selected_kind=model.kind,
        candidates=candidates,
        interval_factor=factor,
        fitted_from=us_to_datetime(int(stamps[0])),
        fitted_to=us_to_datetime(int(stamps[-1])),
        n_readings=int(stamps.size),
        level=level,
        points=[
            ForecastPoint(
                time=us_to_datetime(round(t * 1e6)), mean=m, median=md, lower=lo, upper=hi
            )
            for t, m, md, lo, hi in zip(
                grid.tolist(),
                projected.mean.tolist(),
                projected.median.tolist(),
                projected.lower.tolist(),
                projected.upper.tolist(),
                strict=True,
            )
        ],
        growth=None
        if growth is None
        else GrowthRate(
            rate_per_year=growth.rate_per_year,
            ci_low=growth.ci_low,
            ci_high=growth.ci_high,
            probability_growing=growth.probability_growing,
        ),
        limit=None
        if crossing is None
        else LimitCrossing(
            limit=crossing.limit,
            expected_at=_at(now, crossing.eta_s),
            earliest_at=_at(now, crossing.eta_early_s),
            latest_at=_at(now, crossing.eta_late_s),
            probability_by_horizon=crossing.probability,
        ),
    )


__all__ = ["router"]
