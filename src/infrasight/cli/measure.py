"""`infrasight measure ...` commands."""

import typer

app = typer.Typer(help="Millimetre measurement: crack quantification and displacement tracking.", no_args_is_help=True)
