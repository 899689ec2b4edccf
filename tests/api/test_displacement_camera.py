"""A camera becomes a displacement sensor: its captures are tracked into readings."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.synthetic.speckle import speckle_field, speckle_image
from tests.conftest import Site, Tenant


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def camera(client: TestClient, tenant: Tenant, site: Site) -> dict[str, object]:
    h = tenant.headers(Role.ENGINEER)
    device = client.post(
        "/api/v1/devices",
        json={"name": "CAM-1", "kind": "camera", "asset_id": site.asset_id},
        headers=h,
    ).json()
    for key in ("P2-DX", "P2-DY"):
        created = client.post(
            "/api/v1/channels",
            json={
                "key": key,
                "quantity": "displacement",
                "unit": "mm",
                "element_id": site.element_id,
            },
            headers=h,
        )
        assert created.status_code == 201
    return device


def upload(
    client: TestClient, token: str, site: Site, image: np.ndarray, time: str
) -> dict[str, object]:
    response = client.post(
        "/api/v1/captures",
        files={"file": ("frame.png", png(image))},
        data={"asset_id": str(site.asset_id), "time": time, "mm_per_px": "0.5"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_tracked_targets_become_readings_in_mm(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site, camera: dict[str, object]
) -> None:
    spectrum = speckle_field(256, 256, seed=5, speckle_px=4.0)
    token = str(camera["token"])
    reference = upload(client, token, site, speckle_image(spectrum), "2024-05-01T00:00:00Z")
    config = {
        "kind": "displacement_tracking",
        "parameters": {
            "reference_capture_id": reference["id"],
            "targets": [{"roi": [96, 96, 64, 64], "channel_dx": "P2-DX", "channel_dy": "P2-DY"}],
        },
        "valid_from": "2024-01-01T00:00:00Z",
    }
    created = client.post(
        f"/api/v1/devices/{camera['id']}/calibrations", json=config, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    upload(client, token, site, speckle_image(spectrum, shift=(2.3, -1.2)), "2024-05-01T01:00:00Z")
    platform.jobs.run_pending()
    h = tenant.headers(Role.VIEWER)
    channels = {
        c["key"]: c["id"] for c in client.get("/api/v1/channels", headers=h).json()["items"]
    }
    dx = client.get(f"/api/v1/channels/{channels['P2-DX']}/readings", headers=h).json()["points"]
    dy = client.get(f"/api/v1/channels/{channels['P2-DY']}/readings", headers=h).json()["points"]
    assert len(dx) == 1 and dx[0]["time"].startswith("2024-05-01T01:00:00")
    assert dx[0]["mean"] == pytest.approx(2.3 * 0.5, abs=0.01)
    assert dy[0]["mean"] == pytest.approx(-1.2 * 0.5, abs=0.01)


@pytest.mark.parametrize(
    ("parameters", "field", "message"),
    [
        (
            {"reference_capture_id": 999, "targets": []},
            "parameters.reference_capture_id",
            "not found",
        ),
        ({"targets": []}, "parameters.reference_capture_id", "not found"),
    ],
)
def test_bad_tracking_configuration_is_422(
    client: TestClient,
    tenant: Tenant,
    camera: dict[str, object],
    parameters: dict[str, object],
    field: str,
    message: str,
) -> None:
    response = client.post(
        f"/api/v1/devices/{camera['id']}/calibrations",
        json={"kind": "displacement_tracking", "parameters": parameters},
        headers=tenant.headers(),
    )
    assert response.status_code == 422
    assert response.json()["field"] == field and message in response.json()["detail"]


def test_tracking_targets_are_validated(
    client: TestClient, tenant: Tenant, site: Site, camera: dict[str, object]
) -> None:
    spectrum = speckle_field(128, 128, seed=1)
    reference = upload(
        client, str(camera["token"]), site, speckle_image(spectrum), "2024-05-01T00:00:00Z"
    )
    url = f"/api/v1/devices/{camera['id']}/calibrations"
    cases = [
        (
            [{"roi": [100, 100, 64, 64], "channel_dx": "P2-DX", "channel_dy": "P2-DY"}],
            "leaves the reference",
        ),
        ([{"roi": [0, 0, 3, 64], "channel_dx": "P2-DX", "channel_dy": "P2-DY"}], "w, h >= 5"),
        (
            [{"roi": [0, 0, 32, 32], "channel_dx": "VD-STRAIN", "channel_dy": "P2-DY"}],
            "not displacement",
        ),
        ([{"roi": [0, 0, 32, 32], "channel_dx": "NOPE", "channel_dy": "P2-DY"}], "unknown channel"),
    ]
    for targets, message in cases:
        body = {
            "kind": "displacement_tracking",
            "parameters": {"reference_capture_id": reference["id"], "targets": targets},
        }
        response = client.post(url, json=body, headers=tenant.headers())
        assert response.status_code == 422, targets
        assert message in response.json()["detail"]
    scale = client.post(
        url, json={"kind": "scale", "parameters": {"mm_per_px": -2}}, headers=tenant.headers()
    )
    assert scale.status_code == 422
