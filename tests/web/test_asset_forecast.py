"""The asset page's channel chart draws the forecast endpoint's central line and 95 % band past
the last reading, beside the alarm levels; zooming still re-queries the readings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from nicegui import ui
from nicegui.testing import User

from infrasight.core.domain import Role
from infrasight.web import WebContext
from infrasight.web.forecast_cache import ForecastCache
from infrasight.web.i18n import LOCALES, translator
from tests.web.conftest import N_READINGS, T0, WebSite, log_in

DAY_MS = 86_400_000.0
FIT_RETRIES = 600  # 0.1 s each: the fit takes seconds on a loaded machine


async def _chart(web: User, site: WebSite, ctx: WebContext, locale: str = "en") -> ui.echart:
    await log_in(web, site.email(Role.VIEWER))
    await web.should_see(marker="logout")
    for state in ctx.browsers.values():
        state.locale = locale
    await web.open(f"/assets/{site.site.asset_id}?channel=VD-SETTLE")
    # the readings are drawn at once, the forecast when its fit arrives (seconds)
    await web.should_see(marker="forecast-caption-VD-SETTLE", retries=FIT_RETRIES)
    chart = next(iter(web.find(marker="chart-VD-SETTLE").elements))
    assert isinstance(chart, ui.echart)
    return chart


def _series(chart: ui.echart, name: str) -> list[dict]:
    return [s for s in chart.options["series"] if s["name"] == name]


async def test_forecast_band_is_the_endpoints_answer(
    web: User, web_site: WebSite, web_context: WebContext, client: TestClient
) -> None:
    chart = await _chart(web, web_site, web_context)
    readings = chart.options["series"][0]["data"]
    last_reading_ms = readings[-1][0]
    (central,) = _series(chart, "forecast")
    lower, width = _series(chart, "95 % band")
    assert lower["stack"] == width["stack"] and "areaStyle" in width
    # two weeks charted: a quarter of that ahead (about 3.5 days), from the last reading on
    history_days = (N_READINGS - 1) * 10 / 1440
    assert len(central["data"]) == 60
    start_ms, end_ms = central["data"][0][0], central["data"][-1][0]
    last_time_ms = T0.timestamp() * 1e3 + (N_READINGS - 1) * 600_000
    assert last_reading_ms <= last_time_ms == pytest.approx(start_ms)
    assert (end_ms - start_ms) / DAY_MS == pytest.approx(history_days / 4, abs=1e-6)
    assert chart.options["xAxis"]["max"] == pytest.approx(end_ms)
    # the same numbers as GET /channels/{id}/forecast over the charted history
    channel_id = web_site.site.settlement_channel_id
    answer = client.get(
        f"/api/v1/channels/{channel_id}/forecast",
        params={"history_days": history_days, "horizon_days": history_days / 4, "points": 60},
        headers=web_site.tenant.headers(Role.VIEWER),
    )
    assert answer.status_code == 200, answer.text
    points = answer.json()["points"]
    for drawn, low, band, point in zip(
        central["data"], lower["data"], width["data"], points, strict=True
    ):
        assert drawn[0] == pytest.approx(datetime.fromisoformat(point["time"]).timestamp() * 1e3)
        assert drawn[1] == pytest.approx(point["mean"], rel=1e-6)
        assert low[1] == pytest.approx(point["lower"], rel=1e-6)
        assert low[1] + band[1] == pytest.approx(point["upper"], rel=1e-6)
        assert band[1] > 0 and low[1] < drawn[1] < low[1] + band[1]
    # the alarm levels are still drawn on the readings
    marks = chart.options["series"][0]["markLine"]["data"]
    assert [m["yAxis"] for m in marks] == [3.0, 5.0]
    await web.should_see(marker="levels")


async def test_zoom_into_the_forecast_requeries_only_the_readings(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    chart = await _chart(web, web_site, web_context)
    (central,) = _series(chart, "forecast")
    before = [list(p) for p in central["data"]]
    readings_end = chart.options["series"][0]["data"][-1][0]
    axis_min, axis_max = chart.options["xAxis"]["min"], chart.options["xAxis"]["max"]
    start_pct = 100 * (readings_end - DAY_MS - axis_min) / (axis_max - axis_min)
    web.find(marker="chart-VD-SETTLE").trigger(
        "chart:datazoom", {"batch": [{"start": start_pct, "end": 100}]}
    )
    # the last day (and the last coarse bucket) of readings, each 10-minute reading in a bucket
    # of its own; the forecast stays as it was
    await web.should_see("148 buckets of 177 s")
    zoomed = chart.options["series"][0]["data"]
    assert zoomed[0][0] >= readings_end - DAY_MS
    assert len(zoomed) == 148
    assert max(p[1] for p in zoomed) == pytest.approx(5.7)
    assert _series(chart, "forecast")[0]["data"] == before


@pytest.mark.parametrize("locale", list(LOCALES))
async def test_forecast_legend_is_translated(
    web: User, web_site: WebSite, web_context: WebContext, locale: str
) -> None:
    t = translator(locale)
    chart = await _chart(web, web_site, web_context, locale)
    assert len(_series(chart, t("forecast"))) == 1
    assert len(_series(chart, t("95 % band"))) == 2
    assert web_context.missing.get(locale, set()) == set(), "untranslated strings"


async def test_a_channel_too_short_to_forecast_is_drawn_without_a_band(
    web: User, web_site: WebSite, web_context: WebContext, client: TestClient
) -> None:
    h = web_site.tenant.headers(Role.ENGINEER)
    created = client.post(
        "/api/v1/channels",
        json={
            "key": "VD-ONE",
            "quantity": "displacement",
            "unit": "mm",
            "element_id": web_site.site.element_id,
            "device_id": web_site.site.device_id,
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    sent = client.post(
        "/api/v1/ingest/readings",
        json={"readings": [{"channel": "VD-ONE", "time": "2024-05-01T00:00:00Z", "value": 1.0}]},
        headers=web_site.site.device_headers,
    )
    assert sent.status_code == 200, sent.text
    await log_in(web, web_site.email(Role.VIEWER))
    await web.should_see(marker="logout")
    await web.open(f"/assets/{web_site.site.asset_id}?channel=VD-ONE")
    chart = next(iter(web.find(marker="chart-VD-ONE").elements))
    assert isinstance(chart, ui.echart)
    await web.should_see(marker="forecast-none-VD-ONE", retries=FIT_RETRIES)
    assert [s["name"] for s in chart.options["series"]] == ["mean", "min", "max"]
    await web.should_not_see(marker="forecast-caption-VD-ONE")


async def test_a_second_load_draws_the_shared_fit_at_once(
    web: User, web_site: WebSite, web_context: WebContext
) -> None:
    first = await _chart(web, web_site, web_context)
    assert len(web_context.forecasts._done) == 1
    await web.open(f"/assets/{web_site.site.asset_id}?channel=VD-SETTLE")
    await web.should_see(marker="forecast-caption-VD-SETTLE", retries=1)
    again = next(iter(web.find(marker="chart-VD-SETTLE").elements))
    assert isinstance(again, ui.echart) and again is not first
    assert _series(again, "forecast")[0]["data"] == _series(first, "forecast")[0]["data"]


async def test_the_cache_fits_once_per_key_and_keeps_the_newest() -> None:
    calls: list[int] = []

    def compute(value: int) -> object:
        calls.append(value)
        return value

    cache = ForecastCache(size=2)
    key = (1, datetime(2024, 5, 1, tzinfo=UTC), 14.0, 3.5)
    answers = await asyncio.gather(*(cache.get(key, lambda: compute(1)) for _ in range(5)))
    assert answers == [1] * 5 and calls == [1]  # five pages, one fit
    assert await cache.get(key, lambda: compute(2)) == 1 and calls == [1]
    for n in (2, 3):
        await cache.get((n, key[1], 14.0, 3.5), lambda n=n: compute(n))
    assert cache.peek(key) == (False, None)  # the oldest went
    assert cache.peek((3, key[1], 14.0, 3.5)) == (True, 3)
