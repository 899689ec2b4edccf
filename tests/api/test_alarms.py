"""Alarm rules through the API: every stored batch is evaluated; lifecycle transitions stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from infrasight.api.app import create_app
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from tests.conftest import Site, Tenant, make_site

RULE = {
    "id": "P2-settlement",
    "channels": ["VD-SETTLE"],
    "levels": [
        {
            "name": "amber",
            "severity": 1,
            "limits": [{"quantity": "value", "upper": 3.0, "hysteresis": 0.2}],
        },
        {"name": "red", "severity": 2, "limits": [{"quantity": "value", "upper": 5.0}]},
    ],
    "persistence_count": 2,
}
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def send(client: TestClient, site: Site, values: list[float], start: int = 0) -> None:
    readings = [
        {
            "channel": "VD-SETTLE",
            "time": (T0 + timedelta(minutes=10 * (start + i))).isoformat(),
            "value": v,
        }
        for i, v in enumerate(values)
    ]
    response = client.post(
        "/api/v1/ingest/readings", json={"readings": readings}, headers=site.device_headers
    )
    assert response.status_code == 200, response.text


def alarms(client: TestClient, tenant: Tenant) -> list[dict[str, object]]:
    return client.get("/api/v1/alarms", headers=tenant.headers(Role.VIEWER)).json()["items"]


def test_batches_raise_escalate_clear_and_re_raise(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    created = client.post(
        "/api/v1/rules", json={"definition": RULE}, headers=tenant.headers(Role.ENGINEER)
    )
    assert created.status_code == 201, created.text
    send(client, site, [1.0, 2.0, 3.5])  # one reading over amber: persistence needs two
    assert alarms(client, tenant) == []
    send(client, site, [3.6, 5.5, 5.6], start=3)  # amber confirmed, then red confirmed
    [alarm] = alarms(client, tenant)
    assert (alarm["status"], alarm["level_name"], alarm["severity"]) == ("active", "red", 2)
    detail = client.get(f"/api/v1/alarms/{alarm['id']}", headers=tenant.headers()).json()
    assert [e["kind"] for e in detail["events"]] == ["raised", "level_changed"]
    assert detail["events"][0]["time"].startswith("2024-05-01T00:30:00")  # 2nd reading over 3.0
    assert detail["events"][0]["actor"] == "rule-engine"

    ack = client.post(
        f"/api/v1/alarms/{alarm['id']}/acknowledge",
        json={"note": "crew sent"},
        headers=tenant.headers(Role.INSPECTOR),
    )
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert ack.json()["events"][-1]["actor"] == "inspector@alpha-rail.example"
    again = client.post(
        f"/api/v1/alarms/{alarm['id']}/acknowledge", json={}, headers=tenant.headers()
    )
    assert again.status_code == 409 and "not active" in again.json()["detail"]

    send(client, site, [2.9, 2.7, 2.6], start=6)  # below 3.0 - 0.2 hysteresis twice: cleared
    [alarm] = alarms(client, tenant)
    assert alarm["status"] == "cleared"
    send(client, site, [4.0, 4.1], start=9)
    [alarm] = alarms(client, tenant)
    assert (alarm["status"], alarm["level_name"]) == ("active", "amber")
    kinds = [
        e["kind"]
        for e in client.get(f"/api/v1/alarms/{alarm['id']}", headers=tenant.headers()).json()[
            "events"
        ]
    ]
    assert kinds[-1] == "re_raised" and "cleared" in kinds


def test_escalation_and_no_data_in_the_sweep(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    rule = {**RULE, "persistence_count": 1, "no_data_s": 3600}
    response = client.post(
        "/api/v1/rules",
        json={"definition": rule, "escalate_after_s": 1800},
        headers=tenant.headers(),
    )
    assert response.status_code == 201
    send(client, site, [6.0])
    raised_at = T0.timestamp()
    assert platform.alarms.sweep(now=raised_at + 2 * 3600 + 10) >= 2
    by_key = {a["key"]: a for a in alarms(client, tenant)}
    assert by_key["P2-settlement/VD-SETTLE/no_data"]["status"] == "active"
    events = client.get(
        f"/api/v1/alarms/{by_key['P2-settlement']['id']}", headers=tenant.headers()
    ).json()["events"]
    assert [e["kind"] for e in events].count("escalated") == 4  # every 30 min for 2 h
    assert events[0]["note"] == "VD-SETTLE=6" and events[-1]["note"] == "unacknowledged for 7,200 s"
    zh = {**tenant.headers(), "Accept-Language": "zh-Hans"}
    events = client.get(f"/api/v1/alarms/{by_key['P2-settlement']['id']}", headers=zh).json()[
        "events"
    ]
    assert [e["note"] for e in events] == [
        "VD-SETTLE = 6",
        *(f"已 {s:,} 秒未确认" for s in (1800, 3600, 5400, 7200)),
    ]
    assert events[-1]["message"] == {
        "key": "unacknowledged for {seconds:g} s",
        "params": {"seconds": 7200.0},
    }
    listed = client.get("/api/v1/alarms", headers={**zh, "Accept-Language": "zh-Hant"}).json()
    silent = next(a for a in listed["items"] if a["key"].endswith("/no_data"))
    assert silent["last_event"]["kind"] == "escalated"  # the newest of its events
    assert silent["last_event"]["note"].endswith(" 秒未確認")
    events = client.get(f"/api/v1/alarms/{silent['id']}", headers=zh).json()["events"]
    assert events[0]["kind"] == "no_data"
    assert events[0]["note"] == "已 7,210 秒无数据", events[0]  # silent 2 h 10 s at the sweep


@pytest.mark.parametrize(
    ("definition", "field", "message"),
    [
        ({**RULE, "channels": ["NOPE"]}, "definition.channels", "unknown channel"),
        ({**RULE, "levels": []}, "definition", "at least one level"),
        (
            {
                **RULE,
                "levels": [
                    {"name": "a", "severity": 1, "limits": [{"quantity": "speed", "upper": 1}]}
                ],
            },
            "definition",
            "limit quantity",
        ),
        ({"channels": ["VD-SETTLE"]}, "definition", ""),
    ],
)
def test_bad_rules_are_422(
    client: TestClient,
    tenant: Tenant,
    site: Site,
    definition: dict[str, object],
    field: str,
    message: str,
) -> None:
    response = client.post(
        "/api/v1/rules", json={"definition": definition}, headers=tenant.headers()
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and message in response.json()["detail"]
    assert client.get("/api/v1/rules", headers=tenant.headers()).json()["total"] == 0


def test_rule_permissions_duplicates_and_tenancy(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, site: Site
) -> None:
    assert (
        client.post(
            "/api/v1/rules", json={"definition": RULE}, headers=tenant.headers(Role.INSPECTOR)
        ).status_code
        == 403
    )
    created = client.post("/api/v1/rules", json={"definition": RULE}, headers=tenant.headers())
    assert (
        client.post(
            "/api/v1/rules", json={"definition": RULE}, headers=tenant.headers()
        ).status_code
        == 409
    )
    rule_id = created.json()["id"]
    assert client.get(f"/api/v1/rules/{rule_id}", headers=other_tenant.headers()).status_code == 404
    off = client.patch(
        f"/api/v1/rules/{rule_id}", json={"enabled": False}, headers=tenant.headers()
    )
    assert off.json()["enabled"] is False
    send(client, site, [9.0, 9.0, 9.0])
    assert alarms(client, tenant) == []  # disabled rules do not evaluate
    replay = client.post(
        f"/api/v1/rules/{rule_id}/evaluate",
        json={"since": T0.isoformat()},
        headers=tenant.headers(),
    )
    assert replay.status_code == 200 and replay.json()["transitions"] == 1
    assert alarms(client, tenant)[0]["level_name"] == "red"
    assert (
        client.delete(f"/api/v1/rules/{rule_id}", headers=tenant.headers(Role.ENGINEER)).status_code
        == 403
    )
    assert client.delete(f"/api/v1/rules/{rule_id}", headers=tenant.headers()).status_code == 204
    assert alarms(client, tenant) == []


def test_background_evaluation_merges_a_burst(settings: Settings, tenant: Tenant) -> None:
    background = Platform.create(settings, workers=1)
    try:
        with TestClient(create_app(platform=background)) as client:
            site = make_site(client, tenant, prefix="BG")
            rule = {**RULE, "id": "bg", "channels": ["BG-SETTLE"], "persistence_count": 1}
            assert (
                client.post(
                    "/api/v1/rules", json={"definition": rule}, headers=tenant.headers()
                ).status_code
                == 201
            )
            for start, value in ((0, 1.0), (1, 2.0), (2, 6.0)):  # a burst of three requests
                readings = [
                    {
                        "channel": "BG-SETTLE",
                        "time": (T0 + timedelta(minutes=10 * start)).isoformat(),
                        "value": value,
                    }
                ]
                client.post(
                    "/api/v1/ingest/readings",
                    json={"readings": readings},
                    headers=site.device_headers,
                )
            assert background.jobs.wait_idle()
            [alarm] = client.get("/api/v1/alarms", headers=tenant.headers()).json()["items"]
            assert alarm["level_name"] == "red"
            channels = client.get("/api/v1/channels", headers=tenant.headers()).json()["items"]
            scores = next(c for c in channels if c["key"] == "BG-SETTLE.anomaly")
            series = client.get(
                f"/api/v1/channels/{scores['id']}/readings", headers=tenant.headers()
            ).json()
            assert sum(p["count"] for p in series["points"]) == 3
    finally:
        background.close()


@pytest.mark.parametrize(
    ("locale", "summary"),
    [
        ("en", "VD-SETTLE: amber value > 3; red value > 5"),
        ("zh-Hant", "VD-SETTLE：橙色（數值 > 3）；紅色（數值 > 5）"),
        ("zh-Hans", "VD-SETTLE：橙色（数值 > 3）；红色（数值 > 5）"),
    ],
)
def test_a_rule_reads_in_one_line_in_the_readers_language(
    client: TestClient, tenant: Tenant, site: Site, locale: str, summary: str
) -> None:
    rule_id = client.post(
        "/api/v1/rules", json={"definition": RULE}, headers=tenant.headers()
    ).json()["id"]
    h = {**tenant.headers(Role.VIEWER), "Accept-Language": locale}
    assert client.get(f"/api/v1/rules/{rule_id}", headers=h).json()["summary"] == summary
    listed = client.get("/api/v1/rules", headers=h).json()["items"]
    assert [r["summary"] for r in listed] == [summary]
    definition = client.get(f"/api/v1/rules/{rule_id}", headers=h).json()["definition"]
    assert [level["name"] for level in definition["levels"]] == ["amber", "red"]  # codes stay
