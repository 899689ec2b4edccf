"""Temperature compensation: the response is learned, and anomalies are scored on the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from tests.conftest import Site, Tenant

T0 = datetime(2024, 5, 1, tzinfo=UTC)
STEP = 600.0


def temperature(t_s: np.ndarray) -> np.ndarray:
    return 15 + 6 * np.sin(2 * np.pi * t_s / 86_400) + 2 * np.sin(2 * np.pi * t_s / (5 * 86_400))


def send(client: TestClient, site: Site, key: str, t_s: np.ndarray, values: np.ndarray) -> None:
    readings = [
        {"channel": key, "time": (T0 + timedelta(seconds=float(t))).isoformat(), "value": float(v)}
        for t, v in zip(t_s, values, strict=True)
    ]
    response = client.post(
        "/api/v1/ingest/readings", json={"readings": readings}, headers=site.device_headers
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def air(client: TestClient, tenant: Tenant, site: Site) -> int:
    response = client.post(
        "/api/v1/channels",
        json={
            "key": "AIR",
            "quantity": "temperature",
            "unit": "degC",
            "element_id": site.element_id,
            "device_id": site.device_id,
        },
        headers=tenant.headers(),
    )
    return int(response.json()["id"])


def test_learned_response_and_scores_on_the_residual(
    client: TestClient, tenant: Tenant, site: Site, air: int
) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(0, 20 * 86_400, STEP)
    strain = 10.0 * temperature(t - 7_200) + rng.normal(0, 0.5, t.size)
    strain[t >= 17 * 86_400] += 30.0  # the structure changes on day 17
    first = t < 14 * 86_400
    send(client, site, "AIR", t[first], temperature(t[first]))
    send(client, site, "VD-STRAIN", t[first], strain[first])
    h = tenant.headers(Role.ENGINEER)
    url = f"/api/v1/channels/{site.strain_channel_id}/compensation"
    body = {
        "driver_channel_id": air,
        "reference_start": T0.isoformat(),
        "reference_end": (T0 + timedelta(days=14)).isoformat(),
        "max_lag_hours": 6,
    }
    fitted = client.put(url, json=body, headers=h)
    assert fitted.status_code == 200, fitted.text
    model = fitted.json()
    assert model["gain"] == pytest.approx(10.0, rel=0.02)
    assert model["lag_s"] == pytest.approx(7_200, abs=900)
    assert model["r2"] > 0.99
    assert client.get(url, headers=tenant.headers(Role.VIEWER)).json()["gain"] == model["gain"]
    rest = ~first
    send(client, site, "AIR", t[rest], temperature(t[rest]))
    send(client, site, "VD-STRAIN", t[rest], strain[rest])
    channels = {
        c["key"]: c["id"]
        for c in client.get("/api/v1/channels", params={"limit": 100}, headers=h).json()["items"]
    }
    points = client.get(
        f"/api/v1/channels/{channels['VD-STRAIN.anomaly']}/readings",
        params={"start": (T0 + timedelta(days=14)).isoformat(), "max_points": 10_000},
        headers=h,
    ).json()["points"]
    scores = np.array([p["mean"] for p in points])
    day = (np.arange(scores.size) * STEP) / 86_400 + 14
    assert (
        np.median(scores[(day > 14.5) & (day < 17)]) < 0.3
    )  # daily thermal swings are not anomalous
    assert scores[(day >= 17) & (day < 17.1)].max() > 0.9  # the change is


def test_compensation_errors(client: TestClient, tenant: Tenant, site: Site, air: int) -> None:
    url = f"/api/v1/channels/{site.strain_channel_id}/compensation"
    h = tenant.headers()
    assert client.get(url, headers=h).status_code == 404
    body = {
        "driver_channel_id": 999,
        "reference_start": T0.isoformat(),
        "reference_end": (T0 + timedelta(days=1)).isoformat(),
    }
    assert client.put(url, json=body, headers=h).json()["field"] == "driver_channel_id"
    backwards = {
        **body,
        "driver_channel_id": air,
        "reference_end": (T0 - timedelta(days=1)).isoformat(),
    }
    assert client.put(url, json=backwards, headers=h).status_code == 422
    empty = client.put(url, json={**body, "driver_channel_id": air}, headers=h)
    assert empty.status_code == 422 and "cannot fit" in empty.json()["detail"]
    itself = {**body, "driver_channel_id": site.strain_channel_id}
    assert "itself" in client.put(url, json=itself, headers=h).json()["detail"]
    assert (
        client.put(
            url, json={**body, "driver_channel_id": air}, headers=tenant.headers(Role.VIEWER)
        ).status_code
        == 403
    )
