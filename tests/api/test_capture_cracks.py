"""Captures are analysed for cracks in the background: Defects with geometry and mm measurements."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.synthetic import render_crack_scene
from infrasight.vision.cracks import CrackSegmenter
from tests.conftest import Site, Tenant
from tests.helpers import png, upload_crack_capture


@pytest.fixture
def scene_capture(client: TestClient, tenant: Tenant, site: Site) -> dict[str, object]:
    response, scene = upload_crack_capture(
        client, tenant.headers(Role.INSPECTOR), site.asset_id, element_id=site.element_id
    )
    assert response.status_code == 201
    return {"capture": response.json(), "scene": scene}


def test_cracks_become_defects_measured_in_mm(
    platform: Platform, client: TestClient, tenant: Tenant, scene_capture: dict[str, object]
) -> None:
    capture = scene_capture["capture"]
    scene = scene_capture["scene"]
    assert platform.jobs.run_pending() == 1
    h = tenant.headers(Role.VIEWER)
    defects = client.get(f"/api/v1/captures/{capture['id']}/defects", headers=h).json()
    assert defects, "the rendered crack was not found"
    main = max(defects, key=lambda d: d["geometry"]["pixel_count"])
    assert main["kind"] == "crack" and 0 < main["confidence"] <= 1
    assert main["model_version"] == CrackSegmenter().model_version
    measured = main["measurements"]
    assert measured["unit"] == "mm"
    true_length_mm = scene.true_length_mm
    assert measured["length"]["value"] == pytest.approx(true_length_mm, rel=0.05)
    true_max_mm = scene.true_max_width_px * 0.1
    assert measured["width_max"]["value"] == pytest.approx(true_max_mm, rel=0.2)
    assert measured["length"]["std"] > 0
    overlay = client.get(f"/api/v1/captures/{capture['id']}/overlay", headers=h)
    assert overlay.status_code == 200 and overlay.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(overlay.content)).size == (640, 480)


def test_new_model_version_keeps_earlier_results(
    platform: Platform,
    client: TestClient,
    tenant: Tenant,
    scene_capture: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture_id = scene_capture["capture"]["id"]
    platform.jobs.run_pending()
    first = client.get(f"/api/v1/captures/{capture_id}/defects", headers=tenant.headers()).json()

    class NextModel(CrackSegmenter):
        @property
        def model_version(self) -> str:
            return "9.9.9-test"

    monkeypatch.setattr("infrasight.services.crack_analysis.default_segmenter", lambda: NextModel())
    queued = client.post(
        f"/api/v1/captures/{capture_id}/analyse", headers=tenant.headers(Role.ENGINEER)
    )
    assert queued.status_code == 202
    platform.jobs.run_pending()
    every = client.get(f"/api/v1/captures/{capture_id}/defects", headers=tenant.headers()).json()
    versions = {d["model_version"] for d in every}
    assert versions == {first[0]["model_version"], "9.9.9-test"}
    assert len(every) == 2 * len(first)
    newest = client.get(
        f"/api/v1/captures/{capture_id}/defects",
        params={"model_version": "9.9.9-test"},
        headers=tenant.headers(),
    ).json()
    assert len(newest) == len(first)
    again = client.post(f"/api/v1/captures/{capture_id}/analyse", headers=tenant.headers())
    platform.jobs.run_pending()
    assert again.status_code == 202
    assert len(
        client.get(f"/api/v1/captures/{capture_id}/defects", headers=tenant.headers()).json()
    ) == len(every)
    old_overlay = client.get(
        f"/api/v1/captures/{capture_id}/overlay",
        params={"model_version": first[0]["model_version"]},
        headers=tenant.headers(),
    )
    assert old_overlay.status_code == 200
    missing = client.get(
        f"/api/v1/captures/{capture_id}/overlay",
        params={"model_version": "0.0.1"},
        headers=tenant.headers(),
    )
    assert missing.status_code == 404


def test_crack_free_surface_gives_no_defects(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    rng = np.random.default_rng(0)
    plain = np.clip(150 + rng.normal(0, 6, (320, 480, 3)), 0, 255).astype(np.uint8)
    capture = client.post(
        "/api/v1/captures",
        files={"file": ("plain.png", png(plain))},
        data={"asset_id": str(site.asset_id)},
        headers=tenant.headers(),
    ).json()
    platform.jobs.run_pending()
    assert (
        client.get(f"/api/v1/captures/{capture['id']}/defects", headers=tenant.headers()).json()
        == []
    )
    analyses = client.get(
        f"/api/v1/captures/{capture['id']}/analyses", headers=tenant.headers()
    ).json()
    crack = next(a for a in analyses if a["model_name"] == "crack-segmentation")
    assert crack["summary"]["crack_fraction"] < 0.001


def test_marker_in_view_scales_the_crack_measurements(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    h = tenant.headers(Role.ENGINEER)
    camera = client.post(
        "/api/v1/devices",
        json={"name": "CAM-M", "kind": "camera", "asset_id": site.asset_id},
        headers=h,
    ).json()
    bad = client.post(
        f"/api/v1/devices/{camera['id']}/calibrations",
        json={"kind": "marker", "parameters": {"marker_mm": -5}},
        headers=h,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "parameters.marker_mm"
    marker = client.post(
        f"/api/v1/devices/{camera['id']}/calibrations",
        json={
            "kind": "marker",
            "parameters": {"marker_mm": 40.0, "dictionary": "DICT_4X4_50"},
            "valid_from": "2020-01-01T00:00:00Z",
        },
        headers=h,
    )
    assert marker.status_code == 201, marker.text
    scene = render_crack_scene(
        width=800,
        height=600,
        seed=4,
        n_cracks=1,
        branch_probability=0.0,
        width_range_px=(3.0, 6.0),
        mm_per_px=0.5,
        marker_mm=40.0,
    )
    response = client.post(
        "/api/v1/captures",
        files={"file": ("wall.png", png(scene.image))},
        data={"asset_id": str(site.asset_id), "time": "2024-05-01T00:00:00Z"},
        headers={"Authorization": f"Bearer {camera['token']}"},
    )
    assert response.status_code == 201
    platform.jobs.run_pending()
    defects = client.get(f"/api/v1/captures/{response.json()['id']}/defects", headers=h).json()
    main = max(defects, key=lambda d: d["geometry"]["pixel_count"])
    measured = main["measurements"]
    assert measured["unit"] == "mm" and measured["scale"]["source"] == "marker"
    assert measured["scale"]["mm_per_px"] == pytest.approx(0.5, rel=0.01)
    assert measured["length"]["value"] == pytest.approx(scene.true_length_mm, rel=0.02)
    assert len(defects) == 1  # the marker's dark square is not reported as a crack


def test_lens_distortion_is_removed_before_analysis(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    h = tenant.headers(Role.ENGINEER)
    camera = client.post(
        "/api/v1/devices",
        json={"name": "CAM-L", "kind": "camera", "asset_id": site.asset_id},
        headers=h,
    ).json()
    intrinsics = {
        "camera_matrix": [[700.0, 0.0, 320.0], [0.0, 700.0, 240.0], [0.0, 0.0, 1.0]],
        "dist_coeffs": [-0.2, 0.05, 0.0, 0.0, 0.0],
        "image_size": [640, 480],
        "rms_px": 0.2,
        "n_views": 12,
        "intrinsics_std": [1.0, 1.0, 0.5, 0.5],
    }
    created = client.post(
        f"/api/v1/devices/{camera['id']}/calibrations",
        json={
            "kind": "camera_intrinsics",
            "parameters": intrinsics,
            "valid_from": "2020-01-01T00:00:00Z",
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    broken = client.post(
        f"/api/v1/devices/{camera['id']}/calibrations",
        json={"kind": "camera_intrinsics", "parameters": {"camera_matrix": [[1, 0], [0, 1]]}},
        headers=h,
    )
    assert broken.status_code == 422
    token = {"Authorization": f"Bearer {camera['token']}"}
    ids = []
    for width, height in ((640, 480), (320, 240)):  # the second size does not match the calibration
        scene = render_crack_scene(
            width=width, height=height, seed=9, n_cracks=1, width_range_px=(3.0, 5.0)
        )
        response = client.post(
            "/api/v1/captures",
            files={"file": ("f.png", png(scene.image))},
            data={
                "asset_id": str(site.asset_id),
                "time": "2024-05-01T00:00:00Z",
                "mm_per_px": "0.2",
            },
            headers=token,
        )
        ids.append(response.json()["id"])
    platform.jobs.run_pending()
    flags = []
    for capture_id in ids:
        analyses = client.get(f"/api/v1/captures/{capture_id}/analyses", headers=h).json()
        flags.append(
            next(a for a in analyses if a["model_name"] == "image-quality")["summary"][
                "undistorted"
            ]
        )
    assert flags == [1.0, 0.0]
    assert client.get(f"/api/v1/captures/{ids[0]}/defects", headers=h).json()
    assert client.get(f"/api/v1/captures/{ids[0]}/overlay", headers=h).status_code == 200
