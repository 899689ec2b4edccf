"""Captures: images from cameras, robots and inspectors, stored content-addressed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, File, Form, Response, UploadFile, status
from pydantic import AliasChoices, BaseModel, Field, StrictFloat
from sqlalchemy import select

from infrasight.api.deps import CallerDep, LocaleDep, PlatformDep, SessionDep
from infrasight.api.routes.common import (
    DbId,
    Limit,
    Offset,
    Page,
    ReadModel,
    RequestModel,
    check_references,
    get_owned,
    page_of,
    parse_form_time,
)
from infrasight.core.domain import Action
from infrasight.core.errors import NotFoundError, PayloadTooLargeError
from infrasight.core.phrases import Phrase
from infrasight.locales.phrases import evidence_translator, render_phrase
from infrasight.services.analysis import ANALYSE_CAPTURE
from infrasight.services.audit import record_audit
from infrasight.services.capture_pixels import analysis_pixels
from infrasight.services.captures import CaptureRequest, store_capture
from infrasight.services.crack_analysis import CRACK_MODEL, render_overlay
from infrasight.services.defect_records import DefectRecord, record_defect
from infrasight.services.images import decode_image, oriented_png
from infrasight.storage.models import (
    Capture,
    CaptureAnalysis,
    Defect,
)

router = APIRouter(tags=["captures"])


class CaptureRead(ReadModel):
    id: int
    sha256: str = Field(validation_alias=AliasChoices("blob_sha256", "sha256"))
    width: int
    height: int
    bit_depth: int
    bands: int
    media_type: str
    asset_id: DbId
    element_id: DbId | None
    device_id: DbId | None
    inspection_id: DbId | None
    time: datetime
    mm_per_px: float | None
    filename: str
    created_at: datetime


class CaptureCreated(CaptureRead):
    job_id: DbId | None = None


class CaptureUpdate(RequestModel):
    element_id: DbId | None = None
    inspection_id: DbId | None = None
    mm_per_px: StrictFloat | None = Field(default=None, gt=0)


class AnalysisRead(ReadModel):
    id: int
    capture_id: DbId
    model_name: str
    model_version: str
    summary: dict[str, Any]
    created_at: datetime


class DefectRead(ReadModel):
    id: int
    capture_id: DbId
    analysis_id: DbId
    element_id: DbId | None
    kind: str
    confidence: float
    model_version: str
    geometry: dict[str, Any]
    measurements: dict[str, Any]
    created_at: datetime
    position: str = Field(
        default="", description="where on the element (position vocabulary); '' unknown"
    )

    @classmethod
    def of(cls, defect: Defect, locale: str = "en") -> DefectRead:
        """The row with its position on the element (``geometry.position``) shown and the
        measurement's notes in ``locale`` (``note_messages`` keeps their keys and numbers)."""
        where = defect.geometry.get("position") if isinstance(defect.geometry, dict) else None
        return cls.model_validate(defect).model_copy(
            update={
                "position": where if isinstance(where, str) else "",
                "measurements": localised_notes(defect.measurements, locale),
            }
        )


def localised_notes(measurements: dict[str, Any], locale: str) -> dict[str, Any]:
    """``measurements`` with its ``notes`` read in ``locale`` where they are stored as phrases
    (``note_messages``); rows measured before keep their English notes."""
    said = [Phrase.from_dict(m) for m in measurements.get("note_messages", []) or []]
    if not said or any(p is None for p in said):
        return measurements
    t = evidence_translator(locale)
    return {**measurements, "notes": [render_phrase(p, t) for p in said if p is not None]}


class DefectCreate(RequestModel):
    """A defect an inspector saw on the capture."""

    kind: str = Field(min_length=1, max_length=40, description="crack, spall, leakage, ...")
    orientation: Literal["", "transverse", "diagonal", "longitudinal", "map", "vertical"] = ""
    position: str = Field(
        default="",
        max_length=40,
        description="midspan_soffit, near_support, along_bar, pier, edge, weld_toe, joint, "
        "surface; or give face and span_fraction",
    )
    face: str = Field(
        default="", max_length=40, description="soffit, web, deck, pier, edge, joint, surface"
    )
    span_fraction: float | None = Field(
        default=None, ge=0, le=1, description="along the span, 0 and 1 at the supports"
    )
    width_mm: float | None = Field(default=None, gt=0, lt=1e5)
    length_mm: float | None = Field(default=None, gt=0, lt=1e5)
    element_id: DbId | None = Field(default=None, description="default: the capture's element")
    note: str = Field(default="", max_length=2000)


