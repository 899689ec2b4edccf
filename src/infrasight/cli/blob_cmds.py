"""``infrasight blobs``: move the content-addressed blobs between the local folder and S3."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from sqlalchemy import select

from infrasight.cli.common import console, load_settings
from infrasight.cli.i18n import say
from infrasight.storage.blob_migration import copy_blobs
from infrasight.storage.blobs import open_blob_store
from infrasight.storage.db import Database
from infrasight.storage.models import Blob

app = typer.Typer(help="The blob store (images, masks, waveform records).", no_args_is_help=True)


@app.command("migrate")
def migrate(
    to: Annotated[
        str, typer.Option("--to", help="Target backend: 's3' (from the local folder) or 'local'")
    ],
) -> None:
    """Copy every blob into the other backend; run it again to resume (copied ones are skipped).

    The S3 side is named by the INFRASIGHT_S3_* settings, the local side by
    INFRASIGHT_DATA_DIR. Afterwards set INFRASIGHT_BLOB_BACKEND to the target.
    """
    if to not in ("s3", "local"):
        console.print(
            f"[red]{say('error:')}[/red] "
            + say("--to: must be 's3' or 'local', not {to}", to=repr(to))
        )
        raise typer.Exit(2)
    target_name: Literal["s3", "local"] = "s3" if to == "s3" else "local"
    source_name = "local" if target_name == "s3" else "s3"
    settings = load_settings()
    database = Database(settings)
    try:
        with database.session() as session:
            known = list(session.scalars(select(Blob.sha256)))
    finally:
        database.dispose()
    source = open_blob_store(settings, source_name)
    target = open_blob_store(settings, target_name)
    result = copy_blobs(source, target, known)
    console.print(
        say(
            "blobs {source} -> {target}: {copied} copied ({size} bytes), {present} already "
            "there, {missing} missing",
            source=source_name,
            target=target_name,
            copied=result.copied,
            size=result.bytes_copied,
            present=result.present,
            missing=len(result.missing),
        )
    )
    for digest in result.missing:
        console.print(f"[red]{say('missing:')}[/red] {digest}")
    if result.missing:
        raise typer.Exit(1)
