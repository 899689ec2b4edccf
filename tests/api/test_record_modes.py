"""Vibration records are identified (SSI-COV) in the background; each mode is tracked."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.signals.simulate import modal_response
from tests.conftest import Site, Tenant

SHAPES = np.array([[1.0, 0.6], [0.8, -0.4], [0.5, -1.0], [0.2, 0.9]])


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array.astype(np.float32))
    return out.getvalue()


def post(client: TestClient, tenant: Tenant, site: Site, data: np.ndarray, start: str) -> int:
    response = client.post(
        "/api/v1/records",
        files={"file": ("block.npy", npy(data))},
        data={
            "asset_id": str(site.asset_id),
            "start_time": start,
            "sample_rate_hz": "50",
            "element_id": str(site.element_id),
        },
        headers=tenant.headers(Role.ENGINEER),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_modes_are_identified_and_a_frequency_drop_is_tracked(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    rng = np.random.default_rng(4)
    healthy, _ = modal_response(
        rng,
        n_samples=12_000,
        fs=50.0,
        frequencies_hz=(2.0, 5.5),
        damping_ratios=(0.01, 0.015),
        n_channels=4,
        mode_shapes=SHAPES,
    )
    damaged, _ = modal_response(
        rng,
        n_samples=12_000,
        fs=50.0,
        frequencies_hz=(1.9, 5.5),
        damping_ratios=(0.01, 0.015),
        n_channels=4,
        mode_shapes=SHAPES,
    )
    first = post(client, tenant, site, healthy, "2024-05-01T00:00:00Z")
    second = post(client, tenant, site, damaged, "2024-05-02T00:00:00Z")
    assert platform.jobs.run_pending() == 2
    h = tenant.headers(Role.VIEWER)
    modes = client.get(f"/api/v1/records/{first}/modes", headers=h).json()
    assert modes["status"] == "succeeded"
    frequencies = [m["frequency_hz"] for m in modes["modes"]]
    assert frequencies == pytest.approx([2.0, 5.5], rel=0.01)
    tracked = client.get(f"/api/v1/records/{second}/modes", headers=h).json()[
        "tracked_frequencies_hz"
    ]
    assert tracked == pytest.approx([1.9, 5.5], rel=0.01)
    channels = {c["key"]: c for c in client.get("/api/v1/channels", headers=h).json()["items"]}
    mode1 = channels[f"A{site.asset_id}-MODE1-FREQ"]
    assert (mode1["quantity"], mode1["unit"]) == ("frequency", "Hz")
    points = client.get(f"/api/v1/channels/{mode1['id']}/readings", headers=h).json()["points"]
    assert [p["mean"] for p in points] == pytest.approx([2.0, 1.9], rel=0.01)


def test_short_or_non_vibration_records_are_marked_not_enough_data(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    record = post(
        client, tenant, site, np.random.default_rng(0).normal(size=(500, 3)), "2024-05-01T00:00:00Z"
    )
    platform.jobs.run_pending()
    modes = client.get(f"/api/v1/records/{record}/modes", headers=tenant.headers()).json()
    assert modes["modes"] == [] and "not enough data" in modes["note"]


def test_reference_can_be_chosen(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    rng = np.random.default_rng(8)
    data, _ = modal_response(
        rng,
        n_samples=8_000,
        fs=50.0,
        frequencies_hz=(3.0,),
        damping_ratios=(0.01,),
        n_channels=4,
        mode_shapes=SHAPES[:, :1],
    )
    record = post(client, tenant, site, data, "2024-05-01T00:00:00Z")
    platform.jobs.run_pending()
    url = f"/api/v1/assets/{site.asset_id}/modal-reference"
    ok = client.put(url, json={"record_id": record}, headers=tenant.headers())
    assert ok.status_code == 200 and ok.json()["modes"][0]["frequency_hz"] == pytest.approx(
        3.0, rel=0.01
    )
    assert (
        client.put(url, json={"record_id": record}, headers=tenant.headers(Role.VIEWER)).status_code
        == 403
    )
    missing = client.put(url, json={"record_id": 999}, headers=tenant.headers())
    assert missing.status_code == 422 and missing.json()["field"] == "record_id"
