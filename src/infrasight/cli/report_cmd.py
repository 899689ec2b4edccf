"""``infrasight report ASSET --from --to --lang --out FILE.pdf``: an asset's PDF report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from infrasight.cli.common import console, exits_cleanly, open_platform
from infrasight.cli.i18n import cli_locale, t
from infrasight.cli.platform_cmds import organization_principal
from infrasight.core.errors import InfraSightError, InvalidInputError, NotFoundError
from infrasight.core.timeparse import parse_time_us, us_to_datetime
from infrasight.services.reports import request_report
from infrasight.storage.models import Asset, Job, Report


def _time(text: str, option: str) -> int:
    try:
        return parse_time_us(text)
    except (ValueError, InvalidInputError) as err:
        raise InvalidInputError(f"{option}: {err}", field=option) from err


@exits_cleanly
def report(
    asset: Annotated[str, typer.Argument(help="Asset id or name")],
    start: Annotated[str, typer.Option("--from", help="Start of the period (ISO-8601)")],
    end: Annotated[str, typer.Option("--to", help="End of the period (ISO-8601, exclusive)")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF")],
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="en, zh-Hant or zh-Hans (default: the CLI's language)"),
    ] = None,
    org: Annotated[str | None, typer.Option(help="Organisation (needed if several)")] = None,
) -> None:
    """Render the PDF inspection report of ASSET over a period (stored, then written to --out)."""
    start_us, end_us = _time(start, "--from"), _time(end, "--to")
    with open_platform() as platform:
        with platform.database.transaction() as session:
            caller = organization_principal(session, org)
            query = select(Asset.id).where(Asset.organization_id == caller.organization_id)
            query = (
                query.where(Asset.id == int(asset))
                if asset.isdigit()
                else query.where(Asset.name == asset)
            )
            asset_id = session.scalar(query)
            if asset_id is None:
                raise NotFoundError(f"asset {asset!r} not found")
            row = request_report(
                session,
                platform.jobs,
                caller,
                asset_id=asset_id,
                start=us_to_datetime(start_us),
                end=us_to_datetime(end_us),
                language=lang or cli_locale(),
            )
            report_id, job_id = row.id, row.job_id
        assert job_id is not None
        with console.status("rendering the report"):
            platform.jobs.execute(job_id)
        with platform.database.session() as session:
            stored = session.get(Report, report_id)
            job = session.get(Job, job_id)
            if stored is None or stored.blob_sha256 is None:
                raise InfraSightError(f"the report failed: {job.error if job else 'unknown'}")
            out.write_bytes(platform.blobs.get(stored.blob_sha256))
            pages, size, missing = stored.pages, stored.size_bytes, stored.missing_glyphs
    tr = t()
    console.print(
        tr(
            "report {id}: {pages} pages, {size} bytes -> {out}",
            id=report_id,
            pages=pages,
            size=size,
            out=out,
        )
    )
    if missing:
        warning = tr("warning: no font has these characters: {missing}", missing=missing)
        console.print(f"[yellow]{warning}[/yellow]")
