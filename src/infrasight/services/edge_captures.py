"""Store a capture a terminal analysed itself: the image, its crack analysis and its defects.

The agent (:mod:`infrasight.edge`) segments and measures cracks on the terminal with the same
library path as the server (:func:`infrasight.services.crack_analysis.measure_segmentation`) and
sends the result with an idempotency key. The capture is stored once per ``(device, key)``: a
resend after a lost answer returns the capture stored the first time. No server analysis is
queued: the terminal's analysis is the capture's analysis, under the model's name and version.
A capture of an element queues what follows a server analysis too (``track_edge_capture``): its
defects tracked across the element's captures, and the element's hazards re-assessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError
from infrasight.core.events import CaptureStored
from infrasight.jobs.runner import JobRunner
from infrasight.services.analysis import TRACK_EDGE_CAPTURE
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.services.crack_analysis import CRACK_MODEL
from infrasight.services.images import ImageInfo, inspect_image
from infrasight.storage.blobs import BlobStore, register_blob
from infrasight.storage.models import Capture, CaptureAnalysis, Defect, EdgeCapture

__all__ = ["EdgeCaptureRequest", "EdgeDefect", "StoredEdgeCapture", "store_edge_capture"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeDefect:
    """One crack found on the terminal: confidence (0-1), geometry (px of the frame), mm figures."""

    confidence: float
    geometry: dict[str, Any]
    measurements: dict[str, Any]
    thumbnail: bytes | None = None
    kind: str = "crack"


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeCaptureRequest:
    """What the agent sends about one analysed frame (references already checked).

    ``image`` is the original frame (``image_kind="original"``) or a reduced preview of it;
    defect geometry is in pixels of the original frame either way (``frame_px`` in the summary).
    """

    key: str
    camera: str
    time: datetime
    asset_id: int
    image: bytes
    image_kind: Literal["original", "preview"]
    model_version: str
    element_id: int | None = None
    mm_per_px: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    defects: tuple[EdgeDefect, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEdgeCapture:
    """The capture (new or stored before), whether it was a resend, the event to publish and
    the tracking job to enqueue after the commit (None: a resend, or no element)."""

    capture: Capture
    duplicate: bool
    event: CaptureStored | None
    job_id: int | None = None


def _blob(
    session: Session, blobs: BlobStore, data: bytes, max_pixels: int
) -> tuple[str, ImageInfo]:
    info = inspect_image(data, max_pixels=max_pixels)
    sha256, _ = blobs.put(data)
    register_blob(session, sha256, len(data), info.media_type)
    return sha256, info


def store_edge_capture(
    session: Session,
    *,
    blobs: BlobStore,
    jobs: JobRunner,
    caller: Principal,
    request: EdgeCaptureRequest,
    max_pixels: int,
) -> StoredEdgeCapture:
    """Store the capture, its analysis and defects in the session's transaction; caller commits.

    After the commit, call ``jobs.enqueue(result.job_id)`` when it is not None and publish
    ``result.event``.

    Raises
    ------
    InvalidInputError
        An image or a defect thumbnail that is not a valid image (naming it).
    """
    device_id = caller.device_id
    if device_id is None:
        raise ValueError("store_edge_capture takes a device principal")
    seen = session.scalar(
        select(EdgeCapture.capture_id).where(
            EdgeCapture.device_id == device_id, EdgeCapture.key == request.key
        )
    )
    if seen is not None:
        previous = session.get(Capture, seen)
        if previous is not None:
            return StoredEdgeCapture(capture=previous, duplicate=True, event=None)
    try:
        sha256, info = _blob(session, blobs, request.image, max_pixels)
    except InvalidInputError as err:
        raise type(err)(err.detail, field="image") from err
    capture = Capture(
        organization_id=caller.organization_id,
        asset_id=request.asset_id,
        element_id=request.element_id,
        device_id=device_id,
        time=request.time,
        mm_per_px=request.mm_per_px if request.image_kind == "original" else None,
        width=info.width,
        height=info.height,
        bit_depth=info.bit_depth,
        bands=info.bands,
        orientation=info.orientation,
        media_type=info.media_type,
        filename=f"{request.camera}/{request.key}"[:400],
        blob_sha256=sha256,
    )
    session.add(capture)
    session.flush()
    analysis = CaptureAnalysis(
        capture_id=capture.id,
        model_name=CRACK_MODEL,
        model_version=request.model_version,
        summary={
            **request.summary,
            "cracks": len(request.defects),
            "analysed_on": "edge",
            "camera": request.camera,
            "image": request.image_kind,
        },
    )
    session.add(analysis)
    session.flush()
    for index, defect in enumerate(request.defects):
        geometry = dict(defect.geometry)
        if defect.thumbnail is not None:
            try:
                geometry["thumbnail_sha256"], _ = _blob(
                    session, blobs, defect.thumbnail, max_pixels
                )
            except InvalidInputError as err:
                raise type(err)(err.detail, field=f"defects[{index}].thumbnail") from err
        session.add(
            Defect(
                organization_id=caller.organization_id,
                capture_id=capture.id,
                analysis_id=analysis.id,
                element_id=request.element_id,
                kind=defect.kind,
                confidence=defect.confidence,
                model_version=request.model_version,
                geometry=geometry,
                measurements=defect.measurements,
            )
        )
    session.add(EdgeCapture(device_id=device_id, key=request.key, capture_id=capture.id))
    record_audit(
        session,
        caller,
        "create",
        "capture",
        capture.id,
        {"sha256": sha256, "edge_key": request.key, "defects": len(request.defects)},
    )
    job_id = None
    if request.element_id is not None:
        job = jobs.create(
            session, TRACK_EDGE_CAPTURE, {"capture_id": capture.id}, caller.organization_id
        )
        job_id = job.id
    event = CaptureStored(
        organization_id=caller.organization_id, capture_id=capture.id, sha256=sha256
    )
    return StoredEdgeCapture(capture=capture, duplicate=False, event=event, job_id=job_id)
