"""ECharts options for a channel's downsampled readings, and the zoom window arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from infrasight.api.routes.channels import ReadingSeries
from infrasight.api.routes.forecasts import ChannelForecast

__all__ = [
    "FORECAST_COLOUR",
    "SEVERITY_COLOURS",
    "chart_options",
    "forecast_data",
    "forecast_horizon_days",
    "forecast_series",
    "series_data",
    "zoom_window",
]

FORECAST_COLOUR = "#7c3aed"
#: Forecast horizon as a fraction of the charted history, and its bounds (days).
FORECAST_FRACTION = 0.25
FORECAST_MIN_DAYS = 1.0
FORECAST_MAX_DAYS = 30.0

SEVERITY_COLOURS = {1: "#d97706", 2: "#dc2626", 3: "#7f1d1d"}
#: Buckets asked of the readings endpoint per chart (and again per zoom).
MAX_POINTS = 500
#: ECharts time-axis label templates per web locale (ECharts itself ships English month names).
TIME_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "year": "{yyyy}",
        "month": "{MMM} {yyyy}",
        "day": "{d} {MMM}",
        "hour": "{HH}:{mm}",
        "minute": "{HH}:{mm}",
        "second": "{HH}:{mm}:{ss}",
    },
    "zh-Hant": {
        "year": "{yyyy}年",
        "month": "{yyyy}年{M}月",
        "day": "{M}月{d}日",
        "hour": "{HH}:{mm}",
        "minute": "{HH}:{mm}",
        "second": "{HH}:{mm}:{ss}",
    },
    "zh-Hans": {
        "year": "{yyyy}年",
        "month": "{yyyy}年{M}月",
        "day": "{M}月{d}日",
        "hour": "{HH}:{mm}",
        "minute": "{HH}:{mm}",
        "second": "{HH}:{mm}:{ss}",
    },
}


def zoom_window(
    start: datetime, end: datetime, start_pct: float, end_pct: float
) -> tuple[datetime, datetime]:
    """The time range that ECharts' dataZoom percentages of ``[start, end)`` stand for."""
    lo, hi = sorted((max(0.0, min(100.0, start_pct)), max(0.0, min(100.0, end_pct))))
    span = (end - start).total_seconds()
    first = start + timedelta(seconds=span * lo / 100.0)
    last = start + timedelta(seconds=span * hi / 100.0)
    if last <= first:
        last = first + timedelta(seconds=1)
    return first, last


def forecast_horizon_days(series: ReadingSeries) -> float:
    """Days to forecast past the last reading: a quarter of the charted span, 1 to 30 days."""
    if series.start is None or series.end is None:
        return FORECAST_MIN_DAYS
    span_days = (series.end - series.start).total_seconds() / 86_400.0
    return min(FORECAST_MAX_DAYS, max(FORECAST_MIN_DAYS, FORECAST_FRACTION * span_days))


def forecast_data(forecast: ChannelForecast) -> dict[str, list[list[Any]]]:
    """The forecast's central line (its median), its lower bound and the band's width as
    ``[epoch_ms, v]``.

    ECharts fills between two lines by stacking: an invisible ``lower`` series and the band's
    width (``upper - lower``) stacked on it with an area. Points without an interval are left
    out of the band.
    """
    median: list[list[Any]] = []
    lower: list[list[Any]] = []
    width: list[list[Any]] = []
    for p in forecast.points:
        ms = p.time.timestamp() * 1000.0
        median.append([ms, p.median])
        if p.lower is not None and p.upper is not None:
            lower.append([ms, p.lower])
            width.append([ms, p.upper - p.lower])
    return {"median": median, "lower": lower, "width": width}


#: Significant digits of a charted value: far finer than a chart's pixels, and about half the
#: JSON of a full double (a zoom sends 3 x 500 of them).
CHART_DIGITS = 6


def _short(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.{CHART_DIGITS}g}")


