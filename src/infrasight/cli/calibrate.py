"""`infrasight calibrate ...` commands."""

import typer

app = typer.Typer(help="Camera and scale calibration from markers and ChArUco boards.", no_args_is_help=True)
