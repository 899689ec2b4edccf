"""Work-order attachments: repair photos and documents stored as content-addressed blobs.

The type is read from the bytes (magic numbers; text must be UTF-8), not trusted from the
client; a type outside :data:`ALLOWED` is refused (HTTP 415) and a file over the configured size
(HTTP 413), with nothing written.
"""

from __future__ import annotations

import logging
from pathlib import PurePath

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.domain import Action
from infrasight.core.errors import (
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.services.document_texts import index_document
from infrasight.services.work_orders import get_work_order, require
from infrasight.storage.blobs import BlobStore, register_blob
from infrasight.storage.models import WorkOrderAttachment, WorkOrderEvent

__all__ = ["ALLOWED", "add_attachment", "get_attachment", "list_attachments", "sniff_media_type"]

_log = logging.getLogger(__name__)

#: Accepted media types and the leading bytes that identify them.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
)
_TEXT = {".txt": "text/plain", ".csv": "text/csv", ".md": "text/markdown"}
ALLOWED: frozenset[str] = frozenset({m for _, m in _MAGIC} | set(_TEXT.values()))
"""Media types a work order accepts as attachments."""


def sniff_media_type(data: bytes, filename: str) -> str | None:
    """The media type of ``data`` (None when it is none of :data:`ALLOWED`)."""
    for magic, media in _MAGIC:
        if data.startswith(magic):
            return media
    if data.startswith((b"RIFF", b"GIF8", b"PK\x03\x04", b"\x7fELF", b"MZ")):
        return None
    suffix = PurePath(filename).suffix.lower()
    if suffix in _TEXT and b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return _TEXT[suffix]
    return None


def add_attachment(
    session: Session,
    blobs: BlobStore,
    principal: Principal,
    work_order_id: int,
    *,
    data: bytes,
    filename: str,
    max_bytes: int,
) -> WorkOrderAttachment:
    """Store a file on a work order (crew on their own work orders; inspectors and above).

    Raises
    ------
    NotFoundError
        No such work order for the caller.
    PermissionDeniedError
        A viewer.
    InvalidInputError
        An empty file (field ``file``).
    PayloadTooLargeError
        Over ``max_bytes`` (field ``file``).
    UnsupportedMediaTypeError
        Not an accepted type (field ``file``), naming the accepted ones.
    """
    wo = get_work_order(session, principal, work_order_id)
    require(principal, Action.FIELD_WORK)
    if not data:
        raise InvalidInputError("the file is empty", field="file")
    if len(data) > max_bytes:
        raise PayloadTooLargeError(
            f"file of {len(data)} bytes exceeds the attachment limit of {max_bytes}", field="file"
        )
    media = sniff_media_type(data, filename)
    if media is None:
        raise UnsupportedMediaTypeError(
            f"{filename or 'the file'} is not an accepted type; accepted: "
            + ", ".join(sorted(ALLOWED)),
            field="file",
        )
    name = PurePath(filename.replace("\\", "/")).name[:400] if filename else ""
    digest, _ = blobs.put(data)
    register_blob(session, digest, len(data), media)
    index_document(session, digest, data, media)  # its text, for the assistant's search
    attachment = WorkOrderAttachment(
        work_order_id=wo.id,
        blob_sha256=digest,
        filename=name,
        media_type=media,
        size_bytes=len(data),
        uploaded_by=principal.name,
    )
    session.add(attachment)
    session.flush()
    details = {"attachment_id": attachment.id, "filename": name, "media_type": media}
    session.add(
        WorkOrderEvent(
            work_order_id=wo.id, kind="attachment", actor=principal.name, details=details
        )
    )
    record_audit(session, principal, "work_order.attachment", "work_order", wo.id, details)
    session.flush()
    _log.info("work order %s: attachment %s (%s)", wo.id, attachment.id, media)
    return attachment


def list_attachments(
    session: Session, principal: Principal, work_order_id: int
) -> list[WorkOrderAttachment]:
    """The work order's attachments, oldest first."""
    wo = get_work_order(session, principal, work_order_id)
    require(principal, Action.READ)
    return list(
        session.scalars(
            select(WorkOrderAttachment)
            .where(WorkOrderAttachment.work_order_id == wo.id)
            .order_by(WorkOrderAttachment.id)
        )
    )


def get_attachment(
    session: Session, principal: Principal, work_order_id: int, attachment_id: int
) -> WorkOrderAttachment:
    """One attachment of the work order (404 when it belongs to another)."""
    wo = get_work_order(session, principal, work_order_id)
    require(principal, Action.READ)
    att = session.get(WorkOrderAttachment, attachment_id)
    if att is None or att.work_order_id != wo.id:
        raise NotFoundError(f"attachment {attachment_id} not found")
    return att
