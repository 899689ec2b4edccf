"""GET /channels/{id}/forecast: a known linear trend, its limit crossing, and bad requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from tests.conftest import Site, Tenant

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_linear_settlement_reaches_its_limit_when_expected(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    rng = np.random.default_rng(2)
    days = np.arange(0, 60, 0.25)
    values = 0.1 * days + rng.normal(0, 0.05, days.size)  # 0.1 mm/day
    items = [
        {
            "channel": "VD-SETTLE",
            "time": (T0 + timedelta(days=float(d))).isoformat(),
            "value": float(v),
        }
        for d, v in zip(days, values, strict=True)
    ]
    assert (
        client.post(
            "/api/v1/ingest/readings", json={"readings": items}, headers=site.device_headers
        ).status_code
        == 200
    )
    url = f"/api/v1/channels/{site.settlement_channel_id}/forecast"
    body = client.get(
        url, params={"horizon_days": 60, "limit": 10.0}, headers=tenant.headers(Role.VIEWER)
    ).json()
    assert body["n_readings"] == days.size and body["unit"] == "mm"
    last = body["points"][-1]
    assert last["mean"] == pytest.approx(0.1 * (days[-1] + 60), abs=0.2)
    assert last["lower"] < last["mean"] < last["upper"]
    expected = datetime.fromisoformat(body["limit"]["expected_at"])
    assert abs((expected - (T0 + timedelta(days=100))).total_seconds()) < 2 * 86_400
    assert body["limit"]["probability_by_horizon"] > 0.95
    growth = body["growth"]
    assert growth["rate_per_year"] == pytest.approx(0.1 * 365.25, rel=0.02)
    assert growth["ci_low"] < growth["rate_per_year"] < growth["ci_high"]
    assert growth["probability_growing"] > 0.99


def test_forecast_errors(client: TestClient, tenant: Tenant, site: Site) -> None:
    url = f"/api/v1/channels/{site.settlement_channel_id}/forecast"
    empty = client.get(url, headers=tenant.headers())
    assert empty.status_code == 422 and "no readings" in empty.json()["detail"]
    items = [{"channel": "VD-SETTLE", "time": T0.isoformat(), "value": 1.0}]
    client.post("/api/v1/ingest/readings", json={"readings": items}, headers=site.device_headers)
    few = client.get(url, headers=tenant.headers())
    assert few.status_code == 422 and "not enough data" in few.json()["detail"]
    assert client.get(url, params={"kind": "cubic"}, headers=tenant.headers()).status_code == 422


def _post(client: TestClient, site: Site, days: np.ndarray, values: np.ndarray) -> None:
    items = [
        {
            "channel": "VD-SETTLE",
            "time": (T0 + timedelta(days=float(d))).isoformat(),
            "value": float(v),
        }
        for d, v in zip(days, values, strict=True)
    ]
    response = client.post(
        "/api/v1/ingest/readings", json={"readings": items}, headers=site.device_headers
    )
    assert response.status_code == 200


def test_accelerating_settlement_default_forecast_knows_the_curve(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    """The demo's settling pier in small: steady, then 0.06 e (1 + e / 60) mm from day 31.5."""
    rng = np.random.default_rng(12)
    days = np.arange(0, 90, 0.125)
    e = np.clip(days - 31.5, 0, None)
    values = 0.06 * e * (1 + e / 60) + rng.normal(0, 0.05, days.size)
    _post(client, site, days, values)
    url = f"/api/v1/channels/{site.settlement_channel_id}/forecast"
    body = client.get(url, params={"limit": 10.0}, headers=tenant.headers(Role.VIEWER)).json()
    assert body["kind"] == "auto" and body["selected_kind"] == "onset"
    assert sum(c["weight"] for c in body["candidates"]) == pytest.approx(1.0)
    assert body["interval_factor"] >= 1.0
    now = body["points"][0]
    truth_now = 0.06 * e[-1] * (1 + e[-1] / 60)  # 6.89 mm
    assert now["lower"] < truth_now < now["upper"]
    assert now["mean"] == pytest.approx(truth_now, abs=0.1)
    # 10 mm at e = 74.4 days, i.e. 15.9 days after the last reading (day 89.875)
    expected = datetime.fromisoformat(body["limit"]["expected_at"])
    eta_days = (expected - (T0 + timedelta(days=float(days[-1])))).total_seconds() / 86_400
    assert eta_days == pytest.approx(74.4 - e[-1], rel=0.15)
    assert body["limit"]["probability_by_horizon"] > 0.8
    # the former default, a straight line, is still available and misses it
    linear = client.get(
        url, params={"limit": 10.0, "kind": "linear"}, headers=tenant.headers(Role.VIEWER)
    ).json()
    assert linear["selected_kind"] == "linear" and linear["limit"]["expected_at"] is None
    assert linear["points"][0]["mean"] < truth_now - 1.0


def test_seasonal_without_period_names_period_days(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    days = np.arange(0, 30, 0.25)
    _post(client, site, days, np.sin(2 * np.pi * days))
    url = f"/api/v1/channels/{site.settlement_channel_id}/forecast"
    bad = client.get(url, params={"kind": "seasonal"}, headers=tenant.headers())
    assert bad.status_code == 422
    assert bad.json()["field"] == "period_days" and "period_days" in bad.json()["detail"]
    ok = client.get(
        url, params={"kind": "seasonal", "period_days": 1.0}, headers=tenant.headers()
    ).json()
    assert ok["selected_kind"] == "seasonal"
    assert ok["points"][4]["mean"] == pytest.approx(
        np.sin(2 * np.pi * (days[-1] + 30 * 4 / 59)), abs=0.1
    )
