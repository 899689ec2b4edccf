"""Work-order attachments and verification: bad input (413, 415, 404 for another crew's work
order, 403, 409, 422) writes nothing; downloads keep the bytes and the file name."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from infrasight.cli.app import app as cli
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.storage.models import (
    AuditEvent,
    Hazard,
    HazardEvidenceLink,
    User,
    WorkOrderAttachment,
    WorkOrderEvent,
    WorkOrderVerification,
)
from tests.conftest import Tenant

API = "/api/v1"


def _count(platform: Platform, model: type[object]) -> int:
    with platform.database.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def _hazard(client: TestClient, platform: Platform, tenant: Tenant, name: str) -> int:
    """An acknowledged corrosion hazard on a deck (top recommendation: patch repair)."""
    h = tenant.headers(Role.ENGINEER)
    aid = client.post(f"{API}/assets", json={"name": name, "kind": "bridge"}, headers=h).json()
    eid = client.post(
        f"{API}/assets/{aid['id']}/elements",
        json={"name": "Deck", "kind": "deck", "exposure_class": "XD3"},
        headers=h,
    ).json()["id"]
    with platform.database.transaction() as s:
        hz = Hazard(
            organization_id=tenant.organization_id,
            asset_id=aid["id"],
            element_id=eid,
            mechanism="corrosion",
            hazard_kind="durability",
            status="acknowledged",
            confidence=0.8,
            likelihood=4,
            consequence=4,
            risk=16,
            risk_band="high",
            causes=[{"mechanism": "corrosion", "confidence": 0.8}],
            prediction={},
        )
        s.add(hz)
        s.flush()
        s.add(HazardEvidenceLink(hazard_id=hz.id, kind="reading_window", ref="channel:X", test="t"))
        return int(hz.id)


def _work_order(client: TestClient, platform: Platform, tenant: Tenant, crew: bool) -> int:
    hid = _hazard(client, platform, tenant, f"Bridge {'crew' if crew else 'other'}")
    eng = tenant.headers(Role.ENGINEER)
    wid = int(client.post(f"{API}/work-orders", json={"hazard_id": hid}, headers=eng).json()["id"])
    if crew:
        with platform.database.transaction() as s:
            uid = s.scalars(select(User.id).where(User.email.like("crew@alpha%"))).one()
        r = client.patch(f"{API}/work-orders/{wid}", json={"assignee_id": uid}, headers=eng)
        assert r.status_code == 200
    return wid


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(out, format="JPEG")
    return out.getvalue()


def test_attachments_types_sizes_and_roles(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant
) -> None:
    wid = _work_order(client, platform, tenant, crew=True)
    other = _work_order(client, platform, tenant, crew=False)
    url = f"{API}/work-orders/{wid}/attachments"
    crew = tenant.headers(Role.CREW)
    n = (_count(platform, WorkOrderAttachment), _count(platform, WorkOrderEvent))

    def post(
        name: str, data: bytes, headers: dict[str, str], target: str = url
    ) -> tuple[int, dict]:
        r = client.post(target, files={"file": (name, data)}, headers=headers)
        return r.status_code, r.json()

    status, body = post("run.exe", b"MZ\x90\x00" + bytes(100), crew)
    assert status == 415 and body["field"] == "file" and "application/pdf" in body["detail"]
    status, body = post("photo.jpg", b"not really a jpeg", crew)  # the bytes decide, not the name
    assert status == 415
    status, body = post("notes.txt", b"\xff\xfe bad utf-8", crew)
    assert status == 415
    status, body = post("empty.pdf", b"", crew)
    assert status == 422 and body["field"] == "file"
    platform.settings.max_attachment_bytes = 2048
    status, body = post("big.pdf", b"%PDF-1.7\n" + bytes(4096), crew)
    assert status == 413 and body["field"] == "file"
    status, body = post("x.pdf", b"%PDF-1.7\n", crew, f"{API}/work-orders/{other}/attachments")
    assert status == 404  # not assigned to this crew member
    status, body = post("x.pdf", b"%PDF-1.7\n", tenant.headers(Role.VIEWER))
    assert status == 403
    status, body = post("x.pdf", b"%PDF-1.7\n", other_tenant.headers())
    assert status == 404
    assert (_count(platform, WorkOrderAttachment), _count(platform, WorkOrderEvent)) == n

    status, pdf = post("C:\\site\\report.pdf", b"%PDF-1.7\nrepair report", crew)
    assert status == 201 and pdf["media_type"] == "application/pdf"
    assert pdf["filename"] == "report.pdf" and pdf["uploaded_by"] == "crew@alpha-rail.example"
    status, jpg = post("photo.jpg", _jpeg(), tenant.headers(Role.INSPECTOR))
    assert status == 201 and jpg["media_type"] == "image/jpeg"
    status, txt = post("notes.md", "Fugenband erneuert – 2 m".encode(), crew)
    assert status == 201 and txt["media_type"] == "text/markdown"
    listed = client.get(url, headers=tenant.headers(Role.VIEWER)).json()
    assert [a["id"] for a in listed] == [pdf["id"], jpg["id"], txt["id"]]
    got = client.get(f"{url}/{pdf['id']}", headers=crew)
    assert got.status_code == 200 and got.content == b"%PDF-1.7\nrepair report"
    assert got.headers["content-type"] == "application/pdf"
    assert "report.pdf" in got.headers["content-disposition"]
    assert client.get(f"{url}/999999", headers=crew).status_code == 404
    elsewhere = f"{API}/work-orders/{other}/attachments/{pdf['id']}"
    assert client.get(elsewhere, headers=tenant.headers()).status_code == 404
    assert client.get(f"{url}/{pdf['id']}", headers=other_tenant.headers()).status_code == 404
    detail = client.get(f"{API}/work-orders/{wid}", headers=crew).json()
    assert [e["kind"] for e in detail["events"]].count("attachment") == 3
    with platform.database.transaction() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == wid)).all()
    assert actions.count("work_order.attachment") == 3


def test_verification_bad_input(client: TestClient, platform: Platform, tenant: Tenant) -> None:
    wid = _work_order(client, platform, tenant, crew=True)
    url = f"{API}/work-orders/{wid}/verify"
    eng = tenant.headers(Role.ENGINEER)
    r = client.post(url, json={}, headers=eng)
    assert r.status_code == 409 and "completed or verifying" in r.json()["detail"]
    move = f"{API}/work-orders/{wid}/transitions"
    for to, who in (("assigned", eng), ("in_progress", tenant.headers(Role.CREW))):
        assert client.post(move, json={"to": to}, headers=who).status_code == 200
    crew = tenant.headers(Role.CREW)
    assert client.post(move, json={"to": "completed"}, headers=crew).status_code == 200
    n = _count(platform, WorkOrderVerification), _count(platform, WorkOrderEvent)
    r = client.post(url, json={"period_days": 0.5}, headers=eng)
    assert r.status_code == 422 and r.json()["field"] == "period_days"
    r = client.post(url, json={"period_days": 400}, headers=eng)
    assert r.status_code == 422 and "1-365" in r.json()["detail"]
    r = client.post(url, json={"period_days": True}, headers=eng)
    assert r.status_code == 422
    assert client.post(url, json={}, headers=crew).status_code == 403  # a sign-off is an engineer's
    assert client.post(url, json={}, headers=tenant.headers(Role.INSPECTOR)).status_code == 403
    assert client.post(f"{API}/work-orders/999999/verify", json={}, headers=eng).status_code == 404
    assert (_count(platform, WorkOrderVerification), _count(platform, WorkOrderEvent)) == n
    # corrosion -> patch repair -> a re-inspection; no tracked crack: pending, verifying
    r = client.post(url, json={"period_days": 30}, headers=eng)
    assert r.status_code == 200 and r.json()["outcome"] == "pending"
    assert r.json()["method"] == "reinspection" and r.json()["period_days"] == 30
    wo = client.get(f"{API}/work-orders/{wid}", headers=eng).json()
    assert wo["status"] == "verifying"
    r = client.post(move, json={"to": "closed", "note": "looks fine"}, headers=eng)
    assert r.status_code == 409 and "passed verification" in r.json()["detail"]


def test_verify_from_the_cli(
    client: TestClient,
    platform: Platform,
    tenant: Tenant,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wid = _work_order(client, platform, tenant, crew=True)
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("INFRASIGHT_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    early = runner.invoke(cli, ["workorders", "verify", str(wid), "--org", "Alpha Rail"])
    assert early.exit_code == 1 and "completed or verifying" in " ".join(early.output.split())
    move = f"{API}/work-orders/{wid}/transitions"
    eng, crew = tenant.headers(Role.ENGINEER), tenant.headers(Role.CREW)
    for to, who in (("assigned", eng), ("in_progress", crew), ("completed", crew)):
        assert client.post(move, json={"to": to}, headers=who).status_code == 200
    bad = runner.invoke(
        cli, ["workorders", "verify", str(wid), "--org", "Alpha Rail", "--period-days", "0.5"]
    )
    assert bad.exit_code == 2 and "period_days" in bad.output
    ok = runner.invoke(
        cli, ["workorders", "verify", str(wid), "--org", "Alpha Rail", "--actor", "ana"]
    )
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert (doc["method"], doc["outcome"], doc["period_days"]) == ("reinspection", "pending", 90)
    assert doc["checks"][0]["test"] == "tracked defects"
    shown = client.get(f"{API}/work-orders/{wid}", headers=eng).json()
    assert shown["status"] == "verifying"
    assert shown["events"][-1]["kind"] == "verification"
    assert shown["events"][-1]["actor"] == "cli:ana"
