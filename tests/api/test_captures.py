"""POST/GET /api/v1/captures: formats, orientation, content addressing, bad images, analysis."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from infrasight.api.app import create_app
from infrasight.core.domain import Role
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from tests.conftest import Site, Tenant, make_site

URL = "/api/v1/captures"


def encode(array: np.ndarray, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt, **options)
    return out.getvalue()


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)


def noise() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 255, (120, 160, 3), dtype=np.uint8)


def upload(client: TestClient, headers: dict[str, str], data: bytes, name: str, **form: object):
    files = {"file": (name, data, "application/octet-stream")}
    return client.post(URL, files=files, data={k: str(v) for k, v in form.items()}, headers=headers)


def blob_files(platform: Platform) -> list[Path]:
    return [p for p in platform.settings.blob_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("data", "media_type", "depth", "bands"),
    [
        (encode(gradient(), "PNG"), "image/png", 8, 3),
        (encode(gradient(), "JPEG", quality=95), "image/jpeg", 8, 3),
        (encode(gradient(), "TIFF"), "image/tiff", 8, 3),
        (
            encode((np.arange(48 * 64).reshape(48, 64) * 20).astype(np.uint16), "TIFF"),
            "image/tiff",
            16,
            1,
        ),
        (
            encode((np.arange(48 * 64).reshape(48, 64) * 20).astype(np.uint16), "PNG"),
            "image/png",
            16,
            1,
        ),
        (
            encode(np.dstack([gradient(), np.full((48, 64), 200, np.uint8)]), "PNG"),
            "image/png",
            8,
            4,
        ),
        (encode(gradient()[..., 0], "PNG"), "image/png", 8, 1),
    ],
)
def test_supported_formats(
    client: TestClient,
    tenant: Tenant,
    site: Site,
    data: bytes,
    media_type: str,
    depth: int,
    bands: int,
) -> None:
    response = upload(
        client, tenant.headers(Role.INSPECTOR), data, "img", asset_id=site.asset_id, mm_per_px=0.2
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (64, 48)
    assert body["media_type"] == media_type
    assert (body["bit_depth"], body["bands"]) == (depth, bands)
    import hashlib

    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    image = client.get(f"{URL}/{body['id']}/image", headers=tenant.headers(Role.VIEWER))
    assert image.status_code == 200 and image.content == data


def test_exif_orientation_is_applied(client: TestClient, tenant: Tenant, site: Site) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    source = np.zeros((40, 100, 3), np.uint8)
    source[:, :10] = 255  # a white band on the stored image's left edge
    data = encode(source, "JPEG", exif=exif.tobytes(), quality=95)
    body = upload(client, tenant.headers(), data, "rotated.jpg", asset_id=site.asset_id).json()
    assert (body["width"], body["height"]) == (40, 100)
    shown = client.get(f"{URL}/{body['id']}/image", headers=tenant.headers())
    assert shown.headers["content-type"] == "image/png"
    upright = np.asarray(Image.open(io.BytesIO(shown.content)))
    assert upright.shape[:2] == (100, 40)
    assert upright[:10].mean() > 200 and upright[-10:].mean() < 50  # band now on top
    original = client.get(f"{URL}/{body['id']}/original", headers=tenant.headers())
    assert original.content == data


def test_same_image_twice_is_stored_once(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    data = encode(gradient(), "PNG")
    first = upload(client, tenant.headers(), data, "a.png", asset_id=site.asset_id).json()
    second = upload(client, tenant.headers(), data, "b.png", asset_id=site.asset_id).json()
    assert first["sha256"] == second["sha256"]
    assert len(blob_files(platform)) == 1


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
    return b"\x89PNG\r\n\x1a\n" + header + pixels + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 422, "empty"),
        (b"this is not an image at all", 422, "not a readable image"),
        (encode(noise(), "PNG")[:3000], 422, "corrupt or truncated"),
        (encode(noise(), "JPEG")[:3000], 422, "corrupt or truncated"),
        (encode(gradient(), "GIF"), 422, "unsupported image format"),
        (_png_header_only(60_000, 60_000), 413, "too many pixels"),
        (_png_header_only(12_000, 10_000), 413, "too many pixels"),
    ],
)
def test_bad_images_are_refused_and_nothing_is_written(
    platform: Platform,
    client: TestClient,
    tenant: Tenant,
    site: Site,
    data: bytes,
    status: int,
    message: str,
) -> None:
    response = upload(client, tenant.headers(), data, "bad", asset_id=site.asset_id)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert response.json()["field"] == "file"
    assert client.get(URL, headers=tenant.headers()).json()["total"] == 0
    assert blob_files(platform) == []


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"asset_id": 999}, "asset_id"),
        ({"element_id": 999}, "element_id"),
        ({"device_id": 999}, "device_id"),
        ({"time": "last tuesday"}, "time"),
    ],
)
def test_bad_references_are_422(
    client: TestClient, tenant: Tenant, site: Site, form: dict[str, object], field: str
) -> None:
    fields = {"asset_id": site.asset_id, **form}
    response = upload(client, tenant.headers(), encode(gradient(), "PNG"), "x.png", **fields)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_negative_scale_is_422(client: TestClient, tenant: Tenant, site: Site) -> None:
    response = upload(
        client,
        tenant.headers(),
        encode(gradient(), "PNG"),
        "x.png",
        asset_id=site.asset_id,
        mm_per_px=-1,
    )
    assert response.status_code == 422


def test_viewer_cannot_upload_but_device_can(
    client: TestClient, tenant: Tenant, site: Site
) -> None:
    data = encode(gradient(), "PNG")
    assert (
        upload(
            client, tenant.headers(Role.VIEWER), data, "x.png", asset_id=site.asset_id
        ).status_code
        == 403
    )
    by_device = upload(client, site.device_headers, data, "x.png", asset_id=site.asset_id)
    assert by_device.status_code == 201 and by_device.json()["device_id"] == site.device_id


def test_analysis_runs_as_a_background_job(
    platform: Platform, client: TestClient, tenant: Tenant, site: Site
) -> None:
    sharp = np.zeros((64, 64), np.uint8)
    sharp[::2] = 255
    body = upload(
        client, tenant.headers(), encode(sharp, "PNG"), "stripes.png", asset_id=site.asset_id
    ).json()
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=tenant.headers()).json()
    assert job["status"] == "queued"
    assert platform.jobs.run_pending() == 1
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=tenant.headers()).json()
    assert job["status"] == "succeeded", job["error"]
    analyses = client.get(f"{URL}/{body['id']}/analyses", headers=tenant.headers()).json()
    quality = next(a for a in analyses if a["model_name"] == "image-quality")["summary"]
    assert quality["mean_brightness"] == pytest.approx(0.5, abs=1e-6)
    assert quality["saturated_fraction"] == pytest.approx(0.5, abs=1e-6)


def test_worker_threads_run_the_analysis_off_the_request(
    settings: Settings, tenant: Tenant
) -> None:
    threaded = Platform.create(settings, workers=2)
    try:
        with TestClient(create_app(platform=threaded)) as client:
            site = make_site(client, tenant, prefix="WK")
            body = upload(
                client, tenant.headers(), encode(noise(), "PNG"), "n.png", asset_id=site.asset_id
            ).json()
            assert threaded.jobs.wait_idle(timeout=120)
            job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=tenant.headers()).json()
            assert job["status"] == "succeeded", job["error"]
            assert job["finished_at"] is not None and job["started_at"] is not None
    finally:
        threaded.close()
