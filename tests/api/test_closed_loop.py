"""The closed loop through the HTTP API on generated assets: a hazard found in the data, its
recommendation, a work order carried out by a crew with a repair photo, and the repair verified
from the measurements after it: closed and resolved when they show it fixed, reopened with the
evidence when they do not.

Settlement: readings develop a settlement -> hazard (settlement the top cause) -> jacking work
order -> completed -> the readings settle (passes) or keep settling (fails). Crack: a crack
captured on the element -> hazard -> crack repair -> a re-inspection capture (camera moved,
lighting changed) shows it sealed (passes) or still open (fails).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.reasoning.verification import Method, load_verification_rules
from infrasight.storage.models import User, WorkOrderEvent
from infrasight.synthetic import render_crack_series
from infrasight.synthetic.scenarios import generate_scenario
from tests.conftest import Tenant

API = "/api/v1"
NOW = datetime.now(UTC).replace(microsecond=0)


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def _instrumented(
    client: TestClient, tenant: Tenant, mechanism: str, seed: int, end: datetime
) -> dict[str, object]:
    """A pier with the scenario's gauges and readings ending at ``end``."""
    h = tenant.headers(Role.ENGINEER)
    aid = client.post(
        f"{API}/assets", json={"name": f"B-{mechanism}", "kind": "bridge"}, headers=h
    ).json()["id"]
    eid = client.post(
        f"{API}/assets/{aid}/elements",
        json={"name": "Pier 2", "kind": "pier", "material": "reinforced concrete"},
        headers=h,
    ).json()["id"]
    dev = client.post(
        f"{API}/devices",
        json={"name": f"DL-{mechanism}", "kind": "datalogger", "asset_id": aid},
        headers=h,
    ).json()
    obs = generate_scenario(mechanism, seed).observations
    quantities = {"CRK-1": "crack_width", "CRK-2": "crack_width", "SET-P2": "settlement"}
    values = {c.key: c.values for c in obs.channels if c.key in quantities}
    values["TEMP"] = obs.drivers["temperature"]
    quantities["TEMP"] = "temperature"
    for key, q in quantities.items():
        r = client.post(
            f"{API}/channels",
            json={
                "key": f"{mechanism}-{key}",
                "quantity": q,
                "unit": "degC" if q == "temperature" else "mm",
                "element_id": eid,
                "device_id": dev["id"],
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
    start = end - timedelta(hours=float(obs.times_h[-1]))
    times = [start + timedelta(hours=float(t)) for t in obs.times_h]
    auth = {"Authorization": f"Bearer {dev['token']}"}
    _ingest(client, auth, {f"{mechanism}-{k}": (times, list(v)) for k, v in values.items()})
    return {"asset": aid, "element": eid, "auth": auth, "values": values}


def _ingest(
    client: TestClient,
    auth: dict[str, str],
    series: dict[str, tuple[list[datetime], list[float]]],
) -> None:
    items = [
        {"channel": key, "time": t.isoformat(), "value": float(v)}
        for key, (times, values) in series.items()
        for t, v in zip(times, values, strict=True)
    ]
    items.sort(key=lambda item: str(item["time"]))  # a datalogger sends all channels in time order
    for k in range(0, len(items), 5000):
        r = client.post(
            f"{API}/ingest/readings", json={"readings": items[k : k + 5000]}, headers=auth
        )
        assert r.status_code == 200, r.text


def _crew(client: TestClient, tenant: Tenant, platform: Platform) -> tuple[int, dict[str, str]]:
    with platform.database.transaction() as s:
        crew_id = int(s.scalars(select(User.id).where(User.email.like("crew@%"))).one())
    return crew_id, tenant.headers(Role.CREW)


def _work_order_done(
    client: TestClient, tenant: Tenant, platform: Platform, hazard_id: int
) -> tuple[int, str]:
    """Recommendation -> work order -> assigned to the crew -> started -> photo -> completed."""
    eng = tenant.headers(Role.ENGINEER)
    recs = client.get(f"{API}/hazards/{hazard_id}/recommendations", headers=eng).json()
    top = recs["recommendations"][0]["action"]
    r = client.post(f"{API}/work-orders", json={"hazard_id": hazard_id}, headers=eng)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    assert r.json()["action_id"] == top
    crew_id, crew = _crew(client, tenant, platform)
    assert (
        client.patch(
            f"{API}/work-orders/{wid}", json={"assignee_id": crew_id}, headers=eng
        ).status_code
        == 200
    )
    move = f"{API}/work-orders/{wid}/transitions"
    assert client.post(move, json={"to": "assigned"}, headers=eng).status_code == 200
    assert client.post(move, json={"to": "in_progress"}, headers=crew).status_code == 200
    photo = _png(np.full((32, 32, 3), 128, np.uint8))
    r = client.post(
        f"{API}/work-orders/{wid}/attachments",
        files={"file": ("after-repair.png", photo)},
        headers=crew,
    )
    assert r.status_code == 201, r.text
    r = client.post(move, json={"to": "completed", "note": "repair done"}, headers=crew)
    assert r.status_code == 200, r.text
    return wid, top


def _backdate_completion(platform: Platform, wid: int, at: datetime) -> None:
    """The crew completed the repair at ``at`` (time passes in a test only this way)."""
    with platform.database.transaction() as s:
        s.execute(
            update(WorkOrderEvent)
            .where(WorkOrderEvent.work_order_id == wid, WorkOrderEvent.to_status == "completed")
            .values(at=at)
        )


def _hazard(client: TestClient, tenant: Tenant, asset_id: object, mechanism: str) -> int:
    eng = tenant.headers(Role.ENGINEER)
    r = client.post(f"{API}/assets/{asset_id}/hazards/update", headers=eng)
    assert r.status_code == 200, r.text
    # the durable effect of the ingested readings may already have opened it: list the asset's
    listed = client.get(f"{API}/hazards", params={"asset_id": asset_id}, headers=eng).json()
    ids = [item["id"] for item in listed]
    assert len(ids) == 1, listed
    hz = client.get(f"{API}/hazards/{ids[0]}", headers=eng).json()
    assert hz["mechanism"] == mechanism and hz["causes"][0]["mechanism"] == mechanism
    return int(ids[0])


@pytest.mark.parametrize("settles", [True, False], ids=["settles", "keeps-settling"])
def test_settlement_closed_loop(
    client: TestClient, tenant: Tenant, platform: Platform, settles: bool
) -> None:
    done = NOW - timedelta(days=20)
    site = _instrumented(client, tenant, "settlement", 7, end=done)
    hid = _hazard(client, tenant, site["asset"], "settlement")
    wid, action = _work_order_done(client, tenant, platform, hid)
    rule = load_verification_rules().for_work(action, "settlement")
    assert rule.method is Method.READINGS
    eng = tenant.headers(Role.ENGINEER)
    # verification before any reading after the repair: pending, still verifying
    r = client.post(f"{API}/work-orders/{wid}/verify", json={}, headers=eng)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "pending"
    assert client.get(f"{API}/work-orders/{wid}", headers=eng).json()["status"] == "verifying"
    _backdate_completion(platform, wid, done)
    # readings after the repair: hourly for 19 days
    rng = np.random.default_rng(3)
    values: dict[str, np.ndarray] = site["values"]  # type: ignore[assignment]
    hours = np.arange(19 * 24, dtype=np.float64)
    times = [done + timedelta(hours=float(x) + 1) for x in hours]
    series: dict[str, tuple[list[datetime], list[float]]] = {}
    for key, v in values.items():
        level = float(np.median(v[-24:]))
        after = level + 0.005 * rng.standard_normal(hours.size)
        if key == "SET-P2" and not settles:
            after = after + 0.25 * hours / 24.0  # 0.25 mm a day more
        series[f"settlement-{key}"] = (times, list(after))
    _ingest(client, site["auth"], series)
    r = client.post(
        f"{API}/work-orders/{wid}/verify", json={"note": "checked the plots"}, headers=eng
    )
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["method"] == "readings" and v["decided_by"] == "engineer@alpha-rail.example"
    wo = client.get(f"{API}/work-orders/{wid}", headers=eng).json()
    hz = client.get(f"{API}/hazards/{hid}", headers=eng).json()
    trend = [c for c in v["evidence"] if c["ref"] == "settlement-SET-P2" or "SET-P2" in c["ref"]]
    trend = [c for c in trend if c["test"] == "settled (no trend)"]
    assert len(trend) == 1
    if settles:
        assert v["outcome"] == "passed", v["evidence"]
        assert wo["status"] == "closed" and hz["status"] == "resolved"
        assert wo["events"][-1]["note"] == (
            "verified (readings) and signed off by engineer@alpha-rail.example. checked the plots"
        )
        zh_wo = client.get(
            f"{API}/work-orders/{wid}", headers={**eng, "Accept-Language": "zh-Hans"}
        ).json()
        assert zh_wo["events"][-1]["note"] == (
            "已核实（读数），由 engineer@alpha-rail.example 签署验收。checked the plots"
        )
        assert zh_wo["events"][-1]["message"]["key"].startswith("verified ({method!t})")
        check = zh_wo["events"][-2]  # the verification: each check with its reference
        assert check["kind"] == "verification" and check["note"].count("：") == len(v["evidence"])
        assert check["note"].startswith(f"{v['evidence'][0]['ref']}：")
        assert any(e["ref"] == f"verification:{v['id']}" for e in hz["evidence"])
        notes = [t["note"] for t in hz["transitions"]]
        assert f"repair verified: work order {wid}, verification {v['id']}" in notes
        zh = {**eng, "Accept-Language": "zh-Hant"}
        notes = [
            t["note"] for t in client.get(f"{API}/hazards/{hid}", headers=zh).json()["transitions"]
        ]
        assert f"維修已驗證：工單 {wid}，驗證 {v['id']}" in notes
        assert abs(trend[0]["value"]) < 0.01
        # the settlement comes back: the hazard reopens and so does its closed work order
        later = [times[-1] + timedelta(hours=float(x)) for x in range(1, 21)]
        back = {k: (later, [float(np.median(v[1][-24:]))] * 20) for k, v in series.items()}
        level = float(np.median(values["SET-P2"][-24:]))
        back["settlement-SET-P2"] = (later, [level + 3.0 + 0.2 * i for i in range(20)])
        _ingest(client, site["auth"], back)
        # the readings' durable effect reopens it (an explicit update then changes nothing)
        r = client.post(f"{API}/assets/{site['asset']}/hazards/update", headers=eng)
        assert r.status_code == 200
        hz = client.get(f"{API}/hazards/{hid}", headers=eng).json()
        assert hz["status"] == "open"
        wo = client.get(f"{API}/work-orders/{wid}", headers=eng).json()
        assert wo["status"] == "reopened"
        assert wo["events"][-1]["actor"] == "system" and "recurred" in wo["events"][-1]["note"]
        assert wo["events"][-1]["note"].startswith(f"hazard {hid} recurred: ")
        zh_wo = client.get(
            f"{API}/work-orders/{wid}", headers={**eng, "Accept-Language": "zh-Hant"}
        ).json()
        recurred = zh_wo["events"][-1]["note"]
        assert recurred.startswith(f"危害 {hid} 再次出現："), recurred
        assert not re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", recurred), recurred
    else:
        assert v["outcome"] == "failed"
        assert trend[0]["outcome"] == "failed" and trend[0]["value"] == pytest.approx(0.25, rel=0.1)
        assert wo["status"] == "reopened" and "verification failed" in wo["events"][-1]["note"]
        zh_wo = client.get(
            f"{API}/work-orders/{wid}", headers={**eng, "Accept-Language": "zh-Hans"}
        ).json()
        failed = zh_wo["events"][-1]["note"]
        assert failed.startswith("验证未通过：") and "：趋势 +0.2" in failed, failed
        assert not re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", failed), failed
        assert hz["status"] == "open"  # it was never acknowledged
        assert hz["transitions"][-1]["action"] == "new_evidence"
        assert hz["transitions"][-1]["note"] == (
            f"repair not verified: work order {wid}, verification {v['id']}"
        )
        zh = {**eng, "Accept-Language": "zh-Hans"}
        zh_hz = client.get(f"{API}/hazards/{hid}", headers=zh).json()
        assert zh_hz["transitions"][-1]["note"] == f"维修未通过验证：工单 {wid}，验证 {v['id']}"
    listed = client.get(f"{API}/work-orders/{wid}/verifications", headers=eng).json()
    assert [x["outcome"] for x in listed] == ["pending", v["outcome"]]


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "still-open"])
def test_crack_closed_loop(
    client: TestClient, tenant: Tenant, platform: Platform, sealed: bool
) -> None:
    site = _instrumented(client, tenant, "shrinkage", 3, end=NOW - timedelta(days=2))
    series = render_crack_series(
        seed=21, n_visits=2, n_cracks=1, sealed_from_visit=1 if sealed else None
    )
    insp = tenant.headers(Role.INSPECTOR)

    def capture(k: int, time: datetime | None) -> int:
        data = {"asset_id": str(site["asset"]), "element_id": str(site["element"])}
        data["mm_per_px"] = str(series.visits[k].mm_per_px)
        if time is not None:
            data["time"] = time.isoformat()
        r = client.post(
            f"{API}/captures",
            files={"file": ("wall.png", _png(series.visits[k].image))},
            data=data,
            headers=insp,
        )
        assert r.status_code == 201, r.text
        platform.jobs.run_pending()
        return int(r.json()["id"])

    first = capture(0, NOW - timedelta(days=3))
    hid = _hazard(client, tenant, site["asset"], "shrinkage")
    wid, action = _work_order_done(client, tenant, platform, hid)
    assert load_verification_rules().for_work(action, "shrinkage").method is Method.REINSPECTION
    eng = tenant.headers(Role.ENGINEER)
    r = client.post(f"{API}/work-orders/{wid}/verify", json={}, headers=eng)
    assert r.json()["outcome"] == "pending"  # no re-inspection yet
    capture(1, None)  # the re-inspection, now (after completion)
    r = client.post(f"{API}/work-orders/{wid}/verify", json={}, headers=eng)
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["method"] == "reinspection"
    crack = client.get(f"{API}/captures/{first}/defects", headers=eng).json()[0]
    history = client.get(f"{API}/defects/{crack['id']}/history", headers=eng).json()
    assert [c["ref"] for c in v["evidence"]] == [f"defect_track:{history['track_id']}"]
    wo = client.get(f"{API}/work-orders/{wid}", headers=eng).json()
    hz = client.get(f"{API}/hazards/{hid}", headers=eng).json()
    if sealed:
        assert v["outcome"] == "passed", v["evidence"]
        assert "not detected" in v["evidence"][0]["detail"]
        assert [s["detected"] for s in history["sightings"]] == [True, False]
        assert wo["status"] == "closed" and hz["status"] == "resolved"
    else:
        assert v["outcome"] == "failed", v["evidence"]
        assert "still detected" in v["evidence"][0]["detail"]
        assert wo["status"] == "reopened" and hz["status"] == "open"
    # the crew's photo is listed and downloadable
    crew = tenant.headers(Role.CREW)
    atts = client.get(f"{API}/work-orders/{wid}/attachments", headers=crew).json()
    assert [a["filename"] for a in atts] == ["after-repair.png"]
    got = client.get(f"{API}/work-orders/{wid}/attachments/{atts[0]['id']}", headers=crew)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.content.startswith(b"\x89PNG")
