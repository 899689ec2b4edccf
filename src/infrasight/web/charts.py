"""ECharts options for a channel's downsampled readings, and the zoom window arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from infrasight.api.routes.channels import ReadingSeries

__all__ = ["SEVERITY_COLOURS", "chart_options", "series_data", "zoom_window"]

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


def series_data(series: ReadingSeries) -> dict[str, list[list[Any]]]:
    """Mean, min and max as ``[epoch_ms, value]`` pairs for ECharts' time axis."""
    points = series.points
    return {
        "mean": [[p.time.timestamp() * 1000.0, p.mean] for p in points],
        "min": [[p.time.timestamp() * 1000.0, p.min] for p in points],
        "max": [[p.time.timestamp() * 1000.0, p.max] for p in points],
    }


def chart_options(
    series: ReadingSeries,
    levels: list[dict[str, Any]],
    *,
    names: dict[str, str],
    locale: str = "en",
) -> dict[str, Any]:
    """Options of one channel's chart: mean line, min/max lines, alarm thresholds drawn.

    The x axis is fixed to the full range, so dataZoom percentages map to absolute times.
    ``names`` holds the translated legend names (``mean``, ``min``, ``max``).
    """
    data = series_data(series)
    start = series.start.timestamp() * 1000.0 if series.start else None
    end = series.end.timestamp() * 1000.0 if series.end else None
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
        ],
    }
