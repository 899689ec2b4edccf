"""Background jobs: their status and results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from infrasight.api.deps import CallerDep, SessionDep
from infrasight.api.routes.common import DbId, Limit, Offset, Page, ReadModel, get_owned, page_of
from infrasight.core.domain import Action, JobStatus
from infrasight.storage.models import Job

router = APIRouter(tags=["jobs"])


class JobRead(ReadModel):
    id: int
    name: str
    arguments: dict[str, Any]
    status: JobStatus
    error: str
    result: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@router.get("/jobs")
def list_jobs(
    session: SessionDep,
    caller: CallerDep,
    status: JobStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[JobRead]:
    """The organisation's background jobs (capture and record analyses), newest first; paged."""
    caller.require(Action.READ)
    query = select(Job).where(Job.organization_id == caller.organization_id).order_by(Job.id.desc())
    if status is not None:
        query = query.where(Job.status == status)
    return page_of(session, query, limit, offset, JobRead)


@router.get("/jobs/{job_id}")
def get_job(job_id: DbId, session: SessionDep, caller: CallerDep) -> JobRead:
    """One background job with its status and result."""
    caller.require(Action.READ)
    return JobRead.model_validate(get_owned(session, Job, job_id, caller.organization_id))
