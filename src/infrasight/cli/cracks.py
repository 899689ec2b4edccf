"""`infrasight cracks ...` commands."""

import typer

app = typer.Typer(
    help="Crack segmentation: detect cracks in images and evaluate against masks.",
    no_args_is_help=True,
)
