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
    crack_growth_rate,
    fit_trend,
    time_to_limit,
)
from infrasight.storage.models import Channel
from infrasight.storage.readings import fetch_series, time_bounds

router = APIRouter(tags=["forecasts"])

DAY_S = 86_400.0


class ForecastPoint(BaseModel):
    time: datetime
    mean: float
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


class ChannelForecast(BaseModel):
    channel_id: DbId
    unit: str
    kind: str
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
    kind: Literal["linear", "exponential", "seasonal"] = "linear",
    history_days: Annotated[float, Query(gt=0, le=3650)] = 90.0,
    horizon_days: Annotated[float, Query(gt=0, le=3650)] = 30.0,
    period_days: Annotated[float | None, Query(gt=0)] = None,
    limit: float | None = None,
    points: Annotated[int, Query(ge=2, le=1000)] = 60,
    level: Annotated[float, Query(gt=0, lt=1)] = 0.95,
) -> ChannelForecast:
    """Fit a trend to the last ``history_days`` of readings and project ``horizon_days`` ahead.

    With ``limit`` (in the channel's unit), also when the trend is expected to cross it, the
    early/late crossing from the prediction interval, and the probability of being beyond it at
    the horizon.
    """
    caller.require(Action.READ)
    channel = get_owned(session, Channel, channel_id, caller.organization_id)
    bounds = time_bounds(session, channel_id)
    if bounds is None:
        raise InvalidInputError("the channel has no readings to forecast from", field="channel_id")
    start_us = bounds[1] - round(history_days * DAY_S * 1e6)
    stamps, values = fetch_series(session, channel_id, from_us=start_us)
    times = stamps / 1e6
    try:
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
    return ChannelForecast(
        channel_id=channel_id,
        unit=channel.unit,
        kind=kind,
        fitted_from=us_to_datetime(int(stamps[0])),
        fitted_to=us_to_datetime(int(stamps[-1])),
        n_readings=int(stamps.size),
        level=level,
        points=[
            ForecastPoint(time=us_to_datetime(round(t * 1e6)), mean=m, lower=lo, upper=hi)
            for t, m, lo, hi in zip(
                grid.tolist(),
                projected.mean.tolist(),
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
