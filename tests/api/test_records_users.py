"""Waveform records, users and tokens, inspections, and the role / organisation matrix."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.platform import Platform
from tests.conftest import Site, Tenant, make_site


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def post_record(
    client: TestClient, headers: dict[str, str], data: bytes, name: str, **form: object
):
    fields = {
        "start_time": "2024-05-01T00:00:00Z",
        "sample_rate_hz": "100",
        **{k: str(v) for k, v in form.items()},
    }
    return client.post(
        "/api/v1/records", files={"file": (name, data)}, data=fields, headers=headers
    )


def test_record_round_trip_npy_and_csv(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(0, 0.01, (60_000, 3)).astype(np.float32)  # 10 minutes at 100 Hz
    response = post_record(
        client,
        site.device_headers,
        npy(samples),
        "block.npy",
        asset_id=site.asset_id,
        channel_names="ax,ay,az",
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["n_samples"], record["channel_names"], record["dtype"]) == (
        60_000,
        ["ax", "ay", "az"],
        "float32",
    )
    assert record["device_id"] == site.device_id
    data = client.get(f"/api/v1/records/{record['id']}/data", headers=tenant.headers(Role.VIEWER))
    assert np.array_equal(np.load(io.BytesIO(data.content)), samples)
    csv_text = client.get(
        f"/api/v1/records/{record['id']}/data", params={"format": "csv"}, headers=tenant.headers()
    ).text.splitlines()
    assert csv_text[0] == "time_s,ax,ay,az"
    assert float(csv_text[2].split(",")[0]) == pytest.approx(0.01)
    assert platform.jobs.run_pending() == 1
    job = client.get(f"/api/v1/jobs/{record['job_id']}", headers=tenant.headers()).json()
    assert job["status"] == "succeeded"
    assert job["result"]["rms"] == pytest.approx(samples.std(axis=0), rel=1e-3)


def test_csv_record_with_header(client: TestClient, tenant: Tenant, site: Site) -> None:
    body = b"north,east\n0.1,0.2\n0.3,0.4\n0.5,0.6\n"
    response = post_record(client, tenant.headers(), body, "r.csv", asset_id=site.asset_id)
    assert response.status_code == 201, response.text
    assert response.json()["channel_names"] == ["north", "east"]
    assert response.json()["n_samples"] == 3


@pytest.mark.parametrize(
    ("data", "name", "form", "field", "message"),
    [
        (b"\x93NUMPY garbage", "x.npy", {}, "file", "corrupt .npy"),
        (npy(np.array([[1.0, np.nan]])), "x.npy", {}, "file", "non-finite"),
        (npy(np.zeros((2, 2, 2))), "x.npy", {}, "file", "samples x channels"),
        (
            npy(np.zeros((4, 2))),
            "x.npy",
            {"channel_names": "a"},
            "channel_names",
            "1 channel names for 2",
        ),
        (b"a,b\n1,x\n", "x.csv", {}, "file", "non-numeric"),
        (npy(np.zeros((4, 2))), "x.npy", {"start_time": "soon"}, "start_time", "malformed time"),
        (npy(np.zeros((4, 2))), "x.npy", {"unit": "kg"}, "unit", "cannot measure acceleration"),
    ],
)
def test_bad_records_are_refused(
    client: TestClient,
    tenant: Tenant,
    site: Site,
    data: bytes,
    name: str,
    form: dict[str, object],
    field: str,
    message: str,
) -> None:
    response = post_record(client, tenant.headers(), data, name, asset_id=site.asset_id, **form)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and message in response.json()["detail"]
    assert client.get("/api/v1/records", headers=tenant.headers()).json()["total"] == 0


def test_users_and_tokens(client: TestClient, tenant: Tenant) -> None:
    me = client.get("/api/v1/users/me", headers=tenant.headers(Role.VIEWER)).json()
    assert me["role"] == "viewer" and me["organization"] == "Alpha Rail"
    created = client.post(
        "/api/v1/users",
        json={"email": "New.Person@Alpha.example", "role": "inspector"},
        headers=tenant.headers(),
    )
    assert created.status_code == 201
    user = created.json()
    assert user["email"] == "new.person@alpha.example"
    headers = {"Authorization": f"Bearer {user['token']}"}
    assert client.get("/api/v1/users/me", headers=headers).json()["role"] == "inspector"
    assert (
        client.post(
            "/api/v1/users", json={"email": "x@y.example", "role": "viewer"}, headers=headers
        ).status_code
        == 403
    )
    duplicate = client.post(
        "/api/v1/users",
        json={"email": "new.person@alpha.example", "role": "viewer"},
        headers=tenant.headers(),
    )
    assert duplicate.status_code == 409
    bad = client.post(
        "/api/v1/users", json={"email": "not-an-email", "role": "viewer"}, headers=tenant.headers()
    )
    assert bad.status_code == 422
    assert (
        client.delete(f"/api/v1/users/{user['id']}/tokens", headers=tenant.headers()).status_code
        == 204
    )
    assert client.get("/api/v1/users/me", headers=headers).status_code == 401
    promoted = client.patch(
        f"/api/v1/users/{user['id']}", json={"role": "engineer"}, headers=tenant.headers()
    )
    assert promoted.json()["role"] == "engineer"


def test_inspection_lifecycle(client: TestClient, tenant: Tenant, site: Site) -> None:
    h = tenant.headers(Role.INSPECTOR)
    created = client.post(
        "/api/v1/inspections",
        json={"asset_id": site.asset_id, "kind": "robot_run", "started_at": "2024-05-01T08:00:00Z"},
        headers=h,
    )
    assert created.status_code == 201
    inspection_id = created.json()["id"]
    bad = client.patch(
        f"/api/v1/inspections/{inspection_id}", json={"ended_at": "2024-05-01T07:00:00Z"}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["field"] == "ended_at"
    done = client.patch(
        f"/api/v1/inspections/{inspection_id}",
        json={"status": "completed", "ended_at": "2024-05-01T09:30:00Z"},
        headers=h,
    )
    assert done.json()["status"] == "completed"


# (method, path template, json body or None, least role that may do it)
MATRIX = [
    ("GET", "/api/v1/assets/{asset}", None, Role.VIEWER),
    ("PATCH", "/api/v1/assets/{asset}", {"description": "x"}, Role.ENGINEER),
    ("GET", "/api/v1/assets/{asset}/elements", None, Role.VIEWER),
    ("POST", "/api/v1/assets/{asset}/elements", {"name": "E", "kind": "span"}, Role.ENGINEER),
    ("GET", "/api/v1/elements/{element}", None, Role.VIEWER),
    ("PATCH", "/api/v1/elements/{element}", {"material": "steel"}, Role.ENGINEER),
    ("GET", "/api/v1/devices/{device}", None, Role.VIEWER),
    ("PATCH", "/api/v1/devices/{device}", {"model": "CR1000X"}, Role.ENGINEER),
    ("GET", "/api/v1/devices/{device}/calibrations", None, Role.VIEWER),
    (
        "POST",
        "/api/v1/devices/{device}/calibrations",
        {"kind": "gain", "parameters": {}},
        Role.ENGINEER,
    ),
    ("GET", "/api/v1/channels/{channel}", None, Role.VIEWER),
    ("GET", "/api/v1/channels/{channel}/readings", None, Role.VIEWER),
    ("PATCH", "/api/v1/channels/{channel}", {"description": "x"}, Role.ENGINEER),
    ("DELETE", "/api/v1/channels/{channel}", None, Role.ADMIN),
]


@pytest.mark.parametrize(("method", "path", "body", "least"), MATRIX)
def test_role_and_organisation_matrix(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    site: Site,
    method: str,
    path: str,
    body: dict[str, object] | None,
    least: Role,
) -> None:
    url = path.format(
        asset=site.asset_id,
        element=site.element_id,
        device=site.device_id,
        channel=site.strain_channel_id,
    )
    order = [Role.VIEWER, Role.INSPECTOR, Role.ENGINEER, Role.ADMIN]
    # Another organisation never sees the object, whatever its role: 404.
    foreign = client.request(method, url, json=body, headers=other_tenant.headers(Role.ADMIN))
    assert foreign.status_code == 404, foreign.text
    for role in order:
        response = client.request(method, url, json=body, headers=tenant.headers(role))
        allowed = order.index(role) >= order.index(least)
        if allowed:
            assert response.status_code in (200, 201, 204), (role, response.text)
            if method == "DELETE":
                break
        else:
            assert response.status_code == 403, (role, response.text)
            assert role.value in response.json()["detail"]


def test_listings_never_show_another_organisation(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, site: Site
) -> None:
    make_site(client, other_tenant, prefix="OT")
    for path in ("assets", "devices", "channels", "captures", "records", "inspections", "jobs"):
        mine = client.get(f"/api/v1/{path}", headers=tenant.headers()).json()
        theirs = client.get(f"/api/v1/{path}", headers=other_tenant.headers()).json()
        mine_ids = {item["id"] for item in mine["items"]}
        their_ids = {item["id"] for item in theirs["items"]}
        if path in ("assets", "devices", "channels"):
            assert mine_ids and their_ids and not (mine_ids & their_ids), path
    assert site.asset_id in {
        a["id"] for a in client.get("/api/v1/assets", headers=tenant.headers()).json()["items"]
    }


def test_openapi_documents_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/assets",
        "/api/v1/ingest/readings",
        "/api/v1/captures",
        "/api/v1/channels/{channel_id}/readings",
        "/api/v1/records/{record_id}/data",
    ):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200