@router.post("/captures", status_code=status.HTTP_201_CREATED)
def create_capture(
    platform: PlatformDep,
    session: SessionDep,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG or TIFF (8 or 16 bit)")],
    asset_id: Annotated[DbId, Form()],
    element_id: Annotated[DbId | None, Form()] = None,
    device_id: Annotated[DbId | None, Form()] = None,
    inspection_id: Annotated[DbId | None, Form()] = None,
    time: Annotated[str | None, Form(description="ISO-8601; default now")] = None,
    mm_per_px: Annotated[float | None, Form(gt=0, description="Scale, mm per pixel")] = None,
) -> CaptureCreated:
    """Store an image and queue its analysis; the same file twice is stored once."""
    if not caller.is_device:
        caller.require(Action.FIELD_WORK)
    elif device_id is None:
        device_id = caller.device_id
    settings = platform.settings
    if file.size is not None and file.size > settings.max_body_bytes:
        raise PayloadTooLargeError(
            f"file of {file.size} bytes exceeds the limit of {settings.max_body_bytes}",
            field="file",
        )
    check_references(
        session,
        caller,
        asset_id,
        element_id=element_id,
        device_id=device_id,
        inspection_id=inspection_id,
    )
    stored = store_capture(
        session,
        blobs=platform.blobs,
        jobs=platform.jobs,
        caller=caller,
        data=file.file.read(),
        request=CaptureRequest(
            asset_id=asset_id,
            time=parse_form_time(time, "time") if time else datetime.now(UTC),
            element_id=element_id,
            device_id=device_id,
            inspection_id=inspection_id,
            mm_per_px=mm_per_px,
            filename=file.filename or "",
        ),
        max_pixels=settings.max_image_pixels,
    )
    session.commit()
    platform.jobs.enqueue(stored.job_id)
    platform.bus.publish(stored.event)
    capture = stored.capture
    read = CaptureRead.model_validate(capture)
    return CaptureCreated(**read.model_dump(), job_id=stored.job_id)


@router.get("/captures")
def list_captures(
    session: SessionDep,
    caller: CallerDep,
    asset_id: DbId | None = None,
    inspection_id: DbId | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[CaptureRead]:
    """The organisation's captures, newest first, optionally of one asset or inspection; paged."""
    caller.require(Action.READ)
    query = (
        select(Capture)
        .where(Capture.organization_id == caller.organization_id)
        .order_by(Capture.time.desc(), Capture.id.desc())
    )
    if asset_id is not None:
        query = query.where(Capture.asset_id == asset_id)
    if inspection_id is not None:
        query = query.where(Capture.inspection_id == inspection_id)
    return page_of(session, query, limit, offset, CaptureRead)


@router.get("/captures/{capture_id}")
def get_capture(capture_id: DbId, session: SessionDep, caller: CallerDep) -> CaptureRead:
    """One capture's metadata (the image is at /captures/{id}/image)."""
    caller.require(Action.READ)
    return CaptureRead.model_validate(
        get_owned(session, Capture, capture_id, caller.organization_id)
    )


@router.patch("/captures/{capture_id}")
def update_capture(
    capture_id: DbId, body: CaptureUpdate, session: SessionDep, caller: CallerDep
) -> CaptureRead:
    """Attach a capture to an element or inspection, or set its scale (mm per pixel)."""
    caller.require(Action.FIELD_WORK)
    capture = get_owned(session, Capture, capture_id, caller.organization_id)
    changes = body.model_dump(exclude_unset=True)
    check_references(
        session,
        caller,
        capture.asset_id,
        element_id=changes.get("element_id"),
        inspection_id=changes.get("inspection_id"),
    )
    for name, value in changes.items():
        setattr(capture, name, value)
    record_audit(session, caller, "update", "capture", capture.id, {"changed": sorted(changes)})
    session.commit()
    return CaptureRead.model_validate(capture)


@router.get(
    "/captures/{capture_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/tiff": {}}}},
)
def capture_image(
    capture_id: DbId, platform: PlatformDep, session: SessionDep, caller: CallerDep
) -> Response:
    """The image, upright (EXIF orientation applied)."""
    caller.require(Action.READ)
    capture = get_owned(session, Capture, capture_id, caller.organization_id)
    data = platform.blobs.get(capture.blob_sha256)
    headers = {"ETag": f'"{capture.blob_sha256}"', "Cache-Control": "private, max-age=86400"}
    if capture.orientation != 1:
        png = oriented_png(data, max_pixels=platform.settings.max_image_pixels)
        return Response(png, media_type="image/png", headers=headers)
    return Response(data, media_type=capture.media_type, headers=headers)


@router.get("/captures/{capture_id}/original", response_class=Response)
def capture_original(
    capture_id: DbId, platform: PlatformDep, session: SessionDep, caller: CallerDep
) -> Response:
    """The file exactly as uploaded (its sha256 is the capture's)."""
    caller.require(Action.READ)
    capture = get_owned(session, Capture, capture_id, caller.organization_id)
    return Response(platform.blobs.get(capture.blob_sha256), media_type=capture.media_type)


