"""Hazards derived from ingested readings: a settlement at a pier, idempotent updates, the
lifecycle over HTTP (409 naming the allowed states) and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.services.hazard_housekeeping import SEEN_KEY
from infrasight.storage.models import Hazard
from infrasight.synthetic.scenarios import generate_scenario
from tests.conftest import Tenant

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _instrumented_pier(client: TestClient, tenant: Tenant, mechanism: str, seed: int) -> int:
    h = tenant.headers(Role.ENGINEER)
    aid = client.post(
        "/api/v1/assets",
        json={"name": f"B-{mechanism}", "kind": "bridge", "criticality": 4},
        headers=h,
    ).json()["id"]
    eid = client.post(
        f"/api/v1/assets/{aid}/elements",
        json={
            "name": "Pier 2",
            "kind": "pier",
            "material": "reinforced concrete",
            "criticality": 5,
        },
        headers=h,
    ).json()["id"]
    dev = client.post(
        "/api/v1/devices",
        json={"name": f"DL-{mechanism}", "kind": "datalogger", "asset_id": aid},
        headers=h,
    ).json()
    sc = generate_scenario(mechanism, seed)
    obs = sc.observations
    series = {c.key: c.values for c in obs.channels if c.key in ("CRK-1", "CRK-2", "SET-P2")}
    quantities = {
        "CRK-1": ("crack_width", "mm"),
        "CRK-2": ("crack_width", "mm"),
        "SET-P2": ("settlement", "mm"),
    }
    values = dict(series)
    values[f"{mechanism}-TEMP"] = obs.drivers["temperature"]
    quantities[f"{mechanism}-TEMP"] = ("temperature", "degC")
    for key, (q, unit) in quantities.items():
        r = client.post(
            "/api/v1/channels",
            json={
                "key": key if key.startswith(mechanism) else f"{mechanism}-{key}",
                "quantity": q,
                "unit": unit,
                "element_id": eid,
                "device_id": dev["id"],
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
    times = [(T0 + timedelta(hours=float(t))).isoformat() for t in obs.times_h]
    items = [
        {
            "channel": key if key.startswith(mechanism) else f"{mechanism}-{key}",
            "time": times[i],
            "value": float(v[i]),
        }
        for i in range(len(times))
        for key, v in values.items()
    ]  # in time order, as a datalogger sends them: every batch updates the hazards
    auth = {"Authorization": f"Bearer {dev['token']}"}
    for k in range(0, len(items), 5000):
        r = client.post(
            "/api/v1/ingest/readings", json={"readings": items[k : k + 5000]}, headers=auth
        )
        assert r.status_code == 200, r.text
    return int(aid)


def test_settlement_hazard_lifecycle(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    aid = _instrumented_pier(client, tenant, "settlement", 7)
    h = tenant.headers(Role.ENGINEER)
    # derived by the durable effects of the ingest: nobody asked for an update
    derived = client.get("/api/v1/hazards", params={"asset_id": aid}, headers=h).json()
    ids = [x["id"] for x in derived]
    assert len(ids) == 1, derived
    hz = client.get(f"/api/v1/hazards/{ids[0]}", headers=tenant.headers(Role.VIEWER)).json()
    assert hz["mechanism"] == "settlement" and hz["status"] == "open"
    assert hz["causes"][0]["mechanism"] == "settlement"
    assert hz["causes"][0]["confidence"] > 0.5
    assert any("settlement-SET-P2[2026-" in e["ref"] for e in hz["evidence"])
    # structural: consequence ceil((4 + 5) / 2) = 5; risk = likelihood x 5
    assert hz["consequence"] == 5 and hz["risk"] == 5 * hz["likelihood"]
    assert hz["allowed_transitions"] == ["acknowledged", "merged"]
    assert len(hz["transitions"]) == 1
    n_evidence = len(hz["evidence"])
    # idempotent: the same data again changes nothing
    again = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h).json()
    assert again["hazards"] == []
    hz2 = client.get(f"/api/v1/hazards/{ids[0]}", headers=h).json()
    assert len(hz2["evidence"]) == n_evidence and len(hz2["transitions"]) == 1
    listed = client.get(
        "/api/v1/hazards", params={"asset_id": aid, "status": "open"}, headers=h
    ).json()
    assert [x["id"] for x in listed] == ids
    assert client.get("/api/v1/hazards", params={"min_risk": 26}, headers=h).status_code == 422
    bad = client.post(f"/api/v1/hazards/{ids[0]}/transitions", json={"to": "closed"}, headers=h)
    assert bad.status_code == 409 and "allowed: acknowledged, merged" in bad.json()["detail"]
    ok = client.post(
        f"/api/v1/hazards/{ids[0]}/transitions",
        json={"to": "acknowledged", "note": "seen"},
        headers=h,
    )
    assert ok.status_code == 200 and ok.json()["status"] == "acknowledged"
    assert ok.json()["transitions"][-1]["note"] == "seen"
    unknown = client.post(f"/api/v1/hazards/{ids[0]}/transitions", json={"to": "gone"}, headers=h)
    assert unknown.status_code == 422
    assert (
        client.get(f"/api/v1/hazards/{ids[0]}", headers=other_tenant.headers()).status_code == 404
    )


def test_criticality_out_of_range(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/api/v1/assets",
        json={"name": "X", "kind": "bridge", "criticality": 6},
        headers=tenant.headers(Role.ENGINEER),
    )
    assert r.status_code == 422 and "criticality" in r.text


def test_thermal_only_opens_no_hazard(client: TestClient, tenant: Tenant) -> None:
    aid = _instrumented_pier(client, tenant, "thermal", 11)
    r = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=tenant.headers(Role.ENGINEER))
    assert r.status_code == 200 and r.json()["hazards"] == []
    listed = client.get(
        "/api/v1/hazards", params={"asset_id": aid}, headers=tenant.headers(Role.VIEWER)
    )
    assert listed.status_code == 200 and listed.json() == []


def test_a_live_hazard_whose_cause_is_no_longer_on_top_shows_its_present_confidence(
    client: TestClient, tenant: Tenant, platform: Platform
) -> None:
    # a sensor-fault hazard the element opened earlier (confidence 0.97 then), and the readings
    # of a settlement that a co-located channel confirms: the settlement is on top now
    aid = _instrumented_pier(client, tenant, "settlement", 7)
    h = tenant.headers(Role.ENGINEER)
    [settle] = client.get("/api/v1/hazards", params={"asset_id": aid}, headers=h).json()
    with platform.database.transaction() as session:
        old = session.get_one(Hazard, settle["id"])
        fault = Hazard(
            organization_id=tenant.organization_id,
            asset_id=aid,
            element_id=old.element_id,
            mechanism="sensor_fault",
            hazard_kind="maintenance",
            status="open",
            confidence=0.97,
            likelihood=4,
            consequence=2,
            risk=8,
            risk_band="medium",
            causes=[],
            # on top until the end of the data: not yet for housekeeping to resolve
            prediction={SEEN_KEY: int((T0 + timedelta(days=91)).timestamp() * 1e6)},
        )
        session.add(fault)
        session.flush()
        fault_id = int(fault.id)
    r = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h)
    assert r.status_code == 200 and r.json()["hazards"] == [fault_id]
    now = client.get(f"/api/v1/hazards/{fault_id}", headers=h).json()
    top = client.get(f"/api/v1/hazards/{settle['id']}", headers=h).json()
    assert top["confidence"] > 0.5
    assert now["confidence"] < 0.01  # what the inference gives a sensor fault now
    assert now["status"] == "open" and now["risk"] == 8  # state and risk untouched
    # idempotent: the same data again changes nothing
    assert client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h).json()["hazards"] == []
