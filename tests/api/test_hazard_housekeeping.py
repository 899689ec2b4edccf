"""Hazard housekeeping inside every update: duplicates (opened concurrently, or at the asset and
one of its elements) merge into the oldest hazard with a pointer and a system transition; a
hazard whose evidence is gone for the rule's quiet time resolves; both idempotent."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.reasoning.hazards.housekeeping import evidence_gone, load_housekeeping, superseded
from infrasight.storage.models import (
    AlarmRecord,
    Hazard,
    HazardEvidenceLink,
    HazardTransitionRecord,
)
from tests.api.test_hazard_effects import _pier
from tests.conftest import Tenant


def _add(
    platform: Platform,
    org: int,
    asset: int,
    element: int | None,
    mechanism: str,
    kind: str = "structural",
) -> int:
    with platform.database.transaction() as s:
        h = Hazard(
            organization_id=org,
            asset_id=asset,
            element_id=element,
            mechanism=mechanism,
            hazard_kind=kind,
            status="open",
            confidence=0.9,
            likelihood=4,
            consequence=4,
            risk=16,
            risk_band="high",
            causes=[],
            prediction={},
        )
        s.add(h)
        s.flush()
        s.add(
            HazardEvidenceLink(
                hazard_id=h.id, kind="reading_window", ref=f"manual:{h.id}", test="dup"
            )
        )
        return h.id


def test_rules_are_data() -> None:
    rules = load_housekeeping()
    assert rules.quiet_hours == 168 and rules.max_score == 0.0
    assert rules.resolve_statuses == {"open", "acknowledged"}
    gone = {"is_top": False, "score": -1.0, "unsupported_h": 200.0, "alarms_active": False}
    assert evidence_gone(rules, **gone)
    for change in (
        {"is_top": True},
        {"score": 0.5},
        {"unsupported_h": 100.0},
        {"alarms_active": True},
    ):
        assert not evidence_gone(rules, **{**gone, **change}), change


def test_duplicates_merge_into_the_oldest(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    made = _pier(client, tenant, "settlement", 7)
    aid, eid = made["asset_id"], made["element_id"]
    h = tenant.headers(Role.ENGINEER)
    (first,) = client.get("/api/v1/hazards", params={"asset_id": aid}, headers=h).json()
    # a concurrent writer opened the same hazard, another one at the asset level
    twin = _add(platform, tenant.organization_id, aid, eid, "settlement")
    at_asset = _add(platform, tenant.organization_id, aid, None, "settlement")
    other = _add(platform, tenant.organization_id, aid, None, "corrosion")
    r = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h)
    assert r.status_code == 200 and {first["id"], twin, at_asset} <= set(r.json()["hazards"])
    for dup in (twin, at_asset):
        hz = client.get(f"/api/v1/hazards/{dup}", headers=h).json()
        assert hz["status"] == "merged" and hz["merged_into_id"] == first["id"]
        assert hz["transitions"][-1]["note"] == f"duplicate of hazard {first['id']}"
        zh = client.get(
            f"/api/v1/hazards/{hz['id']}", headers={**h, "Accept-Language": "zh-Hans"}
        ).json()
        assert zh["transitions"][-1]["note"] == f"与隐患 {first['id']} 重复"
    survivor = client.get(f"/api/v1/hazards/{first['id']}", headers=h).json()
    assert survivor["status"] == "open"
    refs = {e["ref"] for e in survivor["evidence"]}
    assert {f"manual:{twin}", f"manual:{at_asset}"} <= refs
    with platform.database.session() as s:
        assert s.get_one(Hazard, twin).merged_into_id == first["id"]
        assert s.get_one(Hazard, at_asset).merged_into_id == first["id"]
        assert s.get_one(Hazard, other).status == "open"  # another mechanism: not a duplicate
        rows = s.scalars(
            select(HazardTransitionRecord).where(HazardTransitionRecord.hazard_id == twin)
        ).all()
        assert [(t.action, t.to_status, t.actor) for t in rows] == [("merge", "merged", "system")]
    again = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h).json()
    assert again["hazards"] == []


def test_a_hazard_whose_evidence_is_gone_resolves(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    made = _pier(client, tenant, "thermal", 11)  # 90 days of thermal response only
    aid, eid = made["asset_id"], made["element_id"]
    h = tenant.headers(Role.ENGINEER)
    assert client.get("/api/v1/hazards", params={"asset_id": aid}, headers=h).json() == []
    stale = _add(platform, tenant.organization_id, aid, eid, "shear")
    r = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h)
    assert r.status_code == 200 and r.json()["hazards"] == [stale]
    hz = client.get(f"/api/v1/hazards/{stale}", headers=h).json()
    assert hz["status"] == "resolved"
    last = hz["transitions"][-1]
    assert last["action"] == "evidence_gone" and last["actor"] == "system"
    assert "evidence gone for" in last["note"] and "shear" in last["note"]
    assert re.fullmatch(
        r"evidence gone for [\d,]+ h of data \(alarms cleared, no change or fault supports shear\)",
        last["note"],
    )
    hours = last["message"]["params"]["hours"]  # the data time, stored as a number
    zh = {**h, "Accept-Language": "zh-Hans"}
    note = client.get(f"/api/v1/hazards/{stale}", headers=zh).json()["transitions"][-1]["note"]
    assert note == (
        f"连续 {hours:,.0f} 小时的数据中证据已消失（告警已清除，无变化或故障支持剪切损伤）"
    )
    assert client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h).json()["hazards"] == []
    # a person cannot pick the system's action: resolved -> closed or reopened only
    assert hz["allowed_transitions"] == ["closed", "open"]


def test_supersede_rule_is_data() -> None:
    rules = load_housekeeping()
    assert rules.supersede_hours == 48 and rules.supersede_margin == 0.2
    moved = {"is_top": False, "top_confidence": 0.9, "own_confidence": 0.1, "off_top_h": 72.0}
    assert superseded(rules, **moved)
    for change in ({"is_top": True}, {"own_confidence": 0.75}, {"off_top_h": 24.0}):
        assert not superseded(rules, **{**moved, **change}), change


def test_a_hazard_whose_cause_moved_is_superseded(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    made = _pier(client, tenant, "settlement", 7)  # settlement on top, shrinkage scored +1.4
    aid, eid = made["asset_id"], made["element_id"]
    h = tenant.headers(Role.ENGINEER)
    (top,) = client.get("/api/v1/hazards", params={"asset_id": aid}, headers=h).json()
    assert top["mechanism"] == "settlement"
    # a transient cause of an earlier, shorter window: still scored above 0, so it is not
    # "evidence gone", but the element's top cause has moved away from it
    old = _add(platform, tenant.organization_id, aid, eid, "shrinkage", "durability")
    r = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h)
    assert r.status_code == 200 and old in r.json()["hazards"]
    hz = client.get(f"/api/v1/hazards/{old}", headers=h).json()
    assert hz["status"] == "resolved"
    last = hz["transitions"][-1]
    assert last["actor"] == "system" and last["action"] == "evidence_gone"
    assert last["note"].startswith(f"superseded by hazard {top['id']} (settlement, confidence 0.")
    zh = {**h, "Accept-Language": "zh-Hant"}
    note = client.get(f"/api/v1/hazards/{old}", headers=zh).json()["transitions"][-1]["note"]
    assert note.startswith(f"已被危害 {top['id']} 取代（沉降，置信度 0.")
    assert not re.search(r"[A-Za-z]{3,}", note), note
    assert client.get(f"/api/v1/hazards/{top['id']}", headers=h).json()["status"] == "open"
    assert client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h).json()["hazards"] == []


def test_the_asset_coherent_change_alarm_alone_keeps_no_hazard_open(
    client: TestClient, platform: Platform, tenant: Tenant
) -> None:
    made = _pier(client, tenant, "thermal", 11)
    aid, eid = made["asset_id"], made["element_id"]
    h = tenant.headers(Role.ENGINEER)
    stale = _add(platform, tenant.organization_id, aid, eid, "water_ingress", "durability")
    channel_bound = _add(platform, tenant.organization_id, aid, eid, "shear")
    with platform.database.transaction() as s:
        for key, hazard in (
            (f"structural-change/asset-{aid}", stale),
            ("rule/CRK-1", channel_bound),
        ):
            alarm = AlarmRecord(
                organization_id=tenant.organization_id,
                category="structural" if key.startswith("structural") else "rule",
                key=key,
                status="active",
                level=1,
                level_name="coherent change",
                severity=2,
                raised_at=datetime(2024, 1, 1, tzinfo=UTC),
            )
            s.add(alarm)
            s.flush()
            s.add(
                HazardEvidenceLink(
                    hazard_id=hazard, kind="alarm", ref=f"alarm:{alarm.id}", test="alarm"
                )
            )
    r = client.post(f"/api/v1/assets/{aid}/hazards/update", headers=h)
    # the stale one resolved; the held one (still live, shear not on top) now shows the
    # confidence the inference gives shear
    assert r.status_code == 200 and r.json()["hazards"] == [stale, channel_bound]
    assert client.get(f"/api/v1/hazards/{stale}", headers=h).json()["status"] == "resolved"
    assert client.get(f"/api/v1/hazards/{channel_bound}", headers=h).json()["confidence"] < 0.1
    # an active alarm on one of the hazard's own channels still holds it open
    assert client.get(f"/api/v1/hazards/{channel_bound}", headers=h).json()["status"] == "open"
