"""Blobs in a real S3 server (SeaweedFS): content addressing, integrity, the API on S3, and
``infrasight blobs migrate`` from the local folder to S3 and back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrasight.api.app import create_app
from infrasight.cli.app import app
from infrasight.core.settings import Settings
from infrasight.platform import Platform
from infrasight.storage.blobs import (
    BlobStoreUnavailableError,
    LocalBlobStore,
    open_blob_store,
    register_blob,
)
from infrasight.storage.s3_blobs import BlobIntegrityError, S3BlobStore
from tests.api.test_captures import encode, gradient, upload
from tests.conftest import make_site, make_tenant
from tests.servers import free_port

runner = CliRunner()


@pytest.fixture
def store(s3_settings: Settings) -> S3BlobStore:
    opened = open_blob_store(s3_settings)
    assert isinstance(opened, S3BlobStore)
    return opened


def test_put_get_round_trip_is_content_addressed(store: S3BlobStore) -> None:
    data = np.random.default_rng(7).bytes(300_000)
    digest, new = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert new is True
    assert store.put(data) == (digest, False)
    assert store.get(digest) == data
    assert store.exists(digest) and not store.exists("0" * 64)
    assert list(store.digests()) == [digest]
    listing = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
    assert [item["Key"] for item in listing["Contents"]] == [
        f"{store.prefix}{digest[:2]}/{digest[2:4]}/{digest}"
    ]


def test_absent_blob_and_bad_digest(store: S3BlobStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.get("ab" * 32)
    with pytest.raises(ValueError, match="sha256"):
        store.get("not-a-digest")


def test_tampered_object_is_refused(store: S3BlobStore) -> None:
    digest, _ = store.put(b"original bytes")
    store.client.put_object(Bucket=store.bucket, Key=store.key(digest), Body=b"swapped bytes")
    assert store.exists(digest)
    with pytest.raises(BlobIntegrityError, match="does not hash"):
        store.get(digest)


def test_prefix_separates_deployments(store: S3BlobStore) -> None:
    other = S3BlobStore(store.client, store.bucket, store.prefix + "site-b")
    digest, _ = store.put(b"shared bucket")
    assert not other.exists(digest)
    assert other.put(b"shared bucket") == (digest, True)
    assert other.key(digest) == f"{store.prefix}site-b/{digest[:2]}/{digest[2:4]}/{digest}"
    assert list(other.digests()) == [digest]


@pytest.fixture
def s3_platform(s3_settings: Settings) -> Iterator[Platform]:
    wired = Platform.create(s3_settings, workers=0)
    yield wired
    wired.close()


def test_captures_through_the_api_live_in_s3(s3_platform: Platform) -> None:
    with TestClient(create_app(platform=s3_platform)) as client:
        tenant = make_tenant(s3_platform, "Gamma Lines")
        site = make_site(client, tenant)
        data = encode(gradient(), "PNG")
        first = upload(client, tenant.headers(), data, "a.png", asset_id=site.asset_id)
        second = upload(client, tenant.headers(), data, "b.png", asset_id=site.asset_id)
        assert first.status_code == second.status_code == 201, first.text
        sha = first.json()["sha256"]
        assert second.json()["sha256"] == sha
        image = client.get(f"/api/v1/captures/{first.json()['id']}/image", headers=tenant.headers())
        assert image.status_code == 200
    store = s3_platform.blobs
    assert isinstance(store, S3BlobStore)
    assert list(store.digests()) == [sha]
    assert store.get(sha) == data
    assert not s3_platform.settings.blob_dir.exists() or not any(
        p.is_file() for p in s3_platform.settings.blob_dir.rglob("*")
    )


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings, data_dir: Path) -> None:
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("INFRASIGHT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("INFRASIGHT_S3_ENDPOINT_URL", settings.s3_endpoint_url)
    monkeypatch.setenv("INFRASIGHT_S3_BUCKET", settings.s3_bucket)
    monkeypatch.setenv("INFRASIGHT_S3_PREFIX", settings.s3_prefix)
    monkeypatch.setenv("INFRASIGHT_S3_ACCESS_KEY", settings.s3_access_key)
    monkeypatch.setenv("INFRASIGHT_S3_SECRET_KEY", settings.s3_secret_key)


def test_migrate_local_to_s3_and_back(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local_settings = s3_settings.model_copy(update={"blob_backend": "local"})
    platform = Platform.create(local_settings, workers=0)
    with TestClient(create_app(platform=platform)) as client:
        tenant = make_tenant(platform, "Delta Rail")
        site = make_site(client, tenant)
        images = [encode(np.roll(gradient(), k, axis=1), "PNG") for k in range(4)]
        for k, data in enumerate(images):
            answer = upload(client, tenant.headers(), data, f"{k}.png", asset_id=site.asset_id)
            assert answer.status_code == 201, answer.text
    platform.close()
    local = LocalBlobStore(local_settings.blob_dir)
    digests = sorted(local.digests())
    assert len(digests) == 4

    _env(monkeypatch, s3_settings, s3_settings.data_dir)
    result = runner.invoke(app, ["blobs", "migrate", "--to", "s3"])
    assert result.exit_code == 0, result.output
    assert "4 copied" in result.output and "0 missing" in result.output
    again = runner.invoke(app, ["blobs", "migrate", "--to", "s3"])
    assert again.exit_code == 0 and "0 copied" in again.output and "4 already there" in again.output
    s3 = open_blob_store(s3_settings)
    assert sorted(s3.digests()) == digests

    # back into an empty local folder (a new machine): every blob arrives, byte for byte
    fresh = tmp_path / "fresh"
    (fresh / "blobs").mkdir(parents=True)
    _env(monkeypatch, s3_settings, s3_settings.data_dir)
    monkeypatch.setenv("INFRASIGHT_DATA_DIR", str(fresh))
    if not s3_settings.database_url:  # the SQLite file lives in the data folder
        (fresh / "infrasight.db").write_bytes((s3_settings.data_dir / "infrasight.db").read_bytes())
    back = runner.invoke(app, ["blobs", "migrate", "--to", "local"])
    assert back.exit_code == 0, back.output
    assert "4 copied" in back.output
    restored = LocalBlobStore(fresh / "blobs")
    assert sorted(restored.digests()) == digests
    assert sorted(restored.get(d) for d in digests) == sorted(images)


def test_migrate_reports_a_blob_in_neither_store(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalBlobStore(s3_settings.blob_dir)
    digest, _ = local.put(b"a record")
    local.path(digest).unlink()
    platform = Platform.create(s3_settings, workers=0)
    with platform.database.transaction() as session:
        register_blob(session, digest, 8, "application/octet-stream")
    platform.close()
    _env(monkeypatch, s3_settings, s3_settings.data_dir)
    result = runner.invoke(app, ["blobs", "migrate", "--to", "s3"])
    assert result.exit_code == 1
    assert "1 missing" in result.output and digest in result.output


def test_migrate_refuses_an_unknown_target() -> None:
    result = runner.invoke(app, ["blobs", "migrate", "--to", "ftp"])
    assert result.exit_code == 2
    assert "--to" in result.output


def test_an_unreachable_store_is_a_503_naming_it_and_nothing_is_written(
    settings: Settings,
) -> None:
    pytest.importorskip("boto3", reason="the scale extra (boto3) is not installed")
    closed_port = free_port()  # bound and released: nothing listens there
    down = settings.model_copy(
        update={
            "blob_backend": "s3",
            "s3_endpoint_url": f"http://127.0.0.1:{closed_port}",
            "s3_bucket": "infrasight-down",
            "s3_access_key": "infrasight",
            "s3_secret_key": "infrasight",
        }
    )
    platform = Platform.create(down, workers=0)
    try:
        store = platform.blobs
        assert isinstance(store, S3BlobStore)
        with pytest.raises(BlobStoreUnavailableError, match=f"127.0.0.1:{closed_port}"):
            store.put(b"an image")
        with TestClient(create_app(platform=platform)) as client:
            tenant = make_tenant(platform, "Epsilon Tunnels")
            site = make_site(client, tenant)
            data = encode(gradient(), "PNG")
            answer = upload(client, tenant.headers(), data, "a.png", asset_id=site.asset_id)
            assert answer.status_code == 503, answer.text
            assert answer.json()["detail"].startswith("the blob store")
            assert answer.headers["Retry-After"] == "5"
            listing = client.get("/api/v1/captures", headers=tenant.headers())
            assert listing.status_code == 200 and listing.json()["items"] == []
    finally:
        platform.close()
