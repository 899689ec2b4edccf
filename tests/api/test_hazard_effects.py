"""Hazards derived from durable effects: stored readings and capture analysis update the touched
elements' hazards, a replayed row changes nothing, and a hazard links its alarms, anomaly
windows, defects and forecasts, with the forecast in its likelihood."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from infrasight.api.app import create_app
from infrasight.core.domain import Role
from infrasight.jobs.runner import add_effect
from infrasight.platform import Platform
from infrasight.services.hazard_effects import HAZARDS_DUE, apply_hazards_due, merge_hazards_due
from infrasight.services.reading_effects import apply_readings_stored
from infrasight.storage.models import Asset, Hazard, HazardEvidenceLink, HazardTransitionRecord, Job
from infrasight.synthetic import render_crack_scene
from infrasight.synthetic.scenarios import generate_scenario
from tests.conftest import Tenant

T0 = datetime(2026, 1, 1, tzinfo=UTC)
QUANTITIES = {
    "CRK-1": ("crack_width", "mm"),
    "CRK-2": ("crack_width", "mm"),
    "SET-P2": ("settlement", "mm"),
}


def _pier(
    client: TestClient,
    tenant: Tenant,
    mechanism: str,
    seed: int,
    *,
    rule: dict[str, Any] | None = None,
    chunk: int = 5000,
) -> dict[str, Any]:
    """An asset with an instrumented pier fed a generated scenario in time order."""
    h = tenant.headers(Role.ENGINEER)
    aid = client.post(
        "/api/v1/assets", json={"name": f"B-{mechanism}-{seed}", "kind": "bridge"}, headers=h
    ).json()["id"]
    eid = client.post(
        f"/api/v1/assets/{aid}/elements",
        json={"name": "Pier 2", "kind": "pier", "criticality": 4},
        headers=h,
    ).json()["id"]
    dev = client.post(
        "/api/v1/devices",
        json={"name": f"DL-{mechanism}-{seed}", "kind": "datalogger", "asset_id": aid},
        headers=h,
    ).json()
    obs = generate_scenario(mechanism, seed).observations
    values = {f"{mechanism}-{c.key}": c.values for c in obs.channels if c.key in QUANTITIES}
    values[f"{mechanism}-TEMP"] = obs.drivers["temperature"]
    ids = {}
    for key in values:
        q, unit = QUANTITIES.get(key.removeprefix(f"{mechanism}-"), ("temperature", "degC"))
        r = client.post(
            "/api/v1/channels",
            json={
                "key": key,
                "quantity": q,
                "unit": unit,
                "element_id": eid,
                "device_id": dev["id"],
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    if rule is not None:
        r = client.post("/api/v1/rules", json={"definition": rule}, headers=h)
        assert r.status_code == 201, r.text
    times = [(T0 + timedelta(hours=float(t))).isoformat() for t in obs.times_h]
    items = [
        {"channel": key, "time": times[i], "value": float(v[i])}
        for i in range(len(times))
        for key, v in values.items()
    ]
    auth = {"Authorization": f"Bearer {dev['token']}"}
    for k in range(0, len(items), chunk):
        r = client.post(
            "/api/v1/ingest/readings", json={"readings": items[k : k + chunk]}, headers=auth
        )
        assert r.status_code == 200, r.text
    return {"asset_id": aid, "element_id": eid, "channel_ids": ids}


def _hazard_rows(platform: Platform) -> dict[str, Any]:
    with platform.database.session() as s:
        return {
            "hazards": [
                (h.id, h.element_id, h.mechanism, h.status, h.risk, h.likelihood, h.prediction)
                for h in s.scalars(select(Hazard).order_by(Hazard.id))
            ],
            "evidence": [
                (e.hazard_id, e.kind, e.ref, e.test, e.detail, e.value)
                for e in s.scalars(select(HazardEvidenceLink).order_by(HazardEvidenceLink.id))
            ],
            "transitions": s.scalar(select(func.count()).select_from(HazardTransitionRecord)),
        }


def test_readings_open_the_hazard_and_a_replayed_row_changes_nothing(
    platform: Platform, client: TestClient, tenant: Tenant
) -> None:
    site = _pier(client, tenant, "settlement", 7)
    h = tenant.headers(Role.VIEWER)
    listed = client.get("/api/v1/hazards", params={"asset_id": site["asset_id"]}, headers=h).json()
    assert [(x["element_id"], x["mechanism"], x["status"]) for x in listed] == [
        (site["element_id"], "settlement", "open")
    ]
    before = _hazard_rows(platform)
    # the effect rows are gone: applied with the hazards, in one transaction
    with platform.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.name != "notify")) == 0
    # a row delivered again (a crash after the commit, a retry) and a restart change nothing
    with platform.database.transaction() as s:
        add_effect(
            s,
            HAZARDS_DUE,
            {"organization_id": tenant.organization_id, "assets": {str(site["asset_id"]): None}},
            tenant.organization_id,
        )
    with TestClient(create_app(platform=platform)):  # start: resume_queued applies the row
        pass
    with platform.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.name != "notify")) == 0
    assert _hazard_rows(platform) == before


def test_the_readings_effect_writes_the_hazard_row_for_the_touched_elements(
    platform: Platform, client: TestClient, tenant: Tenant
) -> None:
    site = _pier(client, tenant, "thermal", 11, chunk=50_000)
    temp = site["channel_ids"]["thermal-TEMP"]
    crack = site["channel_ids"]["thermal-CRK-1"]
    args = {
        "organization_id": tenant.organization_id,
        "start_us": round(T0.timestamp() * 1e6),
        "end_us": round(T0.timestamp() * 1e6),
    }
    # a crash between the readings effect's commit and the hazard update: the row waits
    with platform.database.transaction() as s:
        apply_readings_stored(platform.jobs.context, s, {**args, "channel_ids": [crack]})
        apply_readings_stored(platform.jobs.context, s, {**args, "channel_ids": [temp]})
    with platform.database.session() as s:
        rows = s.scalars(select(Job).where(Job.name == HAZARDS_DUE).order_by(Job.id)).all()
        scopes = [r.arguments["assets"] for r in rows]
    aid = str(site["asset_id"])
    # a gauge touches its element; a driver (temperature) the whole asset
    assert scopes == [{aid: [site["element_id"]]}, {aid: None}]
    assert merge_hazards_due(
        [{"organization_id": 1, "assets": s} for s in scopes]
        + [{"organization_id": 1, "assets": {"99": [3, 1]}}]
    ) == {"organization_id": 1, "assets": {aid: None, "99": [1, 3]}}
    platform.jobs.run_pending()
    with platform.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.name != "notify")) == 0
    # thermal response only: no hazard, before or after
    assert _hazard_rows(platform)["hazards"] == []


def test_a_row_about_a_deleted_asset_is_skipped(
    platform: Platform, client: TestClient, tenant: Tenant
) -> None:
    with platform.database.transaction() as s:
        result = apply_hazards_due(
            platform.jobs.context,
            s,
            {"organization_id": tenant.organization_id, "assets": {"4242": None}},
        )
        assert s.get(Asset, 4242) is None
    assert result == {"hazards": []}


CRACK_RULE = {
    "id": "crack-width",
    "channels": ["corrosion-CRK-1"],
    "levels": [
        {"name": "amber", "severity": 1, "limits": [{"quantity": "value", "upper": 0.45}]},
        {"name": "red", "severity": 2, "limits": [{"quantity": "value", "upper": 0.8}]},
    ],
}


def test_a_hazard_links_alarms_anomalies_and_its_forecast(
    platform: Platform, client: TestClient, tenant: Tenant
) -> None:
    site = _pier(client, tenant, "corrosion", 3, rule=CRACK_RULE)
    h = tenant.headers(Role.VIEWER)
    listed = client.get("/api/v1/hazards", params={"asset_id": site["asset_id"]}, headers=h).json()
    # a growing crack without defects or exposure on record: a damage mechanism, not a fault
    assert len(listed) == 1 and listed[0]["hazard_kind"] in ("structural", "durability")
    hz = client.get(f"/api/v1/hazards/{listed[0]['id']}", headers=h).json()
    kinds = {e["kind"] for e in hz["evidence"]}
    assert {"reading_window", "alarm", "forecast"} <= kinds, kinds
    alarms = client.get("/api/v1/alarms", headers=h).json()["items"]
    amber = next(a for a in alarms if a["key"] == "crack-width")
    assert f"alarm:{amber['id']}" in {e["ref"] for e in hz["evidence"]}
    forecast = next(e for e in hz["evidence"] if e["kind"] == "forecast")
    assert forecast["ref"] == "forecast:corrosion-CRK-1@red" and forecast["unit"] == "d"
    # CRK-1 grows about 0.23 mm in the 47 days after the onset: 0.8 mm is months away
    assert 20 < forecast["value"] < 365
    [pred] = hz["prediction"]["forecasts"]
    assert pred["level"] == "red" and pred["limit"] == 0.8
    p = pred["probability"]
    assert 0 <= p["30"] <= p["90"] <= p["365"] <= 1
    assert hz["prediction"]["progression_probability_1y"] == p["365"]
    assert "P(progress within 1 year)" in hz["prediction"]["risk_basis"]
    # windows of an ongoing change are open-ended: the next batch refreshes them in place
    assert any(e["ref"].endswith("/..]") for e in hz["evidence"])
    assert len({e["ref"] for e in hz["evidence"]}) == len(hz["evidence"])


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def test_capture_analysis_links_its_defects_to_the_element_hazard(
    platform: Platform, client: TestClient, tenant: Tenant
) -> None:
    site = _pier(client, tenant, "settlement", 7)
    scene = render_crack_scene(
        branch_probability=0.0,
        width=640,
        height=480,
        seed=21,
        n_cracks=1,
        width_range_px=(3.0, 6.0),
        mm_per_px=0.1,
    )
    r = client.post(
        "/api/v1/captures",
        files={"file": ("pier.png", _png(scene.image))},
        data={
            "asset_id": str(site["asset_id"]),
            "element_id": str(site["element_id"]),
            "mm_per_px": "0.1",
        },
        headers=tenant.headers(Role.INSPECTOR),
    )
    assert r.status_code == 201, r.text
    capture_id = r.json()["id"]
    assert platform.jobs.run_pending() == 1
    h = tenant.headers(Role.VIEWER)
    defects = client.get(f"/api/v1/captures/{capture_id}/defects", headers=h).json()
    assert defects
    [hz] = client.get("/api/v1/hazards", params={"asset_id": site["asset_id"]}, headers=h).json()
    detail = client.get(f"/api/v1/hazards/{hz['id']}", headers=h).json()
    linked = [e for e in detail["evidence"] if e["kind"] == "defect"]
    assert {e["ref"].split("#")[0] for e in linked} == {f"defect:{d['id']}" for d in defects}
    main = max(defects, key=lambda d: d["geometry"]["pixel_count"])
    ev = next(e for e in linked if e["ref"].startswith(f"defect:{main['id']}#"))
    assert f"capture:{capture_id}#bbox=" in ev["ref"]
    assert ev["unit"] == "mm"
    assert ev["value"] == round(main["measurements"]["width_max"]["value"], 3)
    assert "max width" in ev["detail"] and "length" in ev["detail"]
    with platform.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.name == HAZARDS_DUE)) == 0


def test_a_faulty_gauge_hazard_links_its_anomaly_windows_and_maintenance_alarm(
    platform: Platform, client: TestClient, tenant: Tenant
) -> None:
    site = _pier(client, tenant, "sensor_fault", 0)  # spikes on CRK-2
    h = tenant.headers(Role.VIEWER)
    listed = client.get("/api/v1/hazards", params={"asset_id": site["asset_id"]}, headers=h).json()
    assert [(x["mechanism"], x["hazard_kind"]) for x in listed] == [("sensor_fault", "maintenance")]
    hz = client.get(f"/api/v1/hazards/{listed[0]['id']}", headers=h).json()
    windows = [e for e in hz["evidence"] if e["kind"] == "anomaly_window"]
    assert windows and all(e["ref"].startswith("anomaly:sensor_fault-CRK-2[") for e in windows)
    assert all(0.9 <= e["value"] <= 1.0 for e in windows)
    assert hz["prediction"]["forecasts"] == []  # a gauge fault is not forecast to a limit
