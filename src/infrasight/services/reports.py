"""PDF reports of an asset and period: requested as a row and a durable job, rendered to a blob.

``request_report`` validates and writes the ``reports`` row with its ``render_report`` job in one
transaction (call ``platform.jobs.enqueue(report.job_id)`` after the commit). The job assembles
the content (``reports.assemble``), renders it (``reports.render``), stores the PDF in the blob
store and fills the row. It is idempotent: a report that already has its PDF is not rendered
again, and the blob store keeps identical bytes once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from infrasight.core.errors import InvalidInputError, NotFoundError
from infrasight.jobs.runner import JobContext, JobRunner
from infrasight.reports.i18n import LANGUAGES
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal
from infrasight.services.document_texts import index_document
from infrasight.storage.blobs import register_blob
from infrasight.storage.models import Asset, Report

if TYPE_CHECKING:
    from infrasight.platform import Platform

__all__ = ["MAX_PERIOD_DAYS", "RENDER_REPORT", "register_reports", "render_job", "request_report"]

_LOGGER = logging.getLogger(__name__)
RENDER_REPORT = "render_report"
MAX_PERIOD_DAYS = 3660


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def request_report(
    session: Session,
    jobs: JobRunner,
    caller: Principal,
    *,
    asset_id: int,
    start: datetime,
    end: datetime,
    language: str,
) -> Report:
    """Write a report row and its render job (not committed).

    Raises
    ------
    NotFoundError
        No such asset in the caller's organisation.
    InvalidInputError
        An unknown language (``language``), or a period that is empty, reversed or longer than
        ten years (``end``).
    """
    asset = session.get(Asset, asset_id)
    if asset is None or asset.organization_id != caller.organization_id:
        raise NotFoundError(f"asset {asset_id} not found")
    if language not in LANGUAGES:
        raise InvalidInputError(
            f"unknown language {language!r}; one of {', '.join(LANGUAGES)}", field="language"
        )
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise InvalidInputError("the period must end after it starts", field="end")
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise InvalidInputError(f"the period is longer than {MAX_PERIOD_DAYS} days", field="end")
    job = jobs.create(session, RENDER_REPORT, {}, caller.organization_id)
    report = Report(
        organization_id=caller.organization_id,
        asset_id=asset_id,
        job_id=job.id,
        language=language,
        period_start=start,
        period_end=end,
        created_by=caller.name,
    )
    session.add(report)
    session.flush()
    job.arguments = {"report_id": report.id}
    record_audit(session, caller, "create", "report", report.id)
    return report


def render_job(context: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Render a requested report into the blob store (idempotent)."""
    from infrasight.reports.assemble import assemble_report
    from infrasight.reports.render import render_report

    report_id = int(arguments["report_id"])
    with context.database.session() as session:
        report = session.get(Report, report_id)
        if report is None:
            raise LookupError(f"report {report_id} no longer exists")
        if report.blob_sha256 is not None:
            return {"report_id": report_id, "sha256": report.blob_sha256, "skipped": True}
        content = assemble_report(
            session,
            context.blobs,
            organization_id=report.organization_id,
            asset_id=report.asset_id,
            start=report.period_start,
            end=report.period_end,
            max_pixels=context.settings.max_image_pixels,
        )
        language = report.language
    rendered = render_report(content, language)
    digest, _new = context.blobs.put(rendered.pdf)
    with context.database.transaction() as session:
        register_blob(session, digest, len(rendered.pdf), "application/pdf")
        index_document(session, digest, rendered.pdf, "application/pdf")  # assistant search
        report = session.get(Report, report_id)
        if report is None:
            raise LookupError(f"report {report_id} no longer exists")
        report.blob_sha256 = digest
        report.size_bytes = len(rendered.pdf)
        report.pages = rendered.pages
        report.missing_glyphs = rendered.missing_glyphs
        report.finished_at = datetime.now(UTC)
    if rendered.missing_glyphs:
        _LOGGER.warning(
            "report %s: no font has %d characters: %s",
            report_id,
            len(rendered.missing_glyphs),
            rendered.missing_glyphs[:40],
        )
    return {
        "report_id": report_id,
        "sha256": digest,
        "size_bytes": len(rendered.pdf),
        "pages": rendered.pages,
        "defects": len(content.defects),
    }


def register_reports(platform: Platform) -> None:
    """Make the platform's job runner render reports."""
    platform.jobs.register(RENDER_REPORT, render_job)
