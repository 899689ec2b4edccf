"""Every stored batch is scored online into a derived ``<key>.anomaly`` channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from tests.conftest import Site, Tenant


def test_spike_scores_high_and_normal_readings_low(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    rng = np.random.default_rng(1)
    values = 10 + 0.5 * np.sin(np.arange(600) / 40) + rng.normal(0, 0.05, 600)
    values[450] += 8.0  # a spike
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    items = [
        {
            "channel": "VD-SETTLE",
            "time": (t0 + timedelta(minutes=10 * i)).isoformat(),
            "value": float(v),
        }
        for i, v in enumerate(values)
    ]
    for start in (0, 300):  # two batches: the scorer's state carries over
        response = client.post(
            "/api/v1/ingest/readings",
            json={"readings": items[start : start + 300]},
            headers=site.device_headers,
        )
        assert response.status_code == 200
    h = tenant.headers(Role.VIEWER)
    derived = client.get("/api/v1/channels", params={"limit": 100}, headers=h).json()["items"]
    score_channel = next(c for c in derived if c["key"] == "VD-SETTLE.anomaly")
    assert score_channel["unit"] == "dimensionless" and score_channel["device_id"] is None
    series = client.get(
        f"/api/v1/channels/{score_channel['id']}/readings", params={"max_points": 600}, headers=h
    ).json()["points"]
    scores = np.array([p["mean"] for p in series])
    assert scores.size == 600 and np.all((scores >= 0) & (scores <= 1))
    assert scores[450] > 0.9
    assert np.median(scores[100:440]) < 0.5
    # The device cannot write the derived channel.
    forged = client.post(
        "/api/v1/ingest/readings",
        json={"readings": [{"channel": "VD-SETTLE.anomaly", "time": t0.isoformat(), "value": 0}]},
        headers=site.device_headers,
    )
    assert forged.status_code == 422