def series_data(series: ReadingSeries) -> dict[str, list[tuple[int, float | None]]]:
    """Mean, min and max as ``(epoch_ms, value)`` pairs for ECharts' time axis (whole
    milliseconds; values to :data:`CHART_DIGITS` significant digits).

    Tuples, not lists: NiceGUI wraps every list and dict of a chart's options in an observable
    (a third of an asset page's server time for 3 x 500 points); tuples are sent as they are.
    """
    points = series.points
    times = [round(p.time.timestamp() * 1000.0) for p in points]
    return {
        "mean": [(t, _short(p.mean)) for t, p in zip(times, points, strict=True)],
        "min": [(t, _short(p.min)) for t, p in zip(times, points, strict=True)],
        "max": [(t, _short(p.max)) for t, p in zip(times, points, strict=True)],
    }


def chart_options(
    series: ReadingSeries,
    levels: list[dict[str, Any]],
    *,
    names: dict[str, str],
    locale: str = "en",
    forecast: ChannelForecast | None = None,
) -> dict[str, Any]:
    """Options of one channel's chart: mean line, min/max lines, alarm thresholds drawn and,
    with ``forecast``, its central line and prediction band past the last reading.

    The x axis is fixed to the full range (readings, then the forecast horizon), so dataZoom
    percentages map to absolute times. ``names`` holds the translated legend names (``mean``,
    ``min``, ``max``, and ``forecast`` and ``band`` when a forecast is drawn).
    """
    data = series_data(series)
    start = series.start.timestamp() * 1000.0 if series.start else None
    end = series.end.timestamp() * 1000.0 if series.end else None
    if forecast is not None and forecast.points and end is not None:
        end = max(end, forecast.points[-1].time.timestamp() * 1000.0)
    thresholds = [
        {
            "yAxis": level["value"],
            "name": level["name"],
            "label": {
                "formatter": f"{level['name']} {level['value']:g}",
                "position": "insideEndTop",
            },
            "lineStyle": {"color": SEVERITY_COLOURS.get(level["severity"], "#64748b")},
        }
        for level in levels
    ]
    thin = {"width": 1, "opacity": 0.5}
    return {
        "animation": False,
        "grid": {"left": 56, "right": 16, "top": 32, "bottom": 64},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "xAxis": {
            "type": "time",
            "min": start,
            "max": end,
            "axisLabel": {"formatter": TIME_LABELS.get(locale, TIME_LABELS["en"])},
        },
        "yAxis": {"type": "value", "name": series.unit, "scale": True},
        "dataZoom": [{"type": "inside"}, {"type": "slider", "height": 20, "bottom": 8}],
        "series": [
            {
                "name": names["mean"],
                "type": "line",
                "showSymbol": False,
                "data": data["mean"],
                "markLine": {"symbol": "none", "silent": True, "data": thresholds},
            },
            {
                "name": names["min"],
                "type": "line",
                "showSymbol": False,
                "lineStyle": thin,
                "data": data["min"],
            },
            {
                "name": names["max"],
                "type": "line",
                "showSymbol": False,
                "lineStyle": thin,
                "data": data["max"],
            },
            *(forecast_series(forecast, names) if forecast is not None else []),
        ],
    }


def forecast_series(forecast: ChannelForecast, names: dict[str, str]) -> list[dict[str, Any]]:
    """The forecast's dashed central line and its band (lower bound + stacked width)."""
    data = forecast_data(forecast)
    return [
        {
            "name": names["forecast"],
            "type": "line",
            "showSymbol": False,
            "lineStyle": {"type": "dashed", "color": FORECAST_COLOUR},
            "itemStyle": {"color": FORECAST_COLOUR},
            "data": data["median"],
        },
        {
            "name": names["band"],
            "type": "line",
            "stack": "forecast-band",
            "showSymbol": False,
            "silent": True,
            "lineStyle": {"opacity": 0},
            "itemStyle": {"color": FORECAST_COLOUR},
            "tooltip": {"show": False},
            "data": data["lower"],
        },
        {
            "name": names["band"],
            "type": "line",
            "stack": "forecast-band",
            "showSymbol": False,
            "silent": True,
            "lineStyle": {"opacity": 0},
            "itemStyle": {"color": FORECAST_COLOUR},
            "areaStyle": {"color": FORECAST_COLOUR, "opacity": 0.18},
            "tooltip": {"show": False},
            "data": data["width"],
        },
    ]
