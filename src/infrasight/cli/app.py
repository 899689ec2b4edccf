"""The ``infrasight`` command: one Typer app that mounts each area's sub-commands."""

from __future__ import annotations

from typing import Annotated

import typer

from infrasight.cli import (
    alarm_cmds,
    ask_cmd,
    blob_cmds,
    calibrate,
    condition_cmd,
    cracks,
    field,
    hazard_cmds,
    measure,
    notify_cmds,
    platform_cmds,
    report_cmd,
    signals,
    worker_cmds,
    workorder_cmds,
)
from infrasight.cli.help_texts import LocalisedGroup
from infrasight.cli.i18n import LANG_ENV, set_locale
from infrasight.core.errors import InvalidInputError

app = typer.Typer(
    cls=LocalisedGroup,
    help="InfraSight: AI-driven safety monitoring of bridges, tunnels and rail lines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Language of what is printed for a person: en, zh-Hant or zh-Hans (default: "
            f"${LANG_ENV}, else LC_ALL / LC_MESSAGES / LANG, else en); JSON output is unchanged.",
        ),
    ] = None,
) -> None:
    """InfraSight: AI-driven safety monitoring of bridges, tunnels and rail lines."""
    try:
        set_locale(lang)
    except InvalidInputError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err


app.command("serve")(platform_cmds.serve)
app.command("demo")(platform_cmds.demo)
app.add_typer(platform_cmds.db_app, name="db")
app.add_typer(platform_cmds.admin_app, name="admin")
app.add_typer(platform_cmds.import_app, name="import")
app.add_typer(alarm_cmds.rules_app, name="rules")
app.add_typer(alarm_cmds.alarms_app, name="alarms")
app.add_typer(cracks.app, name="cracks")
app.add_typer(measure.app, name="measure")
app.add_typer(calibrate.app, name="calibrate")
app.add_typer(signals.app, name="signals")
app.command("condition")(condition_cmd.condition)
app.command("report")(report_cmd.report)
app.add_typer(hazard_cmds.app, name="hazards")
app.add_typer(field.mqtt_app, name="mqtt")
app.add_typer(field.edge_app, name="edge")
app.add_typer(workorder_cmds.app, name="workorders")
app.add_typer(notify_cmds.app, name="notify")
app.command("ask")(ask_cmd.ask)
app.add_typer(blob_cmds.app, name="blobs")
app.command("worker")(worker_cmds.worker)
app.command("scheduler")(worker_cmds.scheduler)


def main() -> None:
    """Entry point of the ``infrasight`` console script."""
    app()
