"""Command-line interface (Typer); ``infrasight --help`` lists the commands."""
