"""Store a capture: validate the image, keep its bytes once, record it and queue its analysis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from infrasight.core.events import CaptureStored
from infrasight.jobs.runner import JobRunner
from infrasight.services.analysis import ANALYSE_CAPTURE
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.services.images import inspect_image
from infrasight.storage.blobs import BlobStore, register_blob
from infrasight.storage.models import Capture

__all__ = ["CaptureRequest", "StoredCapture", "store_capture"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureRequest:
    """What an uploader says about an image (references already checked)."""

    asset_id: int
    time: datetime
    element_id: int | None = None
    device_id: int | None = None
    inspection_id: int | None = None
    mm_per_px: float | None = None
    filename: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredCapture:
    """The stored capture, its analysis job and the event to publish after the commit."""

    capture: Capture
    job_id: int
    event: CaptureStored


def store_capture(
    session: Session,
    *,
    blobs: BlobStore,
    jobs: JobRunner,
    caller: Principal,
    data: bytes,
    request: CaptureRequest,
    max_pixels: int,
) -> StoredCapture:
    """Validate and store an image in the session's transaction; the caller commits.

    After the commit, call ``jobs.enqueue(result.job_id)`` and publish ``result.event``.
    """
    info = inspect_image(data, max_pixels=max_pixels)
    sha256, _new = blobs.put(data)
    register_blob(session, sha256, len(data), info.media_type)
    capture = Capture(
        organization_id=caller.organization_id,
        asset_id=request.asset_id,
        element_id=request.element_id,
        device_id=request.device_id,
        inspection_id=request.inspection_id,
        time=request.time,
        mm_per_px=request.mm_per_px,
        width=info.width,
        height=info.height,
        bit_depth=info.bit_depth,
        bands=info.bands,
        orientation=info.orientation,
        media_type=info.media_type,
        filename=request.filename[:400],
        blob_sha256=sha256,
    )
    session.add(capture)
    session.flush()
    job = jobs.create(session, ANALYSE_CAPTURE, {"capture_id": capture.id}, caller.organization_id)
    record_audit(session, caller, "create", "capture", capture.id, {"sha256": sha256})
    event = CaptureStored(
        organization_id=caller.organization_id, capture_id=capture.id, sha256=sha256
    )
    return StoredCapture(capture=capture, job_id=job.id, event=event)
