"""Each user's language: ``PATCH /users/me`` stores it (en, zh-Hant, zh-Hans or null), and
reports and notifications requested without a language take the recipient's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from tests.conftest import Site, Tenant

API = "/api/v1"
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _set(client: TestClient, tenant: Tenant, role: Role, locale: object) -> dict[str, object]:
    answer = client.patch(f"{API}/users/me", json={"locale": locale}, headers=tenant.headers(role))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.mark.parametrize("locale", ["en", "zh-Hant", "zh-Hans"])
def test_a_user_stores_their_locale(client: TestClient, tenant: Tenant, locale: str) -> None:
    h = tenant.headers(Role.VIEWER)
    assert client.get(f"{API}/users/me", headers=h).json()["locale"] is None
    assert _set(client, tenant, Role.VIEWER, locale)["locale"] == locale
    assert client.get(f"{API}/users/me", headers=h).json()["locale"] == locale
    # only the caller's own row changed
    others = client.get(f"{API}/users", headers=tenant.headers(Role.ADMIN)).json()["items"]
    assert {u["email"]: u["locale"] for u in others if u["locale"]} == {
        "viewer@alpha-rail.example": locale
    }
    audit = client.get(f"{API}/audit", headers=tenant.headers(Role.ADMIN)).json()["items"]
    assert any(a["details"] == {"changed": ["locale"]} for a in audit)
    assert _set(client, tenant, Role.VIEWER, None)["locale"] is None


@pytest.mark.parametrize(
    "body", [{"locale": "fr"}, {"locale": "zh_Hant"}, {"locale": 1}, {"locale": True}, {}]
)
def test_an_unknown_locale_is_a_422_naming_the_field(
    client: TestClient, tenant: Tenant, body: dict[str, object]
) -> None:
    h = tenant.headers(Role.VIEWER)
    _set(client, tenant, Role.VIEWER, "zh-Hans")
    answer = client.patch(f"{API}/users/me", json=body, headers=h)
    assert answer.status_code == 422
    assert answer.json()["field"] == "locale"
    assert client.get(f"{API}/users/me", headers=h).json()["locale"] == "zh-Hans"


def test_a_device_has_no_locale(client: TestClient, site: Site) -> None:
    answer = client.patch(f"{API}/users/me", json={"locale": "en"}, headers=site.device_headers)
    assert answer.status_code == 403


def test_a_report_without_a_language_is_in_the_callers_locale(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    period = {"start": T0.isoformat(), "end": (T0 + timedelta(days=1)).isoformat()}
    url = f"{API}/assets/{site.asset_id}/reports"
    h = tenant.headers(Role.INSPECTOR)
    assert client.post(url, json=period, headers=h).json()["language"] == "en"
    _set(client, tenant, Role.INSPECTOR, "zh-Hant")
    assert client.post(url, json=period, headers=h).json()["language"] == "zh-Hant"
    # a language named in the request wins
    named = client.post(url, json={**period, "language": "zh-Hans"}, headers=h)
    assert named.json()["language"] == "zh-Hans"


def test_a_subscription_without_a_language_is_in_the_recipients_locale(
    client: TestClient, tenant: Tenant
) -> None:
    _set(client, tenant, Role.INSPECTOR, "zh-Hans")
    _set(client, tenant, Role.ENGINEER, "zh-Hant")
    url = f"{API}/notifications/subscriptions"
    h = tenant.headers(Role.ENGINEER)
    cases = [
        ("Inspector@Alpha-Rail.example", "zh-Hans"),  # a user's address: their locale
        ("duty@example.org", "zh-Hant"),  # nobody's address: the creator's
    ]
    for target, expected in cases:
        made = client.post(url, json={"channel": "email", "target": target}, headers=h)
        assert made.status_code == 201, made.text
        assert made.json()["language"] == expected, target
    named = client.post(
        url, json={"channel": "email", "target": "duty@example.org", "language": "en"}, headers=h
    )
    assert named.json()["language"] == "en"
