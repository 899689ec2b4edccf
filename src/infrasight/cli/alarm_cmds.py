"""Commands for stored alarm rules and their alarms: ``infrasight rules``, ``alarms``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from infrasight.cli.common import console, exits_cleanly, open_platform
from infrasight.cli.i18n import cli_locale, t, word
from infrasight.cli.platform_cmds import organization_principal
from infrasight.core.errors import InvalidInputError
from infrasight.locales.rules import rule_summary
from infrasight.services.alarms import (
    acknowledge_alarm,
    check_rule_channels,
    parse_rule_definition,
    rule_definition,
)
from infrasight.storage.models import AlarmRecord, AlarmRule

rules_app = typer.Typer(help="Alarm rules stored in the platform.", no_args_is_help=True)
alarms_app = typer.Typer(help="Alarms raised by the rules.", no_args_is_help=True)


@rules_app.command("add")
@exits_cleanly
def add_rules(
    file: Annotated[Path, typer.Argument(help="JSON: one rule or a list of rules", exists=True)],
    org: Annotated[str | None, typer.Option(help="Organisation (needed if several)")] = None,
    escalate_after_s: Annotated[float | None, typer.Option(min=1)] = None,
) -> None:
    """Add rules from a JSON file (all of them, or none when one is invalid)."""
    try:
        document = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"{file} is not valid JSON ({err})") from err
    definitions = document if isinstance(document, list) else [document]
    with open_platform() as platform, platform.database.transaction() as session:
        caller = organization_principal(session, org)
        for definition in definitions:
            rule = parse_rule_definition(definition)
            check_rule_channels(session, caller.organization_id, rule)
            session.add(
                AlarmRule(
                    organization_id=caller.organization_id,
                    key=rule.id,
                    definition=rule_definition(rule),
                    escalate_after_s=escalate_after_s,
                )
            )
    tr = t()
    console.print(tr("added {count} rule(s)", count=len(definitions)))


@rules_app.command("list")
@exits_cleanly
def list_rules(org: Annotated[str | None, typer.Option()] = None) -> None:
    """List the organisation's rules."""
    with open_platform() as platform, platform.database.session() as session:
        caller = organization_principal(session, org)
        tr = t()
        table = Table(tr("id"), tr("rule"), tr("summary"), tr("enabled"))
        for row in session.scalars(
            select(AlarmRule).where(AlarmRule.organization_id == caller.organization_id)
        ):
            table.add_row(
                str(row.id),
                row.key,
                rule_summary(row.definition, cli_locale()),
                tr("yes") if row.enabled else tr("no"),
            )
    console.print(table)


@alarms_app.command("list")
@exits_cleanly
def list_alarms(
    org: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="active, acknowledged or cleared")] = None,
) -> None:
    """List alarms, most severe first."""
    with open_platform() as platform, platform.database.session() as session:
        caller = organization_principal(session, org)
        query = select(AlarmRecord).where(AlarmRecord.organization_id == caller.organization_id)
        if status:
            query = query.where(AlarmRecord.status == status)
        tr = t()
        table = Table(
            tr("id"),
            tr("alarm"),
            tr("category"),
            tr("level"),
            tr("status"),
            tr("raised at"),
        )
        for row in session.scalars(query.order_by(AlarmRecord.severity.desc())):
            table.add_row(
                str(row.id),
                row.key,
                word(row.category),
                word(row.level_name),
                word(row.status),
                tr.datetime(row.raised_at),
            )
    console.print(table)


@alarms_app.command("ack")
@exits_cleanly
def ack(
    alarm_id: Annotated[int, typer.Argument(help="Alarm id")],
    by: Annotated[str, typer.Option(help="Who acknowledges (name or e-mail)")],
    note: Annotated[str, typer.Option()] = "",
    org: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Acknowledge an active alarm."""
    with open_platform() as platform, platform.database.transaction() as session:
        caller = organization_principal(session, org)
        record = acknowledge_alarm(session, caller.organization_id, alarm_id, by, note)
        key = record.key
    tr = t()
    console.print(tr("alarm {id} ({key}) acknowledged by {by}", id=alarm_id, key=key, by=by))
