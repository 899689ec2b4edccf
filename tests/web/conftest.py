"""A monitored site with readings, a rule and its alarm, and an analysed crack capture; users
with passwords; the web pages registered on NiceGUI's simulated app (the ``user`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import pytest
from fastapi.testclient import TestClient
from nicegui.testing import User
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.services.passwords import hash_password
from infrasight.services.throttle import failure_limiter
from infrasight.storage.models import User as UserRow
from infrasight.web import WebContext, register_pages
from tests.conftest import Site, Tenant
from tests.helpers import insert_hazard, upload_crack_capture

PASSWORD = "correct horse battery"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
RULE = {
    "id": "P2-settlement",
    "channels": ["VD-SETTLE"],
    "levels": [
        {"name": "amber", "severity": 1, "limits": [{"quantity": "value", "upper": 3.0}]},
        {"name": "red", "severity": 2, "limits": [{"quantity": "value", "upper": 5.0}]},
    ],
    "persistence_count": 2,
}
N_READINGS = 2016  # two weeks of 10-minute readings


@dataclass(frozen=True)
class WebSite:
    """What the web tests look at."""

    tenant: Tenant
    other: Tenant
    site: Site
    capture_id: int
    alarm_id: int
    other_asset_id: int
    hazard_id: int

    def email(self, role: Role, tenant: Tenant | None = None) -> str:
        name = "beta-tunnels" if tenant is self.other else "alpha-rail"
        return f"{role.value}@{name}.example"


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def web_site(
    client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant, site: Site
) -> WebSite:
    with platform.database.transaction() as session:
        for user in session.scalars(select(UserRow)):
            user.password_hash = _password_hash()
    h = tenant.headers(Role.ENGINEER)
    placed = client.patch(
        f"/api/v1/assets/{site.asset_id}", json={"latitude": 22.3, "longitude": 114.17}, headers=h
    )
    assert placed.status_code == 200, placed.text
    assert client.post("/api/v1/rules", json={"definition": RULE}, headers=h).status_code == 201
    rng = np.random.default_rng(5)
    values = 1.0 + 0.2 * rng.standard_normal(N_READINGS)
    values[-3:] = [5.5, 5.6, 5.7]  # the last readings raise the red level
    readings = [
        {
            "channel": "VD-SETTLE",
            "time": (T0 + timedelta(minutes=10 * i)).isoformat(),
            "value": float(v),
        }
        for i, v in enumerate(values)
    ]
    sent = client.post(
        "/api/v1/ingest/readings", json={"readings": readings}, headers=site.device_headers
    )
    assert sent.status_code == 200, sent.text
    alarms = client.get("/api/v1/alarms", headers=h).json()["items"]
    assert len(alarms) == 1
    capture, _scene = upload_crack_capture(client, tenant.headers(Role.INSPECTOR), site.asset_id)
    assert capture.status_code == 201, capture.text
    assert platform.jobs.run_pending() == 1
    other_asset = client.post(
        "/api/v1/assets",
        json={"name": "Beta secret tunnel", "kind": "tunnel"},
        headers=other_tenant.headers(Role.ENGINEER),
    )
    hazard_id = _hazard(platform, tenant, site, alarms[0]["id"])
    return WebSite(
        tenant=tenant,
        other=other_tenant,
        site=site,
        capture_id=capture.json()["id"],
        alarm_id=alarms[0]["id"],
        other_asset_id=other_asset.json()["id"],
        hazard_id=hazard_id,
    )


SETTLEMENT_EVIDENCE = {
    "kind": "reading_window",
    "ref": "channel:VD-SETTLE[2024-05-01T00:00Z/2024-05-15T00:00Z]",
    "test": "trend",
    "detail": "Settlement grew 4.5 mm in two weeks",
    "value": 4.5,
    "unit": "mm",
}


def _hazard(platform: Platform, tenant: Tenant, site: Site, alarm_id: int) -> int:
    """A settlement hazard on Pier 2 as ``update_hazards`` writes one (causes, evidence, trail)."""
    return insert_hazard(
        platform,
        tenant.organization_id,
        site.asset_id,
        site.element_id,
        confidence=0.82,
        note="opened from evidence",
        causes=[
            {
                "mechanism": "settlement",
                "name": "Settlement / support movement",
                "confidence": 0.82,
                "citation": "FHWA-NHI-12-049 §10.1",
                "evidence_for": [SETTLEMENT_EVIDENCE],
                "evidence_against": [],
            },
            {
                "mechanism": "thermal",
                "name": "Thermal response (no damage)",
                "confidence": 0.11,
                "citation": "EN 1991-1-5",
                "evidence_for": [],
                "evidence_against": [
                    {**SETTLEMENT_EVIDENCE, "detail": "No daily cycle in the settlement"}
                ],
            },
        ],
        evidence=[
            SETTLEMENT_EVIDENCE,
            {
                "kind": "alarm",
                "ref": f"alarm:{alarm_id}",
                "test": "P2-settlement",
                "detail": "Red level raised",
            },
        ],
    )


@pytest.fixture
def web_context(platform: Platform) -> WebContext:
    return WebContext(
        platform=platform, limiter=failure_limiter(platform.settings, platform.database)
    )


@pytest.fixture
def web(user: User, web_context: WebContext) -> Iterator[User]:
    """NiceGUI's simulated user with InfraSight's pages registered."""
    register_pages(web_context)
    yield user


async def log_in(user: User, email: str, password: str = PASSWORD) -> None:
    """Log in through the login page."""
    await user.open("/login")
    user.find(marker="email").type(email)
    user.find(marker="password").type(password)
    user.find(marker="submit").click()
