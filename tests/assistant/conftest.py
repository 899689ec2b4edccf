"""Fixtures of the assistant's tests: a viaduct with a settlement hazard and a channel with
readings in one organisation, a tunnel with a secret hazard in another, and the recorded
transcripts (JSON files under ``transcripts/``) with their ids filled in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.storage.models import Hazard, HazardEvidenceLink
from tests.conftest import Tenant

API = "/api/v1"
TRANSCRIPTS = Path(__file__).parent / "transcripts"
SECRET = "Secret Harbour Tunnel"


@dataclass(frozen=True)
class World:
    asset_id: int
    element_id: int
    hazard_id: int
    channel_id: int
    other_asset_id: int
    other_hazard_id: int

    def fill(self, text: str) -> str:
        for key, value in self.__dict__.items():
            text = text.replace("{" + key + "}", str(value))
        return text


def _hazard(platform: Platform, org_id: int, asset_id: int, element_id: int, **kw: Any) -> int:
    with platform.database.transaction() as s:
        hz = Hazard(
            organization_id=org_id,
            asset_id=asset_id,
            element_id=element_id,
            hazard_kind="structural",
            status="open",
            confidence=0.8,
            likelihood=4,
            consequence=4,
            risk=16,
            risk_band="high",
            causes=[{"mechanism": kw.get("mechanism", "settlement"), "confidence": 0.8}],
            prediction={},
            **kw,
        )
        s.add(hz)
        s.flush()
        s.add(
            HazardEvidenceLink(
                hazard_id=hz.id,
                kind="reading_window",
                ref="channel:VD-P2-SETTLE[2026-01-01T00:00Z/2026-02-01T00:00Z]",
                test="trend",
                value=4.7,
                unit="mm",
            )
        )
        return int(hz.id)


def _asset(client: TestClient, tenant: Tenant, name: str, element: str) -> tuple[int, int]:
    h = tenant.headers(Role.ENGINEER)
    aid = client.post(f"{API}/assets", json={"name": name, "kind": "bridge"}, headers=h).json()[
        "id"
    ]
    eid = client.post(
        f"{API}/assets/{aid}/elements",
        json={"name": element, "kind": "pier", "material": "reinforced concrete"},
        headers=h,
    ).json()["id"]
    return int(aid), int(eid)


@pytest.fixture
def world(client: TestClient, platform: Platform, tenant: Tenant, other_tenant: Tenant) -> World:
    aid, eid = _asset(client, tenant, "Demo viaduct", "Pier 2")
    h = tenant.headers(Role.ENGINEER)
    cid = client.post(
        f"{API}/channels",
        json={"key": "VD-P2-SETTLE", "quantity": "settlement", "unit": "mm", "element_id": eid},
        headers=h,
    ).json()["id"]
    readings = [
        {"channel": "VD-P2-SETTLE", "time": f"2026-11-{day:02d}T00:00:00Z", "value": 0.25 * day}
        for day in range(1, 21)
    ]
    assert (
        client.post(f"{API}/ingest/readings", json={"readings": readings}, headers=h).status_code
        == 200
    )
    hid = _hazard(platform, tenant.organization_id, aid, eid, mechanism="settlement")
    oaid, oeid = _asset(client, other_tenant, SECRET, "Ring 7")
    ohid = _hazard(platform, other_tenant.organization_id, oaid, oeid, mechanism="water_ingress")
    return World(
        asset_id=aid,
        element_id=eid,
        hazard_id=hid,
        channel_id=int(cid),
        other_asset_id=oaid,
        other_hazard_id=ohid,
    )


def transcript(name: str, world: World) -> dict[str, Any]:
    """A recorded transcript with the world's ids in place of ``{asset_id}`` etc."""
    return json.loads(world.fill((TRANSCRIPTS / f"{name}.json").read_text()))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The assistant's protocol tests rank by BM25 and route by words (their transcripts and
    rankings are written for those); tests of the embedding model turn it on themselves."""
    settings.assistant_embeddings = False
    return settings
