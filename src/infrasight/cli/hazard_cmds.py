"""``infrasight hazards list|show|update``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from infrasight.cli.common import console, exits_cleanly, open_platform
from infrasight.cli.i18n import t, word
from infrasight.cli.platform_cmds import organization_principal
from infrasight.core.errors import NotFoundError
from infrasight.services.hazards import update_hazards
from infrasight.storage.models import Hazard, HazardEvidenceLink

app = typer.Typer(help="Hazards: at-risk elements with ranked root causes.", no_args_is_help=True)


@app.command("list")
@exits_cleanly
def list_hazards(
    org: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="open, acknowledged, ...")] = None,
) -> None:
    """List hazards, highest risk first."""
    with open_platform() as platform, platform.database.session() as session:
        caller = organization_principal(session, org)
        q = select(Hazard).where(Hazard.organization_id == caller.organization_id)
        if status:
            q = q.where(Hazard.status == status)
        tr = t()
        table = Table(
            tr("id"),
            tr("asset"),
            tr("element"),
            tr("mechanism"),
            tr("kind"),
            tr("status"),
            tr("risk"),
            tr("confidence"),
        )
        for h in session.scalars(q.order_by(Hazard.risk.desc(), Hazard.id)):
            table.add_row(
                str(h.id),
                str(h.asset_id),
                str(h.element_id),
                word(h.mechanism),
                word(h.hazard_kind),
                word(h.status),
                f"{h.risk} {word(h.risk_band)}",
                tr.fixed(h.confidence, 2),
            )
    console.print(table)


@app.command("show")
@exits_cleanly
def show(
    hazard_id: Annotated[int, typer.Argument()],
    org: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print one hazard as JSON: causes with evidence for and against, and its evidence."""
    with open_platform() as platform, platform.database.session() as session:
        caller = organization_principal(session, org)
        h = session.get(Hazard, hazard_id)
        if h is None or h.organization_id != caller.organization_id:
            raise NotFoundError(f"hazard {hazard_id} not found")
        evidence = [
            {"ref": e.ref, "test": e.test, "detail": e.detail}
            for e in session.scalars(
                select(HazardEvidenceLink).where(HazardEvidenceLink.hazard_id == h.id)
            )
        ]
        doc = {
            "id": h.id,
            "asset_id": h.asset_id,
            "element_id": h.element_id,
            "mechanism": h.mechanism,
            "status": h.status,
            "risk": h.risk,
            "risk_band": h.risk_band,
            "causes": h.causes,
            "prediction": h.prediction,
            "evidence": evidence,
        }
    typer.echo(json.dumps(doc, indent=1))


@app.command("update")
@exits_cleanly
def update(
    asset_id: Annotated[int, typer.Argument()],
    org: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Derive an asset's hazards from its stored readings and defects (idempotent)."""
    with open_platform() as platform, platform.database.transaction() as session:
        caller = organization_principal(session, org)
        ids = update_hazards(session, caller.organization_id, asset_id)
    tr = t()
    changed = ", ".join(str(i) for i in ids) if ids else tr("none")
    console.print(tr("hazards opened or changed: {ids}", ids=changed))
