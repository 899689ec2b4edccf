"""``infrasight workorders list|show|move|verify``."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from infrasight.cli.common import console, exits_cleanly, open_platform
from infrasight.cli.i18n import t, word, words
from infrasight.cli.platform_cmds import organization_principal
from infrasight.locales.phrases import localised_detail
from infrasight.reasoning.work_orders import WorkOrderStatus, allowed_targets
from infrasight.services.work_orders import get_work_order, transition_work_order
from infrasight.storage.models import WorkOrder, WorkOrderComment, WorkOrderEvent

app = typer.Typer(help="Work orders: remediation of hazards.", no_args_is_help=True)


@app.command("list")
@exits_cleanly
def list_work_orders(
    org: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="open, assigned, in_progress, ...")] = None,
    hazard: Annotated[int | None, typer.Option(help="Only this hazard's")] = None,
) -> None:
    """List work orders, soonest due first."""
    with open_platform() as platform, platform.database.session() as session:
        caller = organization_principal(session, org)
        q = select(WorkOrder).where(WorkOrder.organization_id == caller.organization_id)
        if status:
            q = q.where(WorkOrder.status == status)
        if hazard is not None:
            q = q.where(WorkOrder.hazard_id == hazard)
        tr = t()
        table = Table(
            tr("id"),
            tr("hazard"),
            tr("asset"),
            tr("title"),
            tr("status"),
            tr("assignee"),
            tr("due"),
        )
        for w in session.scalars(q.order_by(WorkOrder.due_at, WorkOrder.id)):
            table.add_row(
                str(w.id),
                str(w.hazard_id),
                str(w.asset_id),
                localised_detail(w.title_message, w.title, words()),
                word(w.status),
                str(w.assignee_id or "-"),
                tr.date(w.due_at),
            )
    console.print(table)


@app.command("show")
@exits_cleanly
def show(
    work_order_id: Annotated[int, typer.Argument()],
    org: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print one work order as JSON with its events (who, when, note) and comments."""
    with open_platform() as platform, platform.database.session() as session:
        caller = organization_principal(session, org)
        w = get_work_order(session, caller, work_order_id)
        events = session.scalars(
            select(WorkOrderEvent)
            .where(WorkOrderEvent.work_order_id == w.id)
            .order_by(WorkOrderEvent.id)
        )
        comments = session.scalars(
            select(WorkOrderComment)
            .where(WorkOrderComment.work_order_id == w.id)
            .order_by(WorkOrderComment.id)
        )
        doc = {
            "id": w.id,
            "hazard_id": w.hazard_id,
            "asset_id": w.asset_id,
            "title": w.title,
            "action": w.action_id,
            "rank": w.action_rank,
            "choice_reason": w.choice_reason,
            "status": w.status,
            "assignee_id": w.assignee_id,
            "due_at": w.due_at.isoformat(),
            "allowed_transitions": [str(s) for s in allowed_targets(WorkOrderStatus(w.status))],
            "events": [
                {
                    "kind": e.kind,
                    "from": e.from_status,
                    "to": e.to_status,
                    "note": e.note,
                    "actor": e.actor,
                    "at": e.at.isoformat(),
                }
                for e in events
            ],
            "comments": [{"author": c.author, "body": c.body} for c in comments],
        }
    typer.echo(json.dumps(doc, indent=1))


@app.command("move")
@exits_cleanly
def move(
    work_order_id: Annotated[int, typer.Argument()],
    to: Annotated[str, typer.Argument(help="Target state")],
    note: Annotated[str, typer.Option(help="Reason (required to cancel or reopen)")] = "",
    actor: Annotated[str, typer.Option(help="Who moves it (recorded)")] = "cli",
    org: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Move a work order to another state by the lifecycle table (audited)."""
    with open_platform() as platform, platform.database.transaction() as session:
        caller = replace(organization_principal(session, org), name=f"cli:{actor}")
        w = transition_work_order(session, caller, work_order_id, to, note)
        status = w.status
    tr = t()
    console.print(tr("work order {id}: {status}", id=work_order_id, status=word(status)))


@app.command("verify")
@exits_cleanly
def verify(
    work_order_id: Annotated[int, typer.Argument()],
    period_days: Annotated[
        float | None, typer.Option(help="Observation period after completion, days")
    ] = None,
    note: Annotated[str, typer.Option(help="Sign-off note")] = "",
    actor: Annotated[str, typer.Option(help="Who signs off (recorded)")] = "cli",
    org: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Verify a completed repair from the measurements after it: passed closes the work order
    and resolves its hazard, failed reopens both, pending waits (prints the checks as JSON)."""
    from infrasight.services.verification import verify_work_order

    with open_platform() as platform, platform.database.transaction() as session:
        caller = replace(organization_principal(session, org), name=f"cli:{actor}")
        v = verify_work_order(session, caller, work_order_id, period_days=period_days, note=note)
        doc = {
            "work_order_id": work_order_id,
            "verification_id": v.id,
            "method": v.method,
            "outcome": v.outcome,
            "period_days": v.period_days,
            "checks": v.evidence,
        }
    typer.echo(json.dumps(doc, indent=1))
