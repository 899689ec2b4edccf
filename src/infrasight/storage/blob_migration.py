"""Copy every blob from one store to another (local folder <-> S3), verifying each digest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infrasight.storage.blobs import BlobStore, sha256_hex

__all__ = ["MigrationResult", "copy_blobs"]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationResult:
    """What a copy did.

    Attributes
    ----------
    copied
        Blobs written to the target.
    present
        Blobs the target already had (content addressing makes a re-run a no-op).
    missing
        Digests known to the database but found in neither store.
    bytes_copied
        Bytes written to the target.
    """

    copied: int
    present: int
    missing: tuple[str, ...]
    bytes_copied: int


def copy_blobs(
    source: BlobStore,
    target: BlobStore,
    known: Iterable[str] = (),
    *,
    progress: Callable[[int], None] | None = None,
) -> MigrationResult:
    """Copy every blob of ``source`` (and every digest in ``known``) into ``target``.

    Each blob is read, hashed and written under its digest; a digest already in the target is
    skipped, so the copy may be interrupted and run again. ``known`` (the database's ``blobs``
    rows) makes a blob the database references but neither store holds a reported loss.

    Raises
    ------
    OSError
        When a source blob does not hash to its name (nothing is written for it).
    """
    digests = set(source.digests()) | set(known)
    copied = present = written = 0
    missing: list[str] = []
    for done, digest in enumerate(sorted(digests), start=1):
        if target.exists(digest):
            present += 1
        else:
            try:
                data = source.get(digest)
            except FileNotFoundError:
                missing.append(digest)
                _LOGGER.warning("blob %s is in neither store", digest)
                continue
            if sha256_hex(data) != digest:
                raise OSError(f"blob {digest} in the source does not hash to its name")
            target.put(data)
            copied += 1
            written += len(data)
        if progress is not None:
            progress(done)
    return MigrationResult(
        copied=copied, present=present, missing=tuple(missing), bytes_copied=written
    )
