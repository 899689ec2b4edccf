"""Content-addressed blob store: blobs named by their sha256, each stored once.

Two backends share one interface (:class:`BlobStore`): files under the data directory
(:class:`LocalBlobStore`, the embedded default) and any S3-compatible object store
(:class:`~infrasight.storage.s3_blobs.S3BlobStore`). :func:`open_blob_store` picks the one the
settings name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from infrasight.storage.models import Blob

if TYPE_CHECKING:
    from infrasight.core.settings import Settings

__all__ = [
    "BlobStore",
    "BlobStoreUnavailableError",
    "LocalBlobStore",
    "check_digest",
    "open_blob_store",
    "register_blob",
    "sha256_hex",
]

_HEX = frozenset("0123456789abcdef")


class BlobStoreUnavailableError(OSError):
    """The blob store cannot be reached (an object store down or unreachable): the request
    may succeed later; nothing was stored."""


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_digest(sha256: str) -> str:
    """``sha256`` if it is a lower-case hex sha256 digest; ``ValueError`` otherwise."""
    if len(sha256) != 64 or any(c not in _HEX for c in sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


def blob_key(sha256: str) -> str:
    """Relative name of a blob in either backend: ``ab/cd/<sha256>``."""
    check_digest(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStore(Protocol):
    """What the services need of a blob store."""

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return its digest and whether it was new."""
        ...

    def get(self, sha256: str) -> bytes:
        """The blob's bytes; ``FileNotFoundError`` if absent."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        ...

    def digests(self) -> Iterator[str]:
        """Every stored digest (for migrations and audits; order unspecified)."""
        ...


class LocalBlobStore:
    """Files under ``root/ab/cd/<sha256>``; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the blob with this digest lives (it may not exist)."""
        return self.root / blob_key(sha256)

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return its digest and whether it was new."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, True

    def get(self, sha256: str) -> bytes:
        """The blob's bytes; ``FileNotFoundError`` if absent."""
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path(sha256).exists()

    def digests(self) -> Iterator[str]:
        """Every stored digest (temporary files of unfinished writes are skipped)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            name = path.name
            if len(name) == 64 and not (set(name) - _HEX) and path.is_file():
                yield name


def open_blob_store(settings: Settings, backend: str | None = None) -> BlobStore:
    """The blob store the settings name (``INFRASIGHT_BLOB_BACKEND``), or ``backend``."""
    chosen = backend or settings.blob_backend
    if chosen == "s3":
        from infrasight.storage.s3_blobs import S3BlobStore

        return S3BlobStore.from_settings(settings)
    if chosen == "local":
        return LocalBlobStore(settings.blob_dir)
    raise ValueError(f"unknown blob backend {chosen!r}: 'local' or 's3'")


def register_blob(session: Session, sha256: str, size_bytes: int, media_type: str) -> None:
    """Add the blob's row unless it exists (safe under concurrent uploads of the same file)."""
    values = {"sha256": sha256, "size_bytes": size_bytes, "media_type": media_type}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(Blob).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(Blob).values(**values).on_conflict_do_nothing())
