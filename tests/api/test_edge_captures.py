"""POST /api/v1/devices/captures: a capture a terminal analysed itself, stored once per key."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from infrasight.core.domain import Role
from infrasight.platform import Platform
from infrasight.storage.models import Capture, CaptureAnalysis, Defect, Job
from tests.conftest import Site, Tenant, make_site

URL = "/api/v1/devices/captures"


def _jpeg(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _body(key: str = "cam-1:abc", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key,
        "camera": "cam-1",
        "time": "2024-05-01T12:00:00Z",
        "model_version": "1.0.0",
        "summary": {"threshold": 0.5, "frame_px": [96, 64]},
        "image": _b64(_jpeg(1)),
        "image_kind": "original",
        "mm_per_px": 0.2,
        "defects": [
            {
                "confidence": 0.91,
                "geometry": {"bbox": [10, 12, 40, 6], "polyline_px": [[10, 14], [50, 15]]},
                "measurements": {"length": {"value": 8.0, "std": 0.1, "unit": "mm"}},
                "thumbnail": _b64(_jpeg(2, (48, 32))),
            },
            {
                "confidence": 0.62,
                "geometry": {"bbox": [60, 40, 20, 20]},
                "measurements": {"error": "too short to measure"},
            },
        ],
    }
    body.update(changes)
    return body


def test_device_sends_a_capture_with_defects_stored_once(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site
) -> None:
    answer = client.post(URL, json=_body(), headers=site.device_headers)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert (created["duplicate"], created["defects"]) == (False, 2)
    capture_id = created["capture_id"]
    again = client.post(URL, json=_body(), headers=site.device_headers)  # a lost answer: resend
    assert again.status_code == 200, again.text
    assert again.json() == {"capture_id": capture_id, "duplicate": True, "defects": 2}

    h = tenant.headers(Role.VIEWER)
    listed = client.get("/api/v1/captures", params={"asset_id": site.asset_id}, headers=h).json()
    assert [c["id"] for c in listed["items"]] == [capture_id]
    capture = listed["items"][0]
    assert (capture["device_id"], capture["width"], capture["height"]) == (site.device_id, 96, 64)
    assert capture["mm_per_px"] == 0.2
    assert capture["time"].startswith("2024-05-01T12:00:00")
    image = client.get(f"/api/v1/captures/{capture_id}/original", headers=h)
    assert image.content == _jpeg(1)  # the original, byte for byte
    defects = client.get(f"/api/v1/captures/{capture_id}/defects", headers=h).json()
    assert [d["confidence"] for d in defects] == [0.91, 0.62]
    assert defects[0]["measurements"]["length"]["value"] == 8.0
    assert defects[0]["model_version"] == "1.0.0"
    thumb = defects[0]["geometry"]["thumbnail_sha256"]
    assert platform.blobs.get(thumb) == _jpeg(2, (48, 32))
    assert "thumbnail_sha256" not in defects[1]["geometry"]
    analyses = client.get(f"/api/v1/captures/{capture_id}/analyses", headers=h).json()
    assert len(analyses) == 1
    assert analyses[0]["summary"]["analysed_on"] == "edge"
    assert analyses[0]["summary"]["cracks"] == 2
    with platform.database.session() as session:
        assert session.query(Capture).count() == 1
        assert session.query(Defect).count() == 2
        assert session.query(CaptureAnalysis).count() == 1
        assert session.query(Job).count() == 0  # analysed on the terminal: no server job


def test_preview_capture_has_no_scale_of_its_own(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    answer = client.post(
        URL,
        json=_body(
            image=_b64(_jpeg(3, (48, 32))), image_kind="preview", element_id=site.element_id
        ),
        headers=site.device_headers,
    )
    assert answer.status_code == 201, answer.text
    capture = client.get(
        f"/api/v1/captures/{answer.json()['capture_id']}", headers=tenant.headers()
    ).json()
    assert (capture["width"], capture["mm_per_px"], capture["element_id"]) == (
        48,
        None,
        site.element_id,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"image": "not base64!"}, "image"),
        ({"image": _b64(b"not an image")}, "image"),
        ({"key": ""}, "key"),
        ({"time": 1714564800}, "time"),
        ({"image_kind": "raw"}, "image_kind"),
        ({"asset_id": 999999}, "asset_id"),
        ({"defects": [{"confidence": 1.5, "geometry": {}, "measurements": {}}]}, "confidence"),
        (
            {
                "defects": [
                    {"confidence": 0.5, "geometry": {}, "measurements": {}, "thumbnail": "eHk="}
                ]
            },
            "defects[0].thumbnail",
        ),
    ],
)
def test_bad_capture_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, platform: Platform, site: Site, changes: dict[str, Any], field: str
) -> None:
    answer = client.post(URL, json=_body(**changes), headers=site.device_headers)
    assert 400 <= answer.status_code < 500, answer.text
    assert field in answer.text
    with platform.database.session() as session:
        assert session.query(Capture).count() == 0
        assert session.query(Defect).count() == 0


def test_only_a_device_token_may_send_and_only_to_its_organisation(
    client: TestClient, platform: Platform, tenant: Tenant, site: Site
) -> None:
    user = client.post(URL, json=_body(), headers=tenant.headers(Role.ADMIN))
    assert user.status_code == 403, user.text
    other = make_site(client, tenant, prefix="TN")
    other_asset = client.post(URL, json=_body(asset_id=other.asset_id), headers=site.device_headers)
    assert other_asset.status_code == 201  # same organisation: any of its assets
    anonymous = client.post(URL, json=_body(key="k2"))
    assert anonymous.status_code == 401


def test_same_key_from_two_devices_is_two_captures(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    other = make_site(client, tenant, prefix="TN")
    first = client.post(URL, json=_body(), headers=site.device_headers)
    second = client.post(URL, json=_body(), headers=other.device_headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["capture_id"] != second.json()["capture_id"]
