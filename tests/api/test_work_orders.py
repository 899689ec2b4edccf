"""Recommendations and work orders through the HTTP API: ranking for a hazard, creating a work
order (top or another choice with a reason), the lifecycle (409 naming the allowed states),
updates, comments, roles, tenancy, and nothing written on a rejected request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from infrasight.cli.app import app as cli
from infrasight.cli.common import console as cli_console
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.storage.models import (
    AuditEvent,
    Hazard,
    HazardEvidenceLink,
    HazardTransitionRecord,
    User,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderVerification,
)
from tests.conftest import Tenant

API = "/api/v1"


def _hazard(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    *,
    mechanism: str = "corrosion",
    status: str = "acknowledged",
    band: str = "high",
    evidence_kind: str = "reading_window",
) -> int:
    h = tenant.headers(Role.ENGINEER)
    aid = client.post(
        f"{API}/assets", json={"name": f"B-{mechanism}-{status}", "kind": "bridge"}, headers=h
    ).json()["id"]
    eid = client.post(
        f"{API}/assets/{aid}/elements",
        json={"name": "Deck", "kind": "deck", "exposure_class": "XD3"},
        headers=h,
    ).json()["id"]
    with platform.database.transaction() as s:
        hz = Hazard(
            organization_id=tenant.organization_id,
            asset_id=aid,
            element_id=eid,
            mechanism=mechanism,
            hazard_kind="durability",
            status=status,
            confidence=0.8,
            likelihood=4,
            consequence=4,
            risk=16,
            risk_band=band,
            causes=[{"mechanism": mechanism, "confidence": 0.8}],
            prediction={},
        )
        s.add(hz)
        s.flush()
        s.add(
            HazardEvidenceLink(
                hazard_id=hz.id,
                kind=evidence_kind,
                ref="channel:X[2026-01-01/2026-02-01]",
                test="t",
            )
        )
        return int(hz.id)


def _count(platform: Platform, model: type[object]) -> int:
    with platform.database.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def _user_id(platform: Platform, email: str) -> int:
    with platform.database.transaction() as s:
        return int(s.scalars(select(User.id).where(User.email == email)).one())


def test_recommendations_rank_for_the_hazard(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant
) -> None:
    hid = _hazard(client, platform, tenant)
    r = client.get(f"{API}/hazards/{hid}/recommendations", headers=tenant.headers(Role.VIEWER))
    assert r.status_code == 200, r.text
    body = r.json()
    # corrosion, band high, active (a reading window shows change), chloride (XD3)
    assert (body["mechanism"], body["risk_band"], body["activity"]) == (
        "corrosion",
        "high",
        "active",
    )
    assert body["activity_inferred"] is True and body["exposure"] == ["chloride"]
    got = [(x["action"], x["urgency_days"], x["rank"]) for x in body["recommendations"]]
    assert got == [
        ("patch_repair", 45, 1),
        ("cathodic_protection", 90, 2),
        ("hydrophobic_impregnation", 182, 3),
    ]
    assert "EN 1504-9" in body["recommendations"][0]["source"]
    # overrides: dormant and no chlorides leave only the patch repair
    r = client.get(
        f"{API}/hazards/{hid}/recommendations",
        params={"activity": "dormant", "exposure": "none"},
        headers=tenant.headers(Role.VIEWER),
    )
    assert [x["action"] for x in r.json()["recommendations"]] == ["patch_repair"]
    assert r.json()["activity_inferred"] is False and r.json()["exposure"] == []
    # dormant with the element's chlorides: the impregnation applies again
    r = client.get(
        f"{API}/hazards/{hid}/recommendations",
        params={"activity": "dormant"},
        headers=tenant.headers(Role.VIEWER),
    )
    assert [x["action"] for x in r.json()["recommendations"]] == [
        "patch_repair",
        "hydrophobic_impregnation",
    ]
    bad = client.get(
        f"{API}/hazards/{hid}/recommendations",
        params={"exposure": "lava"},
        headers=tenant.headers(),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "exposure"
    assert (
        client.get(
            f"{API}/hazards/{hid}/recommendations",
            params={"activity": "x"},
            headers=tenant.headers(),
        ).status_code
        == 422
    )
    assert (
        client.get(f"{API}/hazards/999/recommendations", headers=tenant.headers()).status_code
        == 404
    )
    other = client.get(f"{API}/hazards/{hid}/recommendations", headers=other_tenant.headers())
    assert other.status_code == 404


def test_create_choose_and_reject(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant
) -> None:
    hid = _hazard(client, platform, tenant)
    eng = tenant.headers(Role.ENGINEER)
    # rejected requests write nothing: inspector, unknown/other hazard, other action w/o reason
    rejected = [
        (tenant.headers(Role.INSPECTOR), {"hazard_id": hid}, 403, None),
        (eng, {"hazard_id": 9999}, 422, "hazard_id"),
        (other_tenant.headers(Role.ENGINEER), {"hazard_id": hid}, 422, "hazard_id"),
        (eng, {"hazard_id": hid, "action": "cathodic_protection"}, 422, "reason"),
        (eng, {"hazard_id": hid, "action": "epoxy_injection", "reason": "x"}, 422, "action"),
        (eng, {"hazard_id": hid, "assignee_id": 9999}, 422, "assignee_id"),
    ]
    for headers, body, status, field in rejected:
        r = client.post(f"{API}/work-orders", json=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        if field:
            assert r.json()["field"] == field
    assert _count(platform, WorkOrder) == 0 and _count(platform, WorkOrderEvent) == 0
    with platform.database.transaction() as s:
        assert s.get_one(Hazard, hid).status == "acknowledged"

    before = datetime.now(UTC)
    r = client.post(f"{API}/work-orders", json={"hazard_id": hid}, headers=eng)
    assert r.status_code == 201, r.text
    wo = r.json()
    assert (wo["action_id"], wo["action_rank"], wo["status"]) == ("patch_repair", 1, "open")
    due = datetime.fromisoformat(wo["due_at"])
    assert before + timedelta(days=45) <= due <= datetime.now(UTC) + timedelta(days=45)
    assert wo["events"][0]["kind"] == "created" and wo["events"][0]["actor"].startswith("engineer@")
    assert wo["allowed_transitions"] == ["assigned", "cancelled"]
    hz = client.get(f"{API}/hazards/{hid}", headers=eng).json()
    assert hz["status"] == "mitigating"
    assert hz["transitions"][-1]["note"] == f"work order {wo['id']}"

    # another recommendation, with a reason (audited); the hazard is already mitigating
    r = client.post(
        f"{API}/work-orders",
        json={"hazard_id": hid, "action": "cathodic_protection", "reason": "chlorides deep"},
        headers=eng,
    )
    assert r.status_code == 201, r.text
    second = r.json()
    assert (second["action_rank"], second["choice_reason"], second["urgency_days"]) == (
        2,
        "chlorides deep",
        90,
    )
    assert second["events"][0]["details"]["top"] == "patch_repair"
    with platform.database.transaction() as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.entity_id == second["id"])).all()
        assert [a.action for a in audit] == ["work_order.created"]
        n_hazard_transitions = s.scalar(
            select(func.count()).where(HazardTransitionRecord.hazard_id == hid)
        )
    assert n_hazard_transitions == 1  # only the first work order moved it


def test_open_hazard_stays_open_and_draft_needs_submit(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    hid = _hazard(client, platform, tenant, mechanism="sensor_fault", status="open", band="low")
    eng = tenant.headers(Role.ENGINEER)
    r = client.post(f"{API}/work-orders", json={"hazard_id": hid, "draft": True}, headers=eng)
    assert r.status_code == 201, r.text
    wo = r.json()
    assert (wo["action_id"], wo["urgency_days"], wo["status"]) == ("sensor_repair", 28, "draft")
    # the hazard lifecycle has no open -> mitigating row: it is left as it is
    assert client.get(f"{API}/hazards/{hid}", headers=eng).json()["status"] == "open"
    ok = client.post(f"{API}/work-orders/{wo['id']}/transitions", json={"to": "open"}, headers=eng)
    assert ok.status_code == 200 and ok.json()["status"] == "open"


def test_no_applicable_action_is_422(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    # a mechanism the catalogue has no action for (e.g. one added to the library later)
    hid = _hazard(client, platform, tenant, mechanism="scour")
    r = client.get(f"{API}/hazards/{hid}/recommendations", headers=tenant.headers())
    assert r.status_code == 200 and r.json()["recommendations"] == []
    r = client.post(
        f"{API}/work-orders", json={"hazard_id": hid}, headers=tenant.headers(Role.ENGINEER)
    )
    assert r.status_code == 422 and r.json()["field"] == "hazard_id"
    assert "no remediation action applies" in r.json()["detail"]
    assert _count(platform, WorkOrder) == 0


def test_lifecycle_over_http(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant
) -> None:
    hid = _hazard(client, platform, tenant)
    eng, insp = tenant.headers(Role.ENGINEER), tenant.headers(Role.INSPECTOR)
    wid = client.post(f"{API}/work-orders", json={"hazard_id": hid}, headers=eng).json()["id"]
    url = f"{API}/work-orders/{wid}"

    def move(to: str, headers: dict[str, str], note: str = "") -> tuple[int, dict[str, object]]:
        r = client.post(f"{url}/transitions", json={"to": to, "note": note}, headers=headers)
        return r.status_code, r.json()

    n_events = _count(platform, WorkOrderEvent)
    status, body = move("completed", eng)
    assert status == 409 and "allowed: assigned, cancelled" in str(body["detail"])
    status, body = move("cancelled", eng, "  ")
    assert status == 422 and body["field"] == "note"
    status, body = move("assigned", eng)
    assert status == 422 and body["field"] == "assignee_id"
    status, body = move("assigned", insp)  # dispatching is an engineer's
    assert status == 403
    status, body = move("nowhere", eng)
    assert status == 422
    assert _count(platform, WorkOrderEvent) == n_events  # nothing written

    crew_id = _user_id(platform, "inspector@alpha-rail.example")
    r = client.patch(url, json={"assignee_id": crew_id}, headers=insp)
    assert r.status_code == 403
    r = client.patch(url, json={"assignee_id": 99999}, headers=eng)
    assert r.status_code == 422 and r.json()["field"] == "assignee_id"
    other_user = _user_id(platform, "inspector@beta-tunnels.example")
    r = client.patch(url, json={"assignee_id": other_user}, headers=eng)
    assert r.status_code == 422
    due = "2027-01-15T00:00:00+00:00"
    r = client.patch(url, json={"assignee_id": crew_id, "due_at": due}, headers=eng)
    assert r.status_code == 200, r.text
    assert r.json()["assignee_id"] == crew_id
    assert datetime.fromisoformat(r.json()["due_at"]) == datetime(2027, 1, 15, tzinfo=UTC)
    assert r.json()["events"][-1]["details"]["after"]["assignee_id"] == crew_id

    steps = [
        ("assigned", eng, ""),
        ("in_progress", insp, "on site"),
        ("on_hold", insp, "waiting for mortar"),
        ("in_progress", insp, ""),
        ("completed", insp, "patched 2 m2"),
        ("verifying", insp, ""),
    ]
    for to, headers, note in steps:
        status, body = move(to, headers, note)
        assert status == 200 and body["status"] == to, body
    status, _ = move("closed", insp)
    assert status == 403
    status, body = move("reopened", eng, "")
    assert status == 422
    # closing needs a passed verification from measurements (tests/api/test_closed_loop.py)
    status, body = move("closed", eng, "verified by re-inspection")
    assert status == 409 and "passed verification" in str(body["detail"])
    with platform.database.transaction() as s:
        s.add(
            WorkOrderVerification(
                work_order_id=wid,
                method="reinspection",
                outcome="passed",
                period_days=30.0,
                decided_by="engineer@alpha-rail.example",
            )
        )
    status, body = move("closed", eng, "verified by re-inspection")
    assert status == 200 and body["allowed_transitions"] == ["reopened"]
    events = [e for e in body["events"] if e["kind"] == "transition"]  # type: ignore[union-attr]
    assert [(e["from"], e["to"]) for e in events] == [
        ("open", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "on_hold"),
        ("on_hold", "in_progress"),
        ("in_progress", "completed"),
        ("completed", "verifying"),
        ("verifying", "closed"),
    ]
    assert events[2]["note"] == "waiting for mortar"
    assert events[1]["actor"] == "inspector@alpha-rail.example"
    status, body = move("reopened", eng, "crack came back")
    assert status == 200 and body["status"] == "reopened"

    # comments: inspector+; viewer reads
    assert (
        client.post(
            f"{url}/comments", json={"body": "hi"}, headers=tenant.headers(Role.VIEWER)
        ).status_code
        == 403
    )
    assert client.post(f"{url}/comments", json={"body": ""}, headers=insp).status_code == 422
    assert client.post(f"{url}/comments", json={"body": "   "}, headers=insp).status_code == 422
    r = client.post(f"{url}/comments", json={"body": "photos uploaded"}, headers=insp)
    assert r.status_code == 201 and r.json()["author"] == "inspector@alpha-rail.example"
    detail = client.get(url, headers=tenant.headers(Role.VIEWER)).json()
    assert [c["body"] for c in detail["comments"]] == ["photos uploaded"]

    # other organisation: 404 everywhere, lists nothing
    oh = other_tenant.headers()
    assert client.get(url, headers=oh).status_code == 404
    assert client.patch(url, json={"due_at": due}, headers=oh).status_code == 404
    assert client.post(f"{url}/transitions", json={"to": "assigned"}, headers=oh).status_code == 404
    assert client.post(f"{url}/comments", json={"body": "x"}, headers=oh).status_code == 404
    assert client.get(f"{API}/work-orders", headers=oh).json() == []


def test_list_filters(client: TestClient, platform: Platform, tenant: Tenant) -> None:
    h1 = _hazard(client, platform, tenant)
    h2 = _hazard(client, platform, tenant, mechanism="settlement", status="open")
    eng = tenant.headers(Role.ENGINEER)
    w1 = client.post(f"{API}/work-orders", json={"hazard_id": h1}, headers=eng).json()
    w2 = client.post(
        f"{API}/work-orders", json={"hazard_id": h2, "draft": True}, headers=eng
    ).json()
    v = tenant.headers(Role.VIEWER)

    def ids(**params: object) -> list[int]:
        r = client.get(f"{API}/work-orders", params=params, headers=v)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()]

    # settlement active at band high: jacking in 30 days, before the patch repair's 45
    assert ids() == [w2["id"], w1["id"]]
    assert ids(status="draft") == [w2["id"]]
    assert ids(hazard_id=h1) == [w1["id"]]
    assert ids(asset_id=w2["asset_id"]) == [w2["id"]]
    assert ids(status="closed") == []
    assert client.get(f"{API}/work-orders", params={"status": "x"}, headers=v).status_code == 422


@pytest.mark.parametrize("role", [Role.VIEWER, Role.INSPECTOR])
def test_reading_is_open_to_every_role(
    client: TestClient, platform: Platform, tenant: Tenant, role: Role
) -> None:
    hid = _hazard(client, platform, tenant)
    wid = client.post(
        f"{API}/work-orders", json={"hazard_id": hid}, headers=tenant.headers(Role.ENGINEER)
    ).json()["id"]
    assert client.get(f"{API}/work-orders/{wid}", headers=tenant.headers(role)).status_code == 200
    assert client.get(f"{API}/work-orders/999", headers=tenant.headers(role)).status_code == 404


def test_cli_list_show_move(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hid = _hazard(client, platform, tenant)
    wid = client.post(
        f"{API}/work-orders", json={"hazard_id": hid}, headers=tenant.headers(Role.ENGINEER)
    ).json()["id"]
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("INFRASIGHT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COLUMNS", "240")  # one table row per line
    # the CLI's console may have fixed its width when it was created (in the full suite it
    # wrapped at 80 columns), so the width is set on it as well
    monkeypatch.setattr(cli_console, "width", 240)
    runner = CliRunner()
    listed = runner.invoke(cli, ["workorders", "list", "--status", "open"])
    assert listed.exit_code == 0, listed.output
    title = client.get(f"{API}/work-orders/{wid}", headers=tenant.headers()).json()["title"]
    assert title in listed.output, listed.output  # the title a person reads, not the action id
    bad = runner.invoke(cli, ["workorders", "move", str(wid), "completed"])
    assert bad.exit_code == 1 and "allowed: assigned, cancelled" in " ".join(bad.output.split())
    no_reason = runner.invoke(cli, ["workorders", "move", str(wid), "cancelled"])
    assert no_reason.exit_code == 2 and "needs a reason" in " ".join(no_reason.output.split())
    ok = runner.invoke(
        cli, ["workorders", "move", str(wid), "cancelled", "--note", "duplicate", "--actor", "ana"]
    )
    assert ok.exit_code == 0, ok.output
    shown = runner.invoke(cli, ["workorders", "show", str(wid)])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.output)
    assert doc["status"] == "cancelled" and doc["allowed_transitions"] == []
    assert doc["events"][-1] == {
        **doc["events"][-1],
        "from": "open",
        "to": "cancelled",
        "note": "duplicate",
        "actor": "cli:ana",
    }
    missing = runner.invoke(cli, ["workorders", "show", "999"])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_crew_sees_and_updates_only_their_own_work_orders(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    eng, crew = tenant.headers(Role.ENGINEER), tenant.headers(Role.CREW)
    crew_id = _user_id(platform, "crew@alpha-rail.example")
    h1 = _hazard(client, platform, tenant)
    h2 = _hazard(client, platform, tenant, mechanism="settlement")
    mine = client.post(
        f"{API}/work-orders", json={"hazard_id": h1, "assignee_id": crew_id}, headers=eng
    ).json()["id"]
    theirs = client.post(f"{API}/work-orders", json={"hazard_id": h2}, headers=eng).json()["id"]
    ok = client.post(f"{API}/work-orders/{mine}/transitions", json={"to": "assigned"}, headers=eng)
    assert ok.status_code == 200

    # their own: listed, readable, movable through field states, commentable
    assert [w["id"] for w in client.get(f"{API}/work-orders", headers=crew).json()] == [mine]
    assert client.get(f"{API}/work-orders/{mine}", headers=crew).status_code == 200
    for to in ("in_progress", "completed"):
        r = client.post(
            f"{API}/work-orders/{mine}/transitions", json={"to": to, "note": "done"}, headers=crew
        )
        assert r.status_code == 200 and r.json()["status"] == to, r.text
    r = client.post(f"{API}/work-orders/{mine}/comments", json={"body": "sealed"}, headers=crew)
    assert r.status_code == 201
    # but not sign-off, re-planning or anything else
    r = client.post(
        f"{API}/work-orders/{mine}/transitions", json={"to": "reopened", "note": "x"}, headers=crew
    )
    assert r.status_code == 403
    assert (
        client.patch(
            f"{API}/work-orders/{mine}", json={"due_at": "2027-01-01T00:00:00Z"}, headers=crew
        ).status_code
        == 403
    )
    assert (
        client.post(f"{API}/work-orders", json={"hazard_id": h1}, headers=crew).status_code == 403
    )
    assert client.get(f"{API}/hazards", headers=crew).status_code == 403
    assert client.get(f"{API}/assets", headers=crew).status_code == 403
    assert client.get(f"{API}/hazards/{h1}/recommendations", headers=crew).status_code == 403

    # someone else's: 404 everywhere, nothing written
    n_events = _count(platform, WorkOrderEvent)
    assert client.get(f"{API}/work-orders/{theirs}", headers=crew).status_code == 404
    r = client.post(
        f"{API}/work-orders/{theirs}/transitions",
        json={"to": "cancelled", "note": "x"},
        headers=crew,
    )
    assert r.status_code == 404
    r = client.post(f"{API}/work-orders/{theirs}/comments", json={"body": "x"}, headers=crew)
    assert r.status_code == 404
    assert _count(platform, WorkOrderEvent) == n_events
    # unassigning it hides it again
    client.patch(f"{API}/work-orders/{mine}", json={"assignee_id": None}, headers=eng)
    assert client.get(f"{API}/work-orders", headers=crew).json() == []
