"""Evidence of a work order: attachments (repair photos, documents) and the verification of the
repair from measurements (closing the work order and resolving its hazard, or reopening both)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Response, UploadFile, status
from pydantic import Field
from sqlalchemy import select

from infrasight.api.deps import CallerDep, LocaleDep, PlatformDep, SessionDep
from infrasight.api.routes.common import DbId, ReadModel, RequestModel
from infrasight.core.domain import Action
from infrasight.core.errors import PayloadTooLargeError
from infrasight.locales.phrases import evidence_translator, localised_detail, localised_test
from infrasight.services.verification import verify_work_order
from infrasight.services.work_order_attachments import (
    add_attachment,
    get_attachment,
    list_attachments,
)
from infrasight.services.work_orders import get_work_order, require
from infrasight.storage.models import WorkOrderVerification

router = APIRouter(tags=["work orders"])


class AttachmentRead(ReadModel):
    id: int
    work_order_id: int
    filename: str
    media_type: str
    size_bytes: int
    blob_sha256: str
    uploaded_by: str
    created_at: datetime


class VerificationRead(ReadModel):
    id: int
    work_order_id: int
    hazard_id: int | None
    method: str
    outcome: str
    period_days: float
    evidence: list[dict[str, Any]]
    note: str
    decided_by: str
    created_at: datetime


class VerifyIn(RequestModel):
    period_days: float | None = Field(
        default=None, description="observation period after completion, days (rules' default)"
    )
    note: str = Field(default="", max_length=2000)


@router.post("/work-orders/{work_order_id}/attachments", status_code=status.HTTP_201_CREATED)
def post_attachment(
    work_order_id: DbId,
    platform: PlatformDep,
    session: SessionDep,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG, TIFF, PDF, or UTF-8 .txt/.csv/.md")],
) -> AttachmentRead:
    """Attach a repair photo or document (crew on their own work orders; inspectors and above).
    413 over the size limit, 415 for another type; the type is read from the bytes."""
    limit = platform.settings.max_attachment_bytes
    if file.size is not None and file.size > limit:
        raise PayloadTooLargeError(
            f"file of {file.size} bytes exceeds the attachment limit of {limit}", field="file"
        )
    att = add_attachment(
        session,
        platform.blobs,
        caller,
        work_order_id,
        data=file.file.read(limit + 1),
        filename=file.filename or "",
        max_bytes=limit,
    )
    out = AttachmentRead.model_validate(att)
    session.commit()
    return out


@router.get("/work-orders/{work_order_id}/attachments")
def get_attachments(
    work_order_id: DbId, session: SessionDep, caller: CallerDep
) -> list[AttachmentRead]:
    """The work order's attachments, oldest first."""
    return [
        AttachmentRead.model_validate(a) for a in list_attachments(session, caller, work_order_id)
    ]


@router.get(
    "/work-orders/{work_order_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_attachment(
    work_order_id: DbId,
    attachment_id: DbId,
    platform: PlatformDep,
    session: SessionDep,
    caller: CallerDep,
) -> Response:
    """The attachment's bytes, with its media type and file name."""
    att = get_attachment(session, caller, work_order_id, attachment_id)
    name = att.filename or f"attachment-{att.id}"
    return Response(
        platform.blobs.get(att.blob_sha256),
        media_type=att.media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _localised(record: WorkOrderVerification, locale: str) -> VerificationRead:
    """The record with each check's test and detail in ``locale`` (``message``: the detail's
    key and numbers)."""
    out = VerificationRead.model_validate(record)
    t = evidence_translator(locale)
    checks = [
        {
            **c,
            "test": localised_test(c.get("test_message"), str(c.get("test", "")), t),
            "detail": localised_detail(c.get("message"), str(c.get("detail", "")), t),
        }
        for c in out.evidence
    ]
    return out.model_copy(update={"evidence": checks})


@router.post("/work-orders/{work_order_id}/verify")
def post_verify(
    work_order_id: DbId,
    body: VerifyIn,
    session: SessionDep,
    caller: CallerDep,
    locale: LocaleDep,
) -> VerificationRead:
    """Verify the repair from the measurements after completion (an engineer's sign-off).

    Passed closes the work order and resolves its hazard; failed reopens both with the failed
    evidence; pending leaves it verifying. 409 unless completed or verifying; 422 for a period
    out of range."""
    record = verify_work_order(
        session, caller, work_order_id, period_days=body.period_days, note=body.note
    )
    out = _localised(record, locale)
    session.commit()
    return out


@router.get("/work-orders/{work_order_id}/verifications")
def get_verifications(
    work_order_id: DbId, session: SessionDep, caller: CallerDep, locale: LocaleDep
) -> list[VerificationRead]:
    """Every verification of the work order with its checks, oldest first (check details in
    the language ``Accept-Language`` prefers, else the caller's own)."""
    require(caller, Action.READ)
    wo = get_work_order(session, caller, work_order_id)
    rows = session.scalars(
        select(WorkOrderVerification)
        .where(WorkOrderVerification.work_order_id == wo.id)
        .order_by(WorkOrderVerification.id)
    )
    return [_localised(r, locale) for r in rows]
