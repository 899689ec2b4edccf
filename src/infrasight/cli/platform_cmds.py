"""Platform commands: serve, db upgrade, admin create, import readings, demo."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infrasight.cli.common import console, exits_cleanly, load_settings, open_platform
from infrasight.cli.i18n import say, word
from infrasight.core.domain import Role
from infrasight.core.errors import InvalidInputError
from infrasight.core.settings import Settings
from infrasight.locales import N_
from infrasight.services.accounts import (
    create_user,
    ensure_organization,
    find_user,
    revoke_tokens,
    set_password,
)
from infrasight.services.audit import record_audit
from infrasight.services.auth import Principal, TokenKind
from infrasight.services.ingest import ingest_readings, parse_csv_readings
from infrasight.storage.models import Organization

if TYPE_CHECKING:
    from infrasight.demo.seed import SeedOutcome

db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
admin_app = typer.Typer(help="Organisations and administrators.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk import of data files.", no_args_is_help=True)

IMPORT_CHUNK = 10_000


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes sharing the port (needs INFRASIGHT_WEB=false)")
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the web pages (at /)."""
    import uvicorn

    from infrasight.api.app import create_app

    settings = load_settings()
    if workers > 1:
        _serve_workers(settings, host, port, workers)
        return
    url = f"http://{host}:{port}"
    console.print(
        say("InfraSight on [bold]{url}[/bold] (web app: {url}/, API docs: /docs)", url=url)
        if settings.web
        else say("InfraSight on [bold]{url}[/bold] (API docs: /docs)", url=url)
    )
    app = create_app(settings)
    from infrasight.cli.field import start_bridge

    bridge = start_bridge(app.state.platform)  # INFRASIGHT_MQTT_URL set: MQTT ingest too
    try:
        # on SIGTERM uvicorn ends the process with the signal once the app has stopped; on
        # SIGINT it raises KeyboardInterrupt here
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
    finally:
        if bridge is not None:
            bridge.stop()
        if getattr(app.state, "stopped_cleanly", True) is False:
            # a job outlived INFRASIGHT_SHUTDOWN_GRACE_S: its thread cannot be stopped and the
            # interpreter would wait for it at exit; its row is taken up again at the next start
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """``workers`` API processes on one port (uvicorn's supervisor); no state is per process."""
    import uvicorn

    if settings.web:
        console.print(
            "[red]error:[/red] --workers: the web pages keep a page's live state in the process "
            "that served it, and processes sharing one port cannot route a browser back to it; "
            "set INFRASIGHT_WEB=false, or run separate `infrasight serve` processes behind a "
            "proxy with sticky sessions (docs/deployment.md)"
        )
        raise typer.Exit(2)
    if settings.mqtt_url:
        console.print(
            "[yellow]INFRASIGHT_MQTT_URL is set: run the MQTT bridge once, as its own process "
            "(`infrasight mqtt run`), not in each of the API processes[/yellow]"
        )
    console.print(
        say(
            "InfraSight API on [bold]{url}[/bold] in {workers} processes (API docs: /docs)",
            url=f"http://{host}:{port}",
            workers=workers,
        )
    )
    uvicorn.run(
        "infrasight.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        server_header=False,
        timeout_worker_healthcheck=120,  # a process importing the platform on busy cores is slow
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Create or upgrade the database schema."""
    from infrasight.storage.migrate import upgrade

    settings = load_settings()
    upgrade(settings, revision)
    console.print(
        say(
            "database at revision {revision}: {url}",
            revision=revision,
            url=settings.effective_database_url,
        )
    )


PasswordOption = Annotated[
    str | None,
    typer.Option(
        envvar="INFRASIGHT_ADMIN_PASSWORD",
        show_envvar=True,
        help="Password for e-mail login (prefer the environment variable or --ask-password: "
        "a command-line argument stays in the shell history)",
    ),
]
AskPasswordOption = Annotated[
    bool, typer.Option("--ask-password", help="Prompt for the password (hidden, asked twice)")
]


def _password(password: str | None, ask: bool) -> str | None:
    if ask:
        entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return entered
    return password


@admin_app.command("create")
@exits_cleanly
def admin_create(
    org: Annotated[str, typer.Option(help="Organisation (created if needed)")],
    email: Annotated[str, typer.Option(help="The administrator's e-mail address")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    password: PasswordOption = None,
    ask_password: AskPasswordOption = False,
) -> None:
    """Create an administrator; the last line of output is their new API token."""
    settings = load_settings()
    secret = _password(password, ask_password)
    with open_platform() as platform, platform.database.transaction() as session:
        organization, created = ensure_organization(session, org)
        user, token = create_user(
            session,
            organization,
            email,
            Role.ADMIN,
            name,
            password=secret,
            min_password_length=settings.password_min_length,
            token_days=settings.token_days,
        )
        actor = Principal(organization_id=organization.id, name="cli:admin", role=Role.ADMIN)
        record_audit(session, actor, "create", "user", user.id, {"role": "admin"})
    login = say("e-mail and password login enabled") if secret else say("no password (token only)")
    console.print(
        say(
            "created organisation {org}; admin {email}; {login}",
            org=repr(org),
            email=email,
            login=login,
        )
        if created
        else say(
            "using organisation {org}; admin {email}; {login}",
            org=repr(org),
            email=email,
            login=login,
        )
    )
    typer.echo(token)


@admin_app.command("password")
@exits_cleanly
def admin_password(
    org: Annotated[str, typer.Option(help="The user's organisation")],
    email: Annotated[str, typer.Option(help="The user's e-mail address")],
    password: PasswordOption = None,
    ask_password: AskPasswordOption = False,
) -> None:
    """Set or reset a user's password (e.g. to recover a locked-out organisation)."""
    settings = load_settings()
    secret = _password(password, ask_password)
    if not secret:
        raise InvalidInputError(
            "give it with INFRASIGHT_ADMIN_PASSWORD, --ask-password or --password",
            field="password",
        )
    with open_platform() as platform, platform.database.transaction() as session:
        user = find_user(session, org, email)
        set_password(session, user, secret, min_length=settings.password_min_length)
        revoke_tokens(session, user, kind=TokenKind.SESSION)
        actor = Principal(organization_id=user.organization_id, name="cli:admin", role=Role.ADMIN)
        record_audit(session, actor, "set_password", "user", user.id)
    console.print(
        say(
            "password of {email} in {org} set; their login sessions ended",
            email=email,
            org=repr(org),
        )
    )


def organization_principal(session: Session, org: str | None) -> Principal:
    """Act as an engineer of ``org`` (or of the only organisation)."""
    if org is None:
        count = session.scalar(select(func.count()).select_from(Organization))
        if count != 1:
            raise InvalidInputError("several organisations exist: name one with --org", field="org")
        organization = session.scalars(select(Organization)).one()
    else:
        found = session.scalars(select(Organization).where(Organization.name == org))
        organization_or_none = found.one_or_none()
        if organization_or_none is None:
            raise InvalidInputError(f"no organisation called {org!r}", field="org")
        organization = organization_or_none
    return Principal(organization_id=organization.id, name="cli:import", role=Role.ENGINEER)


@import_app.command("readings")
@exits_cleanly
def import_readings(
    file: Annotated[Path, typer.Argument(help="CSV: channel,time,value[,unit]", exists=True)],
    org: Annotated[str | None, typer.Option(help="Organisation (needed if several)")] = None,
) -> None:
    """Import readings from a CSV file in one transaction: all of it, or nothing."""
    settings = load_settings()
    batch = parse_csv_readings(file.read_bytes(), max_readings=10**9)
    accepted = duplicates = 0
    events = []
    with open_platform() as platform:
        with platform.database.transaction() as session:
            caller = organization_principal(session, org)
            progress = Progress(
                TextColumn("[bold]importing[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            with progress:
                task = progress.add_task(say("readings"), total=len(batch))
                for start in range(0, len(batch), IMPORT_CHUNK):
                    chunk = batch.slice(start, start + IMPORT_CHUNK)
                    result = ingest_readings(
                        session, caller, chunk, future_tolerance_s=settings.future_tolerance_s
                    )
                    accepted += result.accepted
                    duplicates += result.duplicates
                    if result.event is not None:
                        events.append(result.event)
                    progress.advance(task, len(chunk))
        for event in events:
            platform.bus.publish(event)
    console.print(
        say(
            "imported {accepted} readings ({duplicates} duplicates skipped)",
            accepted=accepted,
            duplicates=duplicates,
        )
    )
    typer.echo(f'{{"accepted": {accepted}, "duplicates": {duplicates}}}')


@exits_cleanly
def demo(
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days of 10-minute data")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
) -> None:
    """Seed the demo organisation (idempotent); the last line is an admin API token."""
    from infrasight.demo.seed import seed_demo

    with open_platform() as platform:
        outcome = seed_demo(
            platform,
            days=days,
            seed=seed,
            console=console,
            progress_label=say("seeding readings"),
        )
    console.print(_demo_summary(outcome))
    typer.echo(outcome.token)


#: What happened to the demo's work orders (the closed loop's phrases), by their names.
_WORK_ORDER_FATES = (
    N_("closed after a passed verification"),
    N_("reopened after a failed verification"),
    N_("verifying"),
    N_("in progress"),
)


def _demo_summary(outcome: SeedOutcome) -> str:
    """The demo's summary line in the CLI's language (English: as the seeder wrote it)."""
    from infrasight.demo.seed import DEMO_ADMIN_EMAIL, DEMO_ORGANIZATION, DEMO_PASSWORD

    login = {"email": DEMO_ADMIN_EMAIL, "password": repr(DEMO_PASSWORD)}
    if not outcome.created:
        return say(
            "demo organisation {org} already seeded; log in as {email} with password {password}",
            org=repr(DEMO_ORGANIZATION),
            **login,
        )
    orders = [
        say("{count} {fate}", count=n, fate=word(what)) for what, n in outcome.work_orders.items()
    ]
    listed = orders[0] if orders else say("none")
    for item in orders[1:]:
        listed = say("{first}, {then}", first=listed, then=item)
    return say(
        "seeded {org}: 2 assets, {channels} channels, {readings:,} readings over {days} days, "
        "{captures} captures, {rules} alarm rules ({alarms} alarms raised), {hazards} hazards; "
        "work orders: {orders}; log in as {email} with password {password}",
        org=repr(DEMO_ORGANIZATION),
        orders=listed,
        **outcome.figures,
        **login,
    )


@admin_app.command("retention")
@exits_cleanly
def admin_retention(
    org: Annotated[str, typer.Option(help="The organisation")],
    days: Annotated[
        int, typer.Option(help="Keep raw readings this many days; 0 keeps them for ever")
    ],
) -> None:
    """Set how long raw readings are kept (PostgreSQL keeps the hourly/daily roll-ups)."""
    from infrasight.services.readings_maintenance import set_retention

    with open_platform() as platform, platform.database.transaction() as session:
        organization = set_retention(session, org, days or None)
        actor = Principal(organization_id=organization.id, name="cli:admin", role=Role.ADMIN)
        record_audit(
            session, actor, "update", "organization", organization.id, {"raw_retention_days": days}
        )
        dialect = session.get_bind().dialect.name
    console.print(
        say("raw readings of {org} kept {days} days", org=repr(org), days=days)
        if days
        else say("raw readings of {org} kept for ever", org=repr(org))
    )
    if days and dialect != "postgresql":
        console.print(
            say("note: retention applies on PostgreSQL only (where roll-ups keep summaries)")
        )
