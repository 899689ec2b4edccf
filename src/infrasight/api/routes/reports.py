"""PDF reports: request one for an asset and period, follow it, download it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field
from sqlalchemy import func, select

from infrasight.api.deps import CallerDep, PlatformDep, SessionDep
from infrasight.api.errors import ErrorBody
from infrasight.api.routes.common import (
    DbId,
    IsoTime,
    Limit,
    Offset,
    Page,
    ReadModel,
    RequestModel,
    get_owned,
)
from infrasight.core.domain import Action, JobStatus
from infrasight.core.errors import ConflictError
from infrasight.services.reports import request_report
from infrasight.services.user_locale import locale_of
from infrasight.storage.models import Job, Report

router = APIRouter(tags=["reports"])

Language = Literal["en", "zh-Hant", "zh-Hans"]


class ReportCreate(RequestModel):
    start: IsoTime = Field(description="Start of the period (inclusive), ISO-8601")
    end: IsoTime = Field(description="End of the period (exclusive), ISO-8601")
    language: Language | None = Field(
        default=None, description="Language of the report; default: the caller's locale"
    )


class ReportRead(ReadModel):
    id: int
    asset_id: int
    job_id: int | None
    language: str
    period_start: datetime
    period_end: datetime
    status: str = "queued"
    error: str = ""
    size_bytes: int | None
    pages: int | None
    sha256: str | None = Field(default=None, validation_alias="blob_sha256")
    missing_glyphs: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None


def _read(session: SessionDep, report: Report) -> ReportRead:
    out = ReportRead.model_validate(report)
    job = session.get(Job, report.job_id) if report.job_id is not None else None
    if report.blob_sha256 is not None:
        out.status = JobStatus.SUCCEEDED.value
    elif job is not None:
        out.status, out.error = str(job.status), job.error
    return out


@router.post("/assets/{asset_id}/reports", status_code=202)
def create_report(
    asset_id: DbId,
    body: ReportCreate,
    session: SessionDep,
    caller: CallerDep,
    platform: PlatformDep,
) -> ReportRead:
    """Request the PDF report of an asset over ``[start, end)`` in a language (a job renders it)."""
    caller.require(Action.FIELD_WORK)
    report = request_report(
        session,
        platform.jobs,
        caller,
        asset_id=asset_id,
        start=body.start,
        end=body.end,
        language=body.language or locale_of(session, caller.user_id),
    )
    session.commit()
    assert report.job_id is not None
    platform.jobs.enqueue(report.job_id)
    return _read(session, report)


@router.get("/reports")
def list_reports(
    session: SessionDep,
    caller: CallerDep,
    asset_id: DbId | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ReportRead]:
    """The organisation's reports, newest first; paged."""
    caller.require(Action.READ)
    query = select(Report).where(Report.organization_id == caller.organization_id)
    if asset_id is not None:
        query = query.where(Report.asset_id == asset_id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Report.id.desc()).limit(limit).offset(offset)).all()
    return Page[ReportRead](
        items=[_read(session, r) for r in rows], total=int(total or 0), limit=limit, offset=offset
    )


@router.get("/reports/{report_id}")
def get_report(report_id: DbId, session: SessionDep, caller: CallerDep) -> ReportRead:
    """One report: its status (queued, running, succeeded, failed), size and page count."""
    caller.require(Action.READ)
    return _read(session, get_owned(session, Report, report_id, caller.organization_id))


@router.get(
    "/reports/{report_id}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        409: {"model": ErrorBody, "description": "Not rendered yet, or rendering failed"},
    },
)
def download_report(
    report_id: DbId, session: SessionDep, caller: CallerDep, platform: PlatformDep
) -> Response:
    """The report's PDF (409 while it is still being rendered or when rendering failed)."""
    caller.require(Action.READ)
    report = get_owned(session, Report, report_id, caller.organization_id)
    if report.blob_sha256 is None:
        raise ConflictError(
            f"report {report_id} is not rendered yet ({_read(session, report).status})"
        )
    filename = f"report-{report.id}-asset-{report.asset_id}-{report.language}.pdf"
    return Response(
        platform.blobs.get(report.blob_sha256),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


__all__ = ["router"]
