"""Backfill sent channel by channel: while one gauge's days have arrived and its neighbour's not
yet, the neighbour's silence is data still on its way, not a sensor fault; a gauge that stays
silent while its element keeps reporting is one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.synthetic.scenarios import generate_scenario
from tests.conftest import Tenant

T0 = datetime(2026, 1, 1, tzinfo=UTC)
QUANTITIES = {"CRK-1": ("crack_width", "mm"), "CRK-2": ("crack_width", "mm")}


def _setup(client: TestClient, tenant: Tenant, name: str) -> tuple[int, dict[str, str], Any]:
    h = tenant.headers(Role.ENGINEER)
    aid = client.post("/api/v1/assets", json={"name": name, "kind": "bridge"}, headers=h).json()[
        "id"
    ]
    eid = client.post(
        f"/api/v1/assets/{aid}/elements", json={"name": "Pier 2", "kind": "pier"}, headers=h
    ).json()["id"]
    dev = client.post(
        "/api/v1/devices",
        json={"name": f"DL-{name}", "kind": "datalogger", "asset_id": aid},
        headers=h,
    ).json()
    for key, (q, unit) in [*QUANTITIES.items(), ("TEMP", ("temperature", "degC"))]:
        r = client.post(
            "/api/v1/channels",
            json={
                "key": f"{name}-{key}",
                "quantity": q,
                "unit": unit,
                "element_id": eid,
                "device_id": dev["id"],
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
    obs = generate_scenario("thermal", 11, days=60).observations
    series = {c.key: c.values for c in obs.channels if c.key in QUANTITIES}
    series["TEMP"] = obs.drivers["temperature"]
    return int(aid), {"Authorization": f"Bearer {dev['token']}"}, (obs.times_h, series)


def _send(
    client: TestClient, auth: dict[str, str], name: str, data: Any, keys: list[str], hours: range
) -> None:
    times_h, series = data
    items = [
        {
            "channel": f"{name}-{key}",
            "time": (T0 + timedelta(hours=float(times_h[i]))).isoformat(),
            "value": float(series[key][i]),
        }
        for i in hours
        for key in keys
    ]
    for k in range(0, len(items), 5000):
        r = client.post(
            "/api/v1/ingest/readings", json={"readings": items[k : k + 5000]}, headers=auth
        )
        assert r.status_code == 200, r.text


def _hazards(client: TestClient, tenant: Tenant, aid: int) -> list[tuple[str, str]]:
    listed = client.get(
        "/api/v1/hazards", params={"asset_id": aid}, headers=tenant.headers(Role.ENGINEER)
    ).json()
    return [(x["hazard_kind"], x["mechanism"]) for x in listed]


def test_backfill_channel_by_channel_opens_no_missing_data_hazard(
    client: TestClient, tenant: Tenant
) -> None:
    aid, auth, data = _setup(client, tenant, "BF")
    live = range(0, 20 * 24)
    _send(client, auth, "BF", data, ["CRK-1", "CRK-2", "TEMP"], live)
    assert _hazards(client, tenant, aid) == []
    # a logger back after a 40-day outage sends its buffer one channel after the other
    buffered = range(20 * 24, 60 * 24)
    _send(client, auth, "BF", data, ["TEMP"], buffered)
    _send(client, auth, "BF", data, ["CRK-1"], buffered)
    assert _hazards(client, tenant, aid) == []
    _send(client, auth, "BF", data, ["CRK-2"], buffered)
    assert _hazards(client, tenant, aid) == []


def test_a_gauge_silent_while_its_element_reports_is_a_sensor_fault(
    client: TestClient, tenant: Tenant
) -> None:
    aid, auth, data = _setup(client, tenant, "SL")
    _send(client, auth, "SL", data, ["CRK-1", "CRK-2", "TEMP"], range(0, 20 * 24))
    for day in range(20, 60):  # CRK-2 dies: daily batches come without it
        _send(client, auth, "SL", data, ["CRK-1", "TEMP"], range(day * 24, (day + 1) * 24))
    assert ("maintenance", "sensor_fault") in _hazards(client, tenant, aid)
