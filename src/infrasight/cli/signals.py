"""`infrasight signals ...` commands."""

import typer

app = typer.Typer(help="Signal analytics: anomaly scores, modal analysis, forecasts and alarm rules.", no_args_is_help=True)
