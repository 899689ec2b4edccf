"""``infrasight condition ASSET --standard S``: an asset's condition under a standard."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from infrasight.cli.common import console, exits_cleanly, open_platform
from infrasight.cli.i18n import t, words
from infrasight.cli.platform_cmds import organization_principal
from infrasight.core.errors import NotFoundError
from infrasight.locales.phrases import localised_text
from infrasight.services.condition import asset_condition
from infrasight.storage.models import Asset


@exits_cleanly
def condition(
    asset: Annotated[str, typer.Argument(help="Asset id or name")],
    standard: Annotated[str, typer.Option(help="aashto-mbei, nbi, jtg-h21 or tunnel-lining")],
    org: Annotated[str | None, typer.Option(help="Organisation (needed if several)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout")] = False,
) -> None:
    """Rate every element of ASSET under a standard, citing clauses and evidence."""
    with open_platform() as platform, platform.database.session() as session:
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
        result = asset_condition(session, caller.organization_id, asset_id, standard)
    if as_json:
        typer.echo(json.dumps({"asset_id": asset_id, **result.as_dict()}, indent=1))
        return
    tr, said = t(), words()
    table = Table(tr("subject"), tr("rating"), tr("label"), tr("clause"))
    for r in (*result.elements, *result.groups, result.summary):
        row = r.as_dict()
        table.add_row(
            r.subject,
            tr.number(r.rating, 2),
            localised_text(row.get("label_message"), r.label, said),
            localised_text(row.get("clause_message"), r.clause, said),
        )
    console.print(table)
