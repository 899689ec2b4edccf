"""Assets, elements, devices, channels and calibrations: CRUD, validation, audit trail."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.services.auth import hash_token
from infrasight.storage.models import Device
from tests.conftest import Site, Tenant


def test_asset_lifecycle(client: TestClient, tenant: Tenant) -> None:
    h = tenant.headers(Role.ENGINEER)
    created = client.post(
        "/api/v1/assets",
        json={
            "name": "Old Mill Bridge",
            "kind": "bridge",
            "latitude": 51.5,
            "longitude": -0.1,
            "design_data": {"spans_m": [20, 20]},
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    asset = created.json()
    assert asset["kind"] == "bridge" and asset["design_data"] == {"spans_m": [20, 20]}
    listed = client.get("/api/v1/assets", headers=tenant.headers(Role.VIEWER)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == asset["id"]
    patched = client.patch(
        f"/api/v1/assets/{asset['id']}", json={"description": "two spans"}, headers=h
    )
    assert patched.status_code == 200 and patched.json()["description"] == "two spans"
    assert (
        client.get(f"/api/v1/assets/{asset['id']}", headers=h).json()["description"] == "two spans"
    )
    assert client.delete(f"/api/v1/assets/{asset['id']}", headers=h).status_code == 403
    assert (
        client.delete(f"/api/v1/assets/{asset['id']}", headers=tenant.headers()).status_code == 204
    )
    assert client.get(f"/api/v1/assets/{asset['id']}", headers=h).status_code == 404
    audit = client.get("/api/v1/audit", params={"entity": "asset"}, headers=h).json()
    assert [e["action"] for e in audit["items"]] == ["delete", "update", "create"]
    assert audit["items"][2]["actor"] == "engineer@alpha-rail.example"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "kind": "bridge"}, "name"),
        ({"name": "X", "kind": "castle"}, "kind"),
        ({"name": "X", "kind": "bridge", "latitude": 91}, "latitude"),
        ({"kind": "bridge"}, "name"),
    ],
)
def test_invalid_asset_is_422(
    client: TestClient, tenant: Tenant, body: dict[str, object], field: str
) -> None:
    response = client.post("/api/v1/assets", json=body, headers=tenant.headers())
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert client.get("/api/v1/assets", headers=tenant.headers()).json()["total"] == 0


def test_duplicate_asset_name_is_409(client: TestClient, tenant: Tenant) -> None:
    body = {"name": "Twin", "kind": "tunnel"}
    assert client.post("/api/v1/assets", json=body, headers=tenant.headers()).status_code == 201
    response = client.post("/api/v1/assets", json=body, headers=tenant.headers())
    assert response.status_code == 409
    assert "Twin" in response.json()["detail"]


def test_element_hierarchy_and_cycles(client: TestClient, tenant: Tenant, site: Site) -> None:
    h = tenant.headers(Role.ENGINEER)
    url = f"/api/v1/assets/{site.asset_id}/elements"
    span = client.post(url, json={"name": "Span 2", "kind": "span"}, headers=h).json()
    girder = client.post(
        url, json={"name": "Girder", "kind": "girder", "parent_id": span["id"]}, headers=h
    )
    assert girder.status_code == 201 and girder.json()["parent_id"] == span["id"]
    cycle = client.patch(
        f"/api/v1/elements/{span['id']}", json={"parent_id": girder.json()["id"]}, headers=h
    )
    assert cycle.status_code == 422 and "cycle" in cycle.json()["detail"]
    names = [e["name"] for e in client.get(url, headers=h).json()]
    assert names == ["Pier 2", "Span 2", "Girder"]
    assert (
        client.delete(f"/api/v1/elements/{span['id']}", headers=tenant.headers()).status_code == 409
    )
    other_asset = client.post(
        "/api/v1/assets", json={"name": "Other", "kind": "station"}, headers=h
    ).json()
    foreign_parent = client.post(
        f"/api/v1/assets/{other_asset['id']}/elements",
        json={"name": "Hall", "kind": "hall", "parent_id": span["id"]},
        headers=h,
    )
    assert foreign_parent.status_code == 422 and foreign_parent.json()["field"] == "parent_id"


def test_device_token_is_shown_once_and_stored_hashed(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    with platform.database.session() as session:
        device = session.scalars(select(Device).where(Device.id == site.device_id)).one()
        assert device.token_hash == hash_token(site.device_token)
        assert site.device_token not in device.token_hash
    shown = client.get(f"/api/v1/devices/{site.device_id}", headers=tenant.headers()).json()
    assert "token" not in shown and shown["kind"] == "datalogger"


def test_device_needs_an_asset_of_the_organisation(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = client.post(
        "/api/v1/assets", json={"name": "B", "kind": "bridge"}, headers=other_tenant.headers()
    ).json()
    response = client.post(
        "/api/v1/devices",
        json={"name": "cam", "kind": "camera", "asset_id": foreign["id"]},
        headers=tenant.headers(),
    )
    assert response.status_code == 422 and response.json()["field"] == "asset_id"


def test_device_with_data_cannot_be_deleted_but_can_be_deactivated(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    assert (
        client.delete(f"/api/v1/devices/{site.device_id}", headers=tenant.headers()).status_code
        == 409
    )
    off = client.patch(
        f"/api/v1/devices/{site.device_id}", json={"is_active": False}, headers=tenant.headers()
    )
    assert off.status_code == 200 and off.json()["is_active"] is False
    response = client.post(
        "/api/v1/ingest/readings",
        json={"readings": [{"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z", "value": 1}]},
        headers=site.device_headers,
    )
    assert response.status_code == 401


def test_calibration_records(client: TestClient, tenant: Tenant, site: Site) -> None:
    url = f"/api/v1/devices/{site.device_id}/calibrations"
    for valid_from, gain in (("2024-01-01T00:00:00Z", 1.01), ("2024-06-01T00:00:00Z", 0.99)):
        response = client.post(
            url,
            json={"kind": "sensor_gain", "parameters": {"gain": gain}, "valid_from": valid_from},
            headers=tenant.headers(Role.ENGINEER),
        )
        assert response.status_code == 201, response.text
    records = client.get(url, headers=tenant.headers(Role.VIEWER)).json()
    assert [r["parameters"]["gain"] for r in records] == [0.99, 1.01]
    assert records[0]["created_by"] == "engineer@alpha-rail.example"


@pytest.mark.parametrize(
    ("quantity", "unit", "field", "message"),
    [
        ("strain", "mm", "unit", "cannot measure strain"),
        ("settlement", "parsecs^", "unit", "unknown unit"),
        ("wobble", "mm", "quantity", "unknown quantity"),
    ],
)
def test_channel_unit_must_fit_quantity(
    client: TestClient,
    tenant: Tenant,
    site: Site,
    quantity: str,
    unit: str,
    field: str,
    message: str,
) -> None:
    response = client.post(
        "/api/v1/channels",
        json={"key": "NEW", "quantity": quantity, "unit": unit, "element_id": site.element_id},
        headers=tenant.headers(),
    )
    assert response.status_code == 422
    assert response.json()["field"] == field and message in response.json()["detail"]


def test_channel_key_is_unique_and_unit_frozen_once_data_exists(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    h = tenant.headers()
    duplicate = client.post(
        "/api/v1/channels",
        json={
            "key": "VD-SETTLE",
            "quantity": "settlement",
            "unit": "mm",
            "element_id": site.element_id,
        },
        headers=h,
    )
    assert duplicate.status_code == 409
    assert (
        client.patch(
            f"/api/v1/channels/{site.settlement_channel_id}", json={"unit": "cm"}, headers=h
        ).status_code
        == 200
    )
    client.post(
        "/api/v1/ingest/readings",
        json={"readings": [{"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z", "value": 1}]},
        headers=site.device_headers,
    )
    frozen = client.patch(
        f"/api/v1/channels/{site.settlement_channel_id}", json={"unit": "mm"}, headers=h
    )
    assert frozen.status_code == 409
    keep = client.delete(f"/api/v1/channels/{site.settlement_channel_id}", headers=h)
    assert keep.status_code == 409 and "purge_readings" in keep.json()["detail"]
    purge = client.delete(
        f"/api/v1/channels/{site.settlement_channel_id}", params={"purge_readings": True}, headers=h
    )
    assert purge.status_code == 204


def test_channel_listing_filters(client: TestClient, tenant: Tenant, site: Site) -> None:
    h = tenant.headers(Role.VIEWER)
    by_asset = client.get("/api/v1/channels", params={"asset_id": site.asset_id}, headers=h).json()
    assert {c["key"] for c in by_asset["items"]} == {"VD-STRAIN", "VD-SETTLE"}
    page = client.get("/api/v1/channels", params={"limit": 1, "offset": 1}, headers=h).json()
    assert page["total"] == 2 and len(page["items"]) == 1