@router.get("/captures/{capture_id}/analyses")
def capture_analyses(
    capture_id: DbId, session: SessionDep, caller: CallerDep
) -> list[AnalysisRead]:
    """Every analysis of a capture (model name, version and summary), oldest first."""
    caller.require(Action.READ)
    get_owned(session, Capture, capture_id, caller.organization_id)
    rows = session.scalars(
        select(CaptureAnalysis)
        .where(CaptureAnalysis.capture_id == capture_id)
        .order_by(CaptureAnalysis.id)
    )
    return [AnalysisRead.model_validate(a) for a in rows]


@router.get("/captures/{capture_id}/defects")
def capture_defects(
    capture_id: DbId,
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
    model_version: str | None = None,
) -> list[DefectRead]:
    """Defects found in the capture (all model versions unless one is named); the
    measurements' notes in the language ``Accept-Language`` asks for (else the caller's own)."""
    caller.require(Action.READ)
    get_owned(session, Capture, capture_id, caller.organization_id)
    query = select(Defect).where(Defect.capture_id == capture_id).order_by(Defect.id)
    if model_version is not None:
        query = query.where(Defect.model_version == model_version)
    return [DefectRead.of(d, locale) for d in session.scalars(query)]


@router.post("/captures/{capture_id}/defects", status_code=status.HTTP_201_CREATED)
def record_capture_defect(
    capture_id: DbId,
    body: DefectCreate,
    platform: PlatformDep,
    session: SessionDep,
    caller: CallerDep,
) -> DefectRead:
    """Record a defect an inspector saw on the capture (inspector or above): kind, crack
    orientation, where on the element (a position word, or the face and the position along
    the span), width and length in mm. The element's hazards are re-evaluated."""
    caller.require(Action.FIELD_WORK)
    recorded = record_defect(
        session, caller, capture_id, DefectRecord(**body.model_dump(exclude_unset=True))
    )
    session.commit()
    platform.bus.publish(recorded.event)
    return DefectRead.of(recorded.defect)


class AnalyseQueued(BaseModel):
    job_id: DbId


@router.post("/captures/{capture_id}/analyse", status_code=status.HTTP_202_ACCEPTED)
def analyse_again(
    capture_id: DbId, platform: PlatformDep, session: SessionDep, caller: CallerDep
) -> AnalyseQueued:
    """Queue the capture's analysis again (e.g. after a model update); earlier results stay."""
    caller.require(Action.CONFIGURE)
    get_owned(session, Capture, capture_id, caller.organization_id)
    job = platform.jobs.create(
        session, ANALYSE_CAPTURE, {"capture_id": capture_id}, caller.organization_id
    )
    record_audit(session, caller, "analyse", "capture", capture_id, {"job_id": job.id})
    session.commit()
    platform.jobs.enqueue(job.id)
    return AnalyseQueued(job_id=job.id)


@router.get(
    "/captures/{capture_id}/overlay",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def capture_overlay(
    capture_id: DbId,
    platform: PlatformDep,
    session: SessionDep,
    caller: CallerDep,
    model_version: str | None = None,
) -> Response:
    """The upright image with the cracks of one analysis (latest unless a version is named)."""
    caller.require(Action.READ)
    capture = get_owned(session, Capture, capture_id, caller.organization_id)
    query = select(CaptureAnalysis).where(
        CaptureAnalysis.capture_id == capture_id,
        CaptureAnalysis.model_name == CRACK_MODEL,
        CaptureAnalysis.mask_sha256.is_not(None),
    )
    if model_version is not None:
        query = query.where(CaptureAnalysis.model_version == model_version)
    analysis = session.scalars(query.order_by(CaptureAnalysis.id.desc()).limit(1)).one_or_none()
    if analysis is None or analysis.mask_sha256 is None:
        raise NotFoundError(
            f"capture {capture_id} has no crack analysis"
            + (f" by model version {model_version!r}" if model_version else " yet")
        )
    defects = session.scalars(select(Defect).where(Defect.analysis_id == analysis.id)).all()
    pixels, _ = analysis_pixels(
        session, platform.blobs, capture, max_pixels=platform.settings.max_image_pixels
    )
    image = render_overlay(
        pixels,
        decode_image(
            platform.blobs.get(analysis.mask_sha256), max_pixels=platform.settings.max_image_pixels
        )
        > 0,
        [np.asarray(d.geometry.get("polyline_px", []), dtype=np.float64) for d in defects],
    )
    return Response(image, media_type="image/jpeg")
