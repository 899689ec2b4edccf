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
