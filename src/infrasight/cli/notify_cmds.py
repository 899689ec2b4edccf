"""``infrasight notify``: subscriptions, the delivery log, a delivery pass and the SLA sweep."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from infrasight.cli.common import console, exits_cleanly, open_platform
from infrasight.cli.i18n import say
from infrasight.cli.platform_cmds import organization_principal
from infrasight.core.errors import ConflictError, NotFoundError
from infrasight.services.notify.subscriptions import (
    create_subscription,
    delete_subscription,
    rotate_secret,
)
from infrasight.storage.models import NotificationDelivery, NotificationSubscription

app = typer.Typer(help="Notifications: webhooks and e-mail, deliveries, SLA.", no_args_is_help=True)

OrgOption = Annotated[str | None, typer.Option(help="Organisation (needed if several)")]


@app.command("subscribe")
@exits_cleanly
def subscribe(
    channel: Annotated[str, typer.Option(help="webhook or email")],
    target: Annotated[str, typer.Option(help="Webhook URL or e-mail address")],
    kind: Annotated[list[str] | None, typer.Option(help="Event kind (repeat; none: all)")] = None,
    asset: Annotated[list[int] | None, typer.Option(help="Asset id (repeat; none: all)")] = None,
    min_severity: Annotated[int, typer.Option(help="Lowest severity, 0-5")] = 0,
    language: Annotated[str, typer.Option(help="en, zh-Hant or zh-Hans")] = "en",
    name: Annotated[str, typer.Option(help="A name for the list")] = "",
    org: OrgOption = None,
) -> None:
    """Subscribe a webhook or an e-mail address; a webhook's secret is printed only now."""
    with open_platform() as platform, platform.database.transaction() as session:
        caller = replace(organization_principal(session, org), name="cli:notify")
        own = [platform.settings.public_url] if platform.settings.public_url else []
        sub, secret = create_subscription(
            session,
            caller,
            name=name,
            channel=channel,
            target=target,
            event_kinds=kind or [],
            asset_ids=asset or [],
            min_severity=min_severity,
            language=language,
            own_urls=own,
        )
        out = {"id": sub.id, "channel": sub.channel, "target": sub.target}
    if secret:
        out["secret"] = secret
    typer.echo(json.dumps(out))


@app.command("subscriptions")
@exits_cleanly
def subscriptions(org: OrgOption = None) -> None:
    """List the subscriptions (never their secrets)."""
    with open_platform() as platform, platform.database.session() as session:
        caller = organization_principal(session, org)
        table = Table("id", "name", "channel", "target", "kinds", "min severity", "language", "on")
        for s in session.scalars(
            select(NotificationSubscription)
            .where(NotificationSubscription.organization_id == caller.organization_id)
            .order_by(NotificationSubscription.id)
        ):
            table.add_row(
                str(s.id),
                s.name,
                s.channel,
                s.target,
                ",".join(s.event_kinds) or "all",
                str(s.min_severity),
                s.language,
                "yes" if s.enabled else "no",
            )
    console.print(table)


@app.command("unsubscribe")
@exits_cleanly
def unsubscribe(subscription_id: Annotated[int, typer.Argument()], org: OrgOption = None) -> None:
    """Delete a subscription and its delivery log."""
    with open_platform() as platform, platform.database.transaction() as session:
        caller = replace(organization_principal(session, org), name="cli:notify")
        delete_subscription(session, caller, subscription_id)
    console.print(say("subscription {id} deleted", id=subscription_id))


@app.command("rotate")
@exits_cleanly
def rotate(
    subscription_id: Annotated[int, typer.Argument()],
    grace_hours: Annotated[float, typer.Option(help="Hours the old secret also signs")] = 24.0,
    org: OrgOption = None,
) -> None:
    """Give a webhook a new secret (printed only now)."""
    with open_platform() as platform, platform.database.transaction() as session:
        caller = replace(organization_principal(session, org), name="cli:notify")
        sub, secret = rotate_secret(session, caller, subscription_id, grace_hours=grace_hours)
        until = sub.previous_secret_until
    typer.echo(
        json.dumps(
            {
                "id": subscription_id,
                "secret": secret,
                "previous_valid_until": until.isoformat() if until else None,
            }
        )
    )


@app.command("deliveries")
@exits_cleanly
def deliveries(
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    org: OrgOption = None,
) -> None:
    """The delivery log, newest first (``--status dead``: the dead letters)."""
    with open_platform() as platform, platform.database.session() as session:
        caller = organization_principal(session, org)
        q = select(NotificationDelivery).where(
            NotificationDelivery.organization_id == caller.organization_id
        )
        if status:
            q = q.where(NotificationDelivery.status == status)
        table = Table("id", "event", "subscription", "status", "attempts", "last error")
        for d in session.scalars(q.order_by(NotificationDelivery.id.desc()).limit(limit)):
            table.add_row(
                str(d.id),
                str(d.event_id),
                str(d.subscription_id),
                d.status,
                str(d.attempts),
                d.last_error[:60],
            )
    console.print(table)


@app.command("retry")
@exits_cleanly
def retry(delivery_id: Annotated[int, typer.Argument()], org: OrgOption = None) -> None:
    """Send a dead-lettered delivery again (its attempts start over)."""
    with open_platform() as platform, platform.database.transaction() as session:
        caller = organization_principal(session, org)
        row = session.get(NotificationDelivery, delivery_id)
        if row is None or row.organization_id != caller.organization_id:
            raise NotFoundError(f"delivery {delivery_id} not found")
        if row.status != "dead":
            raise ConflictError(f"delivery {delivery_id} is {row.status}; only a dead one")
        row.status, row.attempts, row.last_error = "pending", 0, ""
        row.next_attempt_at = row.created_at
    console.print(say("delivery {id} queued again", id=delivery_id))


@app.command("send")
@exits_cleanly
def send() -> None:
    """One pass: turn queued facts into deliveries and send every due one (retries included)."""
    with open_platform() as platform:
        attempts = platform.notifier.run_once()
    ok = sum(1 for a in attempts if a.outcome.ok)
    typer.echo(
        json.dumps({"attempts": len(attempts), "delivered": ok, "failed": len(attempts) - ok})
    )


@app.command("sweep")
@exits_cleanly
def sweep() -> None:
    """Run the SLA sweep now: escalate unacknowledged alarms, unattended hazards, late work."""
    with open_platform() as platform:
        done = platform.notifier.sweep()
        attempts = platform.notifier.run_once()
    typer.echo(
        json.dumps(
            {
                "escalations": [
                    {
                        "subject": f"{e.subject_type}:{e.subject_id}",
                        "event": e.event,
                        "step": e.step,
                    }
                    for e in done
                ],
                "attempts": len(attempts),
            }
        )
    )
