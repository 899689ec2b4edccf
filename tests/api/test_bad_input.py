"""Bad input at the HTTP boundary: a 4xx naming the field, never a 500, nothing written."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from infrasight.core.domain import Role
from infrasight.core.errors import NotFoundError
from infrasight.platform import Platform
from infrasight.storage.models import Asset
from tests.conftest import Site, Tenant

INGEST = "/api/v1/ingest/readings"


def _assert_error(response: object, status: int, field: str | None = None) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"detail", "field"}
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        assert body["field"] == field
    return dict(body)


def _count_readings(client: TestClient, tenant: Tenant, channel_id: int) -> int:
    response = client.get(
        f"/api/v1/channels/{channel_id}/readings", headers=tenant.headers(Role.VIEWER)
    )
    assert response.status_code == 200, response.text
    return sum(int(p["count"]) for p in response.json()["points"])


@pytest.mark.parametrize(
    "field", ["design_data", "name", "kind", "description", "governing_standard"]
)
def test_patch_asset_null_is_refused_and_nothing_changes(
    client: TestClient, tenant: Tenant, field: str
) -> None:
    h = tenant.headers(Role.ENGINEER)
    created = client.post(
        "/api/v1/assets",
        json={"name": "Old bridge", "kind": "bridge", "design_data": {"span_m": 40}},
        headers=h,
    )
    asset_id = created.json()["id"]
    response = client.patch(
        f"/api/v1/assets/{asset_id}", json={"description": "changed", field: None}, headers=h
    )
    _assert_error(response, 422, field)
    listing = client.get("/api/v1/assets", headers=h)
    assert listing.status_code == 200, listing.text
    (item,) = listing.json()["items"]
    assert item["design_data"] == {"span_m": 40}
    assert item["description"] == ""


def test_patch_asset_may_clear_its_position(client: TestClient, tenant: Tenant) -> None:
    h = tenant.headers(Role.ENGINEER)
    asset_id = client.post(
        "/api/v1/assets", json={"name": "B", "kind": "bridge", "latitude": 45.0}, headers=h
    ).json()["id"]
    response = client.patch(f"/api/v1/assets/{asset_id}", json={"latitude": None}, headers=h)
    assert response.status_code == 200, response.text
    assert response.json()["latitude"] is None


def test_value_infinite_after_unit_conversion_is_refused(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    readings = [
        {"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z", "value": 1.0, "unit": "mm"},
        {"channel": "VD-SETTLE", "time": "2024-05-01T00:10:00Z", "value": 1e305, "unit": "km"},
    ]
    response = client.post(INGEST, json={"readings": readings}, headers=site.device_headers)
    body = _assert_error(response, 422, "readings[1].value")
    assert "out of range" in str(body["detail"])
    assert _count_readings(client, tenant, site.settlement_channel_id) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/assets/9223372036854775808",
        f"/api/v1/assets/{2**70}",
        "/api/v1/assets/-1",
        "/api/v1/elements/99999999999999999999999",
        f"/api/v1/captures?asset_id={2**70}",
        f"/api/v1/records?asset_id={2**64}",
        f"/api/v1/assets?offset={2**63}",
        f"/api/v1/channels/{2**63}/readings",
    ],
)
def test_ids_and_offsets_beyond_64_bits_are_4xx(
    client: TestClient, tenant: Tenant, path: str
) -> None:
    response = client.get(path, headers=tenant.headers(Role.VIEWER))
    assert response.status_code in (404, 422), response.text
    assert set(response.json()) == {"detail", "field"}


def test_largest_64_bit_id_is_a_plain_404(client: TestClient, tenant: Tenant) -> None:
    response = client.get(f"/api/v1/assets/{2**63 - 1}", headers=tenant.headers(Role.VIEWER))
    _assert_error(response, 404)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"channel": ["VD-SETTLE"], "time": "2024-05-01T00:00:00Z", "value": 1}, "channel"),
        ({"channel": {"k": 1}, "time": "2024-05-01T00:00:00Z", "value": 1}, "channel"),
        ({"channel": "VD-SETTLE", "time": ["2024-05-01"], "value": 1}, "time"),
        ({"channel": "VD-SETTLE", "time": {"at": 1}, "value": 1}, "time"),
    ],
)
def test_ingest_items_with_list_or_object_keys_are_422(
    client: TestClient, tenant: Tenant, site: Site, item: dict[str, object], field: str
) -> None:
    good = {"channel": "VD-SETTLE", "time": "2024-05-01T01:00:00Z", "value": 2}
    response = client.post(INGEST, json={"readings": [good, item]}, headers=site.device_headers)
    _assert_error(response, 422, f"readings[1].{field}")
    assert _count_readings(client, tenant, site.settlement_channel_id) == 0


def test_csv_field_over_the_csv_module_limit_is_422(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    body = "VD-SETTLE,2024-05-01T00:00:00Z,1\n" + "VD-SETTLE," + "x" * 140_000 + ",1\n"
    response = client.post(
        INGEST, content=body, headers={**site.device_headers, "Content-Type": "text/csv"}
    )
    body_json = _assert_error(response, 422, "CSV line 2")
    assert "field larger than field limit" in str(body_json["detail"])
    assert _count_readings(client, tenant, site.settlement_channel_id) == 0


def test_csv_row_whose_channel_key_is_channel_is_a_reading(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    h = tenant.headers(Role.ENGINEER)
    created = client.post(
        "/api/v1/channels",
        json={
            "key": "channel",
            "quantity": "settlement",
            "unit": "mm",
            "element_id": site.element_id,
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    body = "channel,2024-05-01T00:00:00Z,1.5\nVD-SETTLE,2024-05-01T00:00:00Z,2\n"
    response = client.post(INGEST, content=body, headers={**h, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "conflicts": 0}
    assert _count_readings(client, tenant, created.json()["id"]) == 1
    header_first = "Channel, Time, Value, Unit\nVD-SETTLE,2024-05-01T00:10:00Z,3,mm\n"
    response = client.post(INGEST, content=header_first, headers={**h, "Content-Type": "text/csv"})
    assert response.json() == {"accepted": 1, "duplicates": 0, "conflicts": 0}


def _npy_header_only(shape: tuple[int, ...]) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    return out.getvalue() + b"\x00" * 64


def test_npy_header_claiming_a_huge_shape_is_refused_before_allocation(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    response = client.post(
        "/api/v1/records",
        data={
            "asset_id": str(site.asset_id),
            "start_time": "2024-05-01T00:00:00Z",
            "sample_rate_hz": "100",
        },
        files={"file": ("huge.npy", _npy_header_only((10**12, 1)), "application/octet-stream")},
        headers=tenant.headers(Role.ENGINEER),
    )
    body = _assert_error(response, 422, "file")
    assert "(1000000000000, 1)" in str(body["detail"])
    listing = client.get("/api/v1/records", headers=tenant.headers(Role.VIEWER))
    assert listing.json()["total"] == 0


def test_device_posting_a_record_as_another_device_is_403(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    other = client.post(
        "/api/v1/devices",
        json={"name": "VD-DL-02", "kind": "datalogger", "asset_id": site.asset_id},
        headers=tenant.headers(Role.ENGINEER),
    ).json()["id"]
    data = io.BytesIO()
    np.save(data, np.zeros((100, 1)))
    response = client.post(
        "/api/v1/records",
        data={
            "asset_id": str(site.asset_id),
            "start_time": "2024-05-01T00:00:00Z",
            "sample_rate_hz": "100",
            "device_id": str(other),
        },
        files={"file": ("r.npy", data.getvalue(), "application/octet-stream")},
        headers=site.device_headers,
    )
    _assert_error(response, 403)
    assert client.get("/api/v1/records", headers=tenant.headers(Role.VIEWER)).json()["total"] == 0
    own = client.post(
        "/api/v1/records",
        data={
            "asset_id": str(site.asset_id),
            "start_time": "2024-05-01T00:00:00Z",
            "sample_rate_hz": "100",
        },
        files={"file": ("r.npy", data.getvalue(), "application/octet-stream")},
        headers=site.device_headers,
    )
    assert own.status_code == 201, own.text
    assert own.json()["device_id"] == site.device_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"is_active": 0}, "is_active"),
        ({"is_active": None}, "is_active"),
        ({"name": None}, "name"),
        ({"asset_id": 2**64}, "asset_id"),
    ],
)
def test_patch_device_refuses_nulls_and_loose_types(
    client: TestClient, tenant: Tenant, site: Site, body: dict[str, object], field: str
) -> None:
    url = f"/api/v1/devices/{site.device_id}"
    response = client.patch(url, json=body, headers=tenant.headers(Role.ENGINEER))
    _assert_error(response, 422, field)
    device = client.get(url, headers=tenant.headers(Role.VIEWER)).json()
    assert device["is_active"] is True and device["name"] == "VD-DL-01"


@pytest.mark.parametrize("value", [0, "0.5", True])
def test_times_are_iso_text_not_numbers(
    client: TestClient, tenant: Tenant, site: Site, value: object
) -> None:
    response = client.get(
        f"/api/v1/channels/{site.settlement_channel_id}/readings",
        params={"start": str(value)},
        headers=tenant.headers(Role.VIEWER),
    )
    _assert_error(response, 422, "start")


def test_deleting_an_asset_with_inspections_is_409(client: TestClient, tenant: Tenant) -> None:
    h = tenant.headers(Role.ADMIN)
    asset_id = client.post(
        "/api/v1/assets", json={"name": "A", "kind": "tunnel"}, headers=h
    ).json()["id"]
    created = client.post("/api/v1/inspections", json={"asset_id": asset_id}, headers=h)
    assert created.status_code == 201, created.text
    response = client.delete(f"/api/v1/assets/{asset_id}", headers=h)
    assert _assert_error(response, 409)["detail"].endswith("inspections; remove them first")
    assert client.get(f"/api/v1/assets/{asset_id}", headers=h).status_code == 200


def test_assets_list_survives_a_null_design_data_row(
    client: TestClient, tenant: Tenant, platform: Platform
) -> None:
    h = tenant.headers(Role.ENGINEER)
    asset_id = client.post(
        "/api/v1/assets", json={"name": "B", "kind": "bridge"}, headers=h
    ).json()["id"]
    with platform.database.transaction() as session:  # as the old PATCH left it
        session.execute(update(Asset).where(Asset.id == asset_id).values(design_data=None))
    listing = client.get("/api/v1/assets", headers=h)
    assert listing.status_code == 200, listing.text
    assert listing.json()["items"][0]["design_data"] == {}


def test_an_update_of_an_object_deleted_meanwhile_is_a_404(
    client: TestClient, tenant: Tenant, platform: Platform
) -> None:
    """Regression (fuzzing, two workers): a PATCH that read a device, then found it deleted by a
    concurrent DELETE before its commit, answered 500 (StaleDataError)."""
    from sqlalchemy.orm import Session

    from infrasight.api.routes.common import commit_or_conflict
    from infrasight.storage.models import Device

    h = tenant.headers(Role.ADMIN)
    asset = client.post("/api/v1/assets", json={"name": "A", "kind": "bridge"}, headers=h)
    made = client.post(
        "/api/v1/devices",
        json={"name": "D", "kind": "datalogger", "asset_id": asset.json()["id"]},
        headers=h,
    )
    device_id = made.json()["id"]
    with Session(platform.database.engine) as reader:
        device = reader.get(Device, device_id)
        assert device is not None
        assert client.delete(f"/api/v1/devices/{device_id}", headers=h).status_code == 204
        device.serial_number = "SN-1"
        with pytest.raises(NotFoundError, match="deleted meanwhile"):
            commit_or_conflict(reader, "device 'D'")
