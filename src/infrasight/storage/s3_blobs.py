"""The blob store on an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph RGW...).

Objects are named ``<prefix>ab/cd/<sha256>`` like the local files, so a blob's key is its
content's digest and the same bytes are stored once. Reads check the digest, so a damaged or
substituted object is an error, never silently served. boto3 is imported when this backend is
chosen (the ``scale`` extra).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from infrasight.storage.blobs import BlobStoreUnavailableError, blob_key, sha256_hex

if TYPE_CHECKING:
    from infrasight.core.settings import Settings

__all__ = ["BlobIntegrityError", "S3BlobStore"]

_LOGGER = logging.getLogger(__name__)
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class BlobIntegrityError(OSError):
    """A stored object's bytes do not hash to its name."""


class S3BlobStore:
    """Content-addressed blobs in one bucket of an S3-compatible store.

    Parameters
    ----------
    client
        A boto3 S3 client (thread-safe; shared by every worker thread).
    bucket
        The bucket; created before the first write if it does not exist.
    prefix
        Prepended to every key (``""`` or ending in ``/``), so several deployments may share
        a bucket.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self._bucket_ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        """A store on ``INFRASIGHT_S3_*``; credentials fall back to boto3's usual chain."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError as err:  # pragma: no cover - depends on the installed extras
            raise RuntimeError(
                "the S3 blob store needs boto3: pip install 'infrasight[scale]'"
            ) from err
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.s3_access_key or None,
            aws_secret_access_key=settings.s3_secret_key or None,
            config=Config(
                retries={"mode": "standard", "max_attempts": 5},
                max_pool_connections=32,
                s3={"addressing_style": "path"},
            ),
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix)

    def key(self, sha256: str) -> str:
        """The object key of a digest."""
        return self.prefix + blob_key(sha256)

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return its digest and whether it was new."""
        digest = sha256_hex(data)
        if self.exists(digest):
            return digest, False
        if not self._bucket_ready:
            self.ensure_bucket()
        with self._reachable():
            self._put(digest, data)
        return digest, True

    def _put(self, digest: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key(digest),
            Body=data,
            ContentType="application/octet-stream",
        )

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Turn botocore's connection failures (after its retries) into
        :class:`~infrasight.storage.blobs.BlobStoreUnavailableError`, which names the store."""
        try:
            yield
        except Exception as err:
            if type(err).__module__.startswith("botocore") and _unreachable(err):
                endpoint = getattr(self.client.meta, "endpoint_url", "S3")
                raise BlobStoreUnavailableError(
                    f"the blob store {endpoint} (bucket {self.bucket}) is unreachable: {err}"
                ) from err
            raise

    def get(self, sha256: str) -> bytes:
        """The blob's bytes; ``FileNotFoundError`` if absent, :class:`BlobIntegrityError`
        if the object's bytes are not the digest's."""
        key = self.key(sha256)
        with self._reachable():
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=key)
            except Exception as err:
                if _code(err) in _MISSING or _code(err) == "NoSuchBucket":
                    raise FileNotFoundError(f"s3://{self.bucket}/{key}") from err
                raise
            data: bytes = answer["Body"].read()
        if sha256_hex(data) != sha256:
            raise BlobIntegrityError(f"s3://{self.bucket}/{key} does not hash to its name")
        return data

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        with self._reachable():
            try:
                self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
            except Exception as err:
                if _code(err) in _MISSING or _code(err) == "NoSuchBucket":
                    return False
                raise
        return True

    def digests(self) -> Iterator[str]:
        """Every stored digest under the prefix."""
        paginator = self.client.get_paginator("list_objects_v2")
        with self._reachable():
            try:
                for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                    for item in page.get("Contents", []):
                        name = str(item["Key"]).rsplit("/", 1)[-1]
                        if len(name) == 64:
                            yield name
            except Exception as err:
                if _code(err) != "NoSuchBucket":
                    raise

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists."""
        with self._reachable():
            self._ensure_bucket()

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            self._bucket_ready = True
            return
        except Exception as err:
            if _code(err) not in _MISSING and _code(err) != "NoSuchBucket":
                raise
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except Exception as err:
            if _code(err) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise
        self._bucket_ready = True
        _LOGGER.info("created bucket %s", self.bucket)


def _unreachable(err: Exception) -> bool:
    """Whether a botocore error means the endpoint could not be reached or answered."""
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from botocore.exceptions import HTTPClientError

    return isinstance(err, (BotocoreConnectionError, HTTPClientError))


def _code(err: Exception) -> str:
    """The S3 error code of a botocore ``ClientError`` (empty for other errors)."""
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
