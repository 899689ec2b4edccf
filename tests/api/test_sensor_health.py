"""A broken gauge goes to maintenance, a coherent change on several channels to the engineers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.demo.seed import seed_demo
from infrasight.platform import Platform
from infrasight.services.auth import Principal
from infrasight.services.ingest import ReadingColumns, ingest_readings
from infrasight.services.reading_effects import READINGS_STORED, merge_readings_stored
from infrasight.storage.models import AlarmEventRecord, AlarmRecord, Job
from tests.conftest import Site, Tenant, make_site, make_tenant

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def send(client: TestClient, site: Site, series: dict[str, np.ndarray], start: int) -> None:
    readings = [
        {
            "channel": key,
            "time": (T0 + timedelta(minutes=10 * (start + i))).isoformat(),
            "value": float(v),
        }
        for key, values in series.items()
        for i, v in enumerate(values)
    ]
    response = client.post(
        "/api/v1/ingest/readings", json={"readings": readings}, headers=site.device_headers
    )
    assert response.status_code == 200, response.text


def alarms(client: TestClient, tenant: Tenant) -> dict[str, dict[str, object]]:
    items = client.get("/api/v1/alarms", headers=tenant.headers(Role.VIEWER)).json()["items"]
    return {a["key"]: a for a in items}


def normal(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    return level + 0.3 * np.sin(np.arange(n) / 20) + rng.normal(0, 0.05, n)


def test_stuck_gauge_is_routed_to_maintenance_and_clears(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    rng = np.random.default_rng(3)
    send(
        client, site, {"VD-STRAIN": normal(rng, 300, 100.0), "VD-SETTLE": normal(rng, 300, 1.0)}, 0
    )
    assert alarms(client, tenant) == {}
    stuck = np.full(120, 100.3)  # the gauge stops moving
    send(client, site, {"VD-STRAIN": stuck, "VD-SETTLE": normal(rng, 120, 1.0)}, 300)
    fault = alarms(client, tenant)["sensor-fault/VD-STRAIN"]
    assert (fault["category"], fault["status"], fault["device_id"]) == (
        "maintenance",
        "active",
        site.device_id,
    )
    assert fault["level_name"] == "fault"
    note = str(fault["note"])
    assert note.startswith("VD-STRAIN: minor since ") and "stuck at 100.3" in note
    assert "evidence" in note
    assert fault["note_message"]["parts"][0]["params"]["fault"] == "minor"
    zh = client.get(
        f"/api/v1/alarms/{fault['id']}",
        headers={**tenant.headers(Role.VIEWER), "Accept-Language": "zh-Hans"},
    ).json()["note"]
    # "VD-STRAIN：自 <onset> 起轻微故障，停滞于 100.3 已 <h> 小时（...），证据 ... 至 ...，对照 ..."
    assert zh.startswith("VD-STRAIN：自 ") and "起轻微故障，停滞于 100.3 已 " in zh, zh
    assert "，证据 " in zh and "，对照 " in zh
    assert not re.findall(r"[A-Za-z]{3,}", zh.replace("VD-STRAIN", "")), zh
    assert "structural-change" not in " ".join(alarms(client, tenant))
    # Repaired: the jump back is itself anomalous, so it clears with the next quiet batch.
    for start in (420, 620):
        repaired = {"VD-STRAIN": normal(rng, 200, 100.0), "VD-SETTLE": normal(rng, 200, 1.0)}
        send(client, site, repaired, start)
    assert alarms(client, tenant)["sensor-fault/VD-STRAIN"]["status"] == "cleared"


def test_coherent_step_on_two_channels_is_structural(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    rng = np.random.default_rng(5)
    send(
        client, site, {"VD-STRAIN": normal(rng, 400, 100.0), "VD-SETTLE": normal(rng, 400, 1.0)}, 0
    )
    send(
        client, site, {"VD-STRAIN": normal(rng, 60, 140.0), "VD-SETTLE": normal(rng, 60, 9.0)}, 400
    )
    found = alarms(client, tenant)
    structural = found[f"structural-change/asset-{site.asset_id}"]
    assert (structural["category"], structural["severity"], structural["status"]) == (
        "structural",
        2,
        "active",
    )
    assert found.get("sensor-fault/VD-STRAIN", {}).get("status") in (None, "cleared")
    listed = client.get(
        "/api/v1/alarms", params={"category": "structural"}, headers=tenant.headers()
    ).json()
    assert [a["key"] for a in listed["items"]] == [f"structural-change/asset-{site.asset_id}"]


def test_demo_raises_one_sensor_fault_alarm_that_says_what_was_seen(
    platform: Platform, client: TestClient
) -> None:
    outcome = seed_demo(platform, days=90, seed=7, console=Console(quiet=True))
    headers = {"Authorization": f"Bearer {outcome.token}"}
    listed = client.get(
        "/api/v1/alarms", params={"category": "maintenance"}, headers=headers
    ).json()
    assert [a["key"] for a in listed["items"]] == ["sensor-fault/VD-S2-STRAIN-02"]
    alarm = listed["items"][0]
    assert (alarm["status"], alarm["level_name"]) == ("active", "fault")
    assert alarm["note"].startswith("VD-S2-STRAIN-02: minor since ")
    assert "stuck at" in alarm["note"] and "evidence" in alarm["note"]
    detail = client.get(f"/api/v1/alarms/{alarm['id']}", headers=headers).json()
    assert [e["kind"] for e in detail["events"]] == ["raised"]
    # The event keeps what was seen when raised; the alarm's note follows the later judgements.
    raised = detail["events"][0]["note"]
    assert raised.startswith("VD-S2-STRAIN-02: minor since ") and "stuck at" in raised


def _events(platform: Platform, organization_id: int) -> list[tuple[object, ...]]:
    with platform.database.session() as session:
        rows = session.execute(
            select(AlarmRecord.key, AlarmEventRecord.kind, AlarmEventRecord.time)
            .join(AlarmRecord, AlarmRecord.id == AlarmEventRecord.alarm_id)
            .where(AlarmRecord.organization_id == organization_id)
            .order_by(AlarmEventRecord.time, AlarmRecord.key, AlarmEventRecord.kind)
        ).all()
    return [tuple(row) for row in rows]


def _store_quietly(platform: Platform, site: Site, organization_id: int, batch: Batch) -> None:
    """Store a batch and its effect row without applying it (as a process killed at once)."""
    series, start = batch
    keys, times, values = [], [], []
    for key, data in series.items():
        for i, value in enumerate(data):
            keys.append(key)
            times.append((T0 + timedelta(minutes=10 * (start + i))).isoformat())
            values.append(float(value))
    caller = Principal(organization_id=organization_id, name="device", device_id=site.device_id)
    columns = ReadingColumns(channels=keys, times=times, values=values, units=[None] * len(keys))
    with platform.database.transaction() as session:
        ingest_readings(session, caller, columns, future_tolerance_s=300)


Batch = tuple[dict[str, np.ndarray], int]


def test_sensor_health_alarms_do_not_depend_on_how_batches_were_merged(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    """Batches applied one by one, or stored and then merged into one effect (a replay after a
    crash): the same sensor-health alarm events at the same times."""
    rng = np.random.default_rng(3)
    batches: list[Batch] = [
        ({"VD-STRAIN": normal(rng, 300, 100.0), "VD-SETTLE": normal(rng, 300, 1.0)}, 0),
        ({"VD-STRAIN": np.full(120, 100.3), "VD-SETTLE": normal(rng, 120, 1.0)}, 300),
        ({"VD-STRAIN": normal(rng, 200, 100.0), "VD-SETTLE": normal(rng, 200, 1.0)}, 420),
        ({"VD-STRAIN": normal(rng, 200, 100.0), "VD-SETTLE": normal(rng, 200, 1.0)}, 620),
    ]
    for series, start in batches:  # one by one, each applied at once
        send(client, site, series, start)
    one_by_one = _events(platform, tenant.organization_id)
    assert [(key, kind) for key, kind, _ in one_by_one] == [
        ("sensor-fault/VD-STRAIN", "raised"),
        ("sensor-fault/VD-STRAIN", "cleared"),
    ]
    other = make_tenant(platform, "Replayed")
    other_site = make_site(client, other)
    for batch in batches:  # all stored, then applied as one merged effect
        _store_quietly(platform, other_site, other.organization_id, batch)
    with platform.database.session() as session:
        rows = session.scalars(select(Job.arguments).where(Job.name == READINGS_STORED)).all()
    merged = merge_readings_stored([dict(row) for row in rows])
    assert len(rows) == 4 and merged["instants"]
    platform.jobs.run_pending()
    assert _events(platform, other.organization_id) == one_by_one
