"""POST /api/v1/ingest/readings: the contract, unit handling, idempotency, every bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.platform import Platform
from tests.conftest import Site, Tenant, make_site

URL = "/api/v1/ingest/readings"


def reading(channel: str, minute: int, value: float, unit: str | None = None) -> dict[str, object]:
    item: dict[str, object] = {
        "channel": channel,
        "time": (datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=minute)).isoformat(),
        "value": value,
    }
    if unit is not None:
        item["unit"] = unit
    return item


def stored(client: TestClient, tenant: Tenant, channel_id: int) -> list[dict[str, object]]:
    response = client.get(
        f"/api/v1/channels/{channel_id}/readings",
        params={"max_points": 10_000},
        headers=tenant.headers(Role.VIEWER),
    )
    assert response.status_code == 200
    return response.json()["points"]


def test_json_batch_is_stored_and_resending_it_changes_nothing(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    batch = {"readings": [reading("VD-SETTLE", m, 0.5 * m) for m in range(0, 60, 10)]}
    first = client.post(URL, json=batch, headers=site.device_headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 6, "duplicates": 0, "conflicts": 0}
    again = client.post(URL, json=batch, headers=site.device_headers)
    assert again.json() == {"accepted": 0, "duplicates": 6, "conflicts": 0}
    points = stored(client, tenant, site.settlement_channel_id)
    assert sum(p["count"] for p in points) == 6
    assert [p["mean"] for p in points] == pytest.approx([0.0, 5.0, 10.0, 15.0, 20.0, 25.0])


def test_resent_reading_with_another_value_is_a_conflict_and_first_write_wins(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    batch = {"readings": [reading("VD-SETTLE", m, 1.0 + m) for m in range(0, 30, 10)]}
    assert client.post(URL, json=batch, headers=site.device_headers).status_code == 200
    resent = {
        "readings": [
            reading("VD-SETTLE", 0, 1.0),  # same value: a plain duplicate
            reading("VD-SETTLE", 10, 99.0),  # another value: a conflict
            reading("VD-SETTLE", 20, 98.0),  # another value: a conflict
            reading("VD-SETTLE", 40, 5.0),  # new
            reading("VD-SETTLE", 40, 6.0),  # repeated in the batch with another value
        ]
    }
    response = client.post(URL, json=resent, headers=site.device_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 4, "conflicts": 3}
    points = stored(client, tenant, site.settlement_channel_id)
    assert [p["mean"] for p in points] == pytest.approx([1.0, 11.0, 21.0, 5.0])
    schema = client.get("/openapi.json").json()["components"]["schemas"]["IngestResponse"]
    assert "conflicts" in schema["required"]
    assert "differs" in schema["properties"]["conflicts"]["description"]


def test_csv_batch_with_header_and_units(client: TestClient, tenant: Tenant, site: Site) -> None:
    body = (
        "channel,time,value,unit\n"
        "VD-SETTLE,2024-05-01T00:00:00Z,0.0012,m\n"
        "VD-SETTLE,2024-05-01T00:10:00+02:00,3,mm\n"
        "VD-STRAIN,2024-05-01T00:00:00,0.0001,\n"
    )
    response = client.post(
        URL, content=body, headers={**site.device_headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 3, "duplicates": 0, "conflicts": 0}
    settle = stored(client, tenant, site.settlement_channel_id)
    # +02:00 is two hours earlier in UTC, so it comes first.
    assert [p["mean"] for p in settle] == pytest.approx([3.0, 1.2])
    strain = stored(client, tenant, site.strain_channel_id)
    assert strain[0]["mean"] == pytest.approx(0.0001)


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [("m", 0.0025, 2.5), ("cm", 0.25, 2.5), ("mm", 2.5, 2.5), ("in", 1.0, 25.4)],
)
def test_units_are_normalised_to_the_channel_unit(
    client: TestClient, tenant: Tenant, site: Site, unit: str, value: float, expected: float
) -> None:
    response = client.post(
        URL, json={"readings": [reading("VD-SETTLE", 0, value, unit)]}, headers=site.device_headers
    )
    assert response.status_code == 200, response.text
    assert stored(client, tenant, site.settlement_channel_id)[0]["mean"] == pytest.approx(expected)


def test_temperature_offsets_convert(client: TestClient, tenant: Tenant, site: Site) -> None:
    h = tenant.headers(Role.ENGINEER)
    channel = client.post(
        "/api/v1/channels",
        json={
            "key": "AIR",
            "quantity": "temperature",
            "unit": "degC",
            "element_id": site.element_id,
            "device_id": site.device_id,
        },
        headers=h,
    )
    assert channel.status_code == 201
    response = client.post(
        URL, json={"readings": [reading("AIR", 0, 212.0, "degF")]}, headers=site.device_headers
    )
    assert response.status_code == 200, response.text
    assert stored(client, tenant, channel.json()["id"])[0]["mean"] == pytest.approx(100.0)


FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        (
            {"channel": "NOPE", "time": "2024-05-01T00:00:00Z", "value": 1},
            "readings[1].channel",
            "unknown channel",
        ),
        (
            {"channel": "VD-SETTLE", "time": "2024-13-01T00:00:00Z", "value": 1},
            "readings[1].time",
            "malformed time",
        ),
        (
            {"channel": "VD-SETTLE", "time": "yesterday", "value": 1},
            "readings[1].time",
            "malformed time",
        ),
        ({"channel": "VD-SETTLE", "time": 1714521600, "value": 1}, "readings[1].time", "ISO-8601"),
        ({"channel": "VD-SETTLE", "time": FUTURE, "value": 1}, "readings[1].time", "future"),
        (
            {"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z", "value": "1.5"},
            "readings[1].value",
            "must be a number",
        ),
        (
            {"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z", "value": None},
            "readings[1].value",
            "must be a number",
        ),
        (
            {
                "channel": "VD-SETTLE",
                "time": "2024-05-01T00:00:00Z",
                "value": 1,
                "unit": "furlongs/fortnight^",
            },
            "readings[1].unit",
            "unknown unit",
        ),
        (
            {"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z", "value": 1, "unit": "kg"},
            "readings[1].unit",
            "not compatible",
        ),
        (
            {"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z"},
            "readings[1]",
            'missing "value"',
        ),
        ("not an object", "readings[1]", "must be an object"),
    ],
)
def test_bad_reading_rejects_the_whole_batch(
    client: TestClient, tenant: Tenant, site: Site, item: object, field: str, message: str
) -> None:
    batch = {"readings": [reading("VD-SETTLE", 0, 1.0), item, reading("VD-SETTLE", 20, 2.0)]}
    response = client.post(URL, json=batch, headers=site.device_headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert message in response.json()["detail"]
    assert stored(client, tenant, site.settlement_channel_id) == []


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_json_values_are_refused(
    client: TestClient, tenant: Tenant, site: Site, literal: str
) -> None:
    body = '{"readings": [{"channel": "VD-SETTLE", "time": "2024-05-01T00:00:00Z", "value": %s}]}'
    response = client.post(
        URL,
        content=body % literal,
        headers={**site.device_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert stored(client, tenant, site.settlement_channel_id) == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("VD-SETTLE,2024-05-01T00:10:00Z,nan", "not a finite number"),
        ("VD-SETTLE,2024-05-01T00:10:00Z,inf", "not a finite number"),
        ("VD-SETTLE,2024-05-01T00:10:00Z,abc", "not a number"),
        ("VD-SETTLE,2024-05-01T00:10:00Z", "expected 3 or 4 fields"),
        ("VD-SETTLE,01/05/2024 00:10,1.0", "malformed time"),
    ],
)
def test_bad_csv_line_is_named(
    client: TestClient, tenant: Tenant, site: Site, line: str, message: str
) -> None:
    body = f"channel,time,value\nVD-SETTLE,2024-05-01T00:00:00Z,1.0\n{line}\n"
    response = client.post(
        URL, content=body, headers={**site.device_headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 422, response.text
    assert "CSV row 2" in response.json()["detail"]
    assert message in response.json()["detail"]
    assert stored(client, tenant, site.settlement_channel_id) == []


def test_batch_over_the_limit_is_413(platform: Platform, client: TestClient, site: Site) -> None:
    limit = platform.settings.max_batch_readings
    items = [reading("VD-SETTLE", m, 1.0) for m in range(limit + 1)]
    response = client.post(URL, json={"readings": items}, headers=site.device_headers)
    assert response.status_code == 413
    assert str(limit) in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_wrong_content_type_is_415(
    client: TestClient, site: Site, content_type: str | None
) -> None:
    headers = dict(site.device_headers)
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(URL, content=b"channel,time,value\n", headers=headers)
    assert response.status_code == 415
    assert "application/json or text/csv" in response.json()["detail"]


def test_malformed_json_is_422(client: TestClient, site: Site) -> None:
    response = client.post(
        URL,
        content=b'{"readings": [',
        headers={**site.device_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Basic abc", "Bearer isd_not-a-real-token", "Bearer isu_x"]
)
def test_missing_or_bad_token_is_401(
    client: TestClient, site: Site, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post(URL, json={"readings": [reading("VD-SETTLE", 0, 1.0)]}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.VIEWER, 403), (Role.INSPECTOR, 403), (Role.ENGINEER, 200), (Role.ADMIN, 200)],
)
def test_user_ingest_needs_engineer_role(
    client: TestClient, tenant: Tenant, site: Site, role: Role, status: int
) -> None:
    response = client.post(
        URL, json={"readings": [reading("VD-SETTLE", 0, 1.0)]}, headers=tenant.headers(role)
    )
    assert response.status_code == status


def test_device_may_only_write_its_own_channels(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    other = make_site(client, tenant, prefix="TN")
    response = client.post(
        URL, json={"readings": [reading("TN-SETTLE", 0, 1.0)]}, headers=site.device_headers
    )
    assert response.status_code == 422
    assert "not bound to this device" in response.json()["detail"]
    assert other.device_id != site.device_id


def test_channels_of_another_organisation_are_unknown(
    client: TestClient, site: Site, other_tenant: Tenant
) -> None:
    other = make_site(client, other_tenant, prefix="OT")
    response = client.post(
        URL, json={"readings": [reading("OT-SETTLE", 0, 1.0)]}, headers=site.device_headers
    )
    assert response.status_code == 422
    assert "unknown channel" in response.json()["detail"]
    assert other.asset_id != site.asset_id


def test_rotated_device_token_stops_working(client: TestClient, tenant: Tenant, site: Site) -> None:
    rotated = client.post(
        f"/api/v1/devices/{site.device_id}/token", headers=tenant.headers(Role.ENGINEER)
    )
    assert rotated.status_code == 200
    body = {"readings": [reading("VD-SETTLE", 0, 1.0)]}
    assert client.post(URL, json=body, headers=site.device_headers).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert client.post(URL, json=body, headers=fresh).status_code == 200


def test_event_announces_the_stored_batch(
    platform: Platform, client: TestClient, site: Site
) -> None:
    from infrasight.core.events import ReadingBatchStored

    seen: list[ReadingBatchStored] = []
    unsubscribe = platform.bus.subscribe(ReadingBatchStored, seen.append)
    batch = {
        "readings": [reading("VD-SETTLE", m, 1.0) for m in (0, 10)] + [reading("VD-STRAIN", 5, 3.0)]
    }
    assert client.post(URL, json=batch, headers=site.device_headers).status_code == 200
    unsubscribe()
    assert (
        client.post(
            URL, json={"readings": [reading("VD-SETTLE", 30, 1.0)]}, headers=site.device_headers
        ).status_code
        == 200
    )
    assert len(seen) == 1
    event = seen[0]
    assert event.accepted == 3
    assert set(event.channel_ids) == {site.settlement_channel_id, site.strain_channel_id}
    assert event.end_us - event.start_us == 10 * 60 * 1_000_000
