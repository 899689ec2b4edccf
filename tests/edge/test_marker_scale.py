"""Marker calibration on the terminal: a camera with an ArUco marker of known size in view
measures each frame's scale from it with the server's own path, so the terminal's millimetres
are the server's for the same image; a frame where the marker is hidden falls back to the
camera's ``mm_per_px`` and says why."""

from __future__ import annotations

import io

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError

from infrasight.core.domain import Role
from infrasight.edge.analysis import CrackAnalyser, frame_scale
from infrasight.edge.cameras import Frame
from infrasight.edge.remote import CameraSource, MarkerSettings
from infrasight.platform import Platform
from infrasight.synthetic import render_crack_scene
from infrasight.synthetic.crack_scene import RenderedCrackScene
from tests.conftest import Site, Tenant

BASE_S = 1_714_564_800.0


def _scene() -> RenderedCrackScene:
    return render_crack_scene(
        width=800,
        height=600,
        seed=4,
        n_cracks=1,
        branch_probability=0.0,
        width_range_px=(3.0, 6.0),
        mm_per_px=0.5,
        marker_mm=40.0,
    )


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _server_defects(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site, image: np.ndarray
) -> list[dict[str, object]]:
    """The server's analysis of ``image`` from a camera with a 40 mm marker calibration."""
    h = tenant.headers(Role.ENGINEER)
    camera = client.post(
        "/api/v1/devices",
        json={"name": "CAM-M", "kind": "camera", "asset_id": site.asset_id},
        headers=h,
    ).json()
    made = client.post(
        f"/api/v1/devices/{camera['id']}/calibrations",
        json={
            "kind": "marker",
            "parameters": {"marker_mm": 40.0, "dictionary": "DICT_4X4_50"},
            "valid_from": "2020-01-01T00:00:00Z",
        },
        headers=h,
    )
    assert made.status_code == 201, made.text
    r = client.post(
        "/api/v1/captures",
        files={"file": ("wall.png", _png(image))},
        data={"asset_id": str(site.asset_id), "time": "2024-05-01T00:00:00Z"},
        headers={"Authorization": f"Bearer {camera['token']}"},
    )
    assert r.status_code == 201, r.text
    platform.jobs.run_pending()
    defects: list[dict[str, object]] = client.get(
        f"/api/v1/captures/{r.json()['id']}/defects", headers=h
    ).json()
    return defects


@pytest.mark.slow
def test_terminal_scale_from_the_marker_is_the_servers(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site
) -> None:
    scene = _scene()
    camera = CameraSource(
        name="pier-2",
        source="/unused",
        marker=MarkerSettings(marker_mm=40.0),
        send_original="always",
    )
    item = CrackAnalyser(bounded_memory=False).analyse(
        camera,
        Frame(pixels=scene.image, taken_at=BASE_S, label="f"),
    )
    assert item is not None
    body = orjson.loads(item.body)
    assert body["summary"]["scale"]["source"] == "marker"
    assert body["mm_per_px"] == pytest.approx(0.5, rel=0.01)
    (defect,) = body["defects"]  # the marker's dark square is not reported as a crack
    length = defect["measurements"]["length"]
    assert length["unit"] == "mm"
    assert length["value"] == pytest.approx(scene.true_length_mm, rel=0.02)

    server = _server_defects(client, platform, tenant, site, scene.image)
    main = max(server, key=lambda d: d["geometry"]["pixel_count"])  # type: ignore[index]
    measured = main["measurements"]
    assert measured["scale"]["source"] == "marker"  # type: ignore[index]
    assert length["value"] == pytest.approx(measured["length"]["value"], rel=1e-6)  # type: ignore[index]
    assert defect["measurements"]["width_max"]["value"] == pytest.approx(
        measured["width_max"]["value"],  # type: ignore[index]
        rel=1e-6,
    )

    sent = client.post("/api/v1/devices/captures", json=body, headers=site.device_headers)
    assert sent.status_code == 201, sent.text
    capture = client.get(
        f"/api/v1/captures/{sent.json()['capture_id']}", headers=tenant.headers()
    ).json()
    assert capture["mm_per_px"] == pytest.approx(0.5, rel=0.01)


def test_hidden_marker_falls_back_to_the_cameras_scale() -> None:
    scene = _scene()
    image = np.array(scene.image)
    corners = np.asarray(scene.marker_corners_px)
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 8
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 8
    image[max(y0, 0) : y1, max(x0, 0) : x1] = np.median(image, axis=(0, 1)).astype(np.uint8)
    camera = CameraSource(
        name="pier-2", source="/unused", marker=MarkerSettings(marker_mm=40.0), mm_per_px=0.45
    )
    scale, exclude, error = frame_scale(camera, image)
    assert scale is not None and scale.source == "user" and scale.mm_per_px == 0.45
    assert exclude is None and error is not None and "marker" in error.lower()
    found, area, none = frame_scale(camera, scene.image)
    assert found is not None and found.source == "marker" and none is None
    assert area is not None and area[int(corners[:, 1].mean()), int(corners[:, 0].mean())]
    no_scale = CameraSource(name="c", source="/unused", marker=MarkerSettings(marker_mm=40.0))
    assert frame_scale(no_scale, image)[0] is None


def test_marker_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="marker_mm"):
        MarkerSettings(marker_mm=0.0)
    with pytest.raises(ValidationError, match="dictionary"):
        MarkerSettings(marker_mm=40.0, dictionary="4x4")
    with pytest.raises(ValidationError, match="extra"):
        CameraSource.model_validate(
            {"name": "c", "source": "usb:0", "marker": {"marker_mm": 40, "size": 3}}
        )
