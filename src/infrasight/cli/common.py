"""What every platform command shares: settings, the platform, errors as exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from infrasight.cli.i18n import error_text, t
from infrasight.core.errors import InfraSightError, InvalidInputError
from infrasight.core.settings import Settings
from infrasight.platform import Platform

__all__ = ["console", "exits_cleanly", "load_settings", "open_platform"]

console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def load_settings() -> Settings:
    """Settings from the environment; a bad value exits with code 2 and names it."""
    try:
        return Settings()
    except ValidationError as err:
        console.print(f"[red]error:[/red] invalid configuration: {err}")
        raise typer.Exit(2) from err


@contextmanager
def open_platform(workers: int = 0) -> Iterator[Platform]:
    """A platform for one command, closed afterwards."""
    platform = Platform.create(load_settings(), workers=workers)
    try:
        yield platform
    finally:
        platform.close()


def exits_cleanly(function: Callable[P, R]) -> Callable[P, R]:
    """Turn InfraSight errors into a one-line message and exit code 2 (input) or 1."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except InvalidInputError as err:
            tr = t()
            prefix = tr("error:")
            console.print(f"[red]{prefix}[/red] {error_text(err)}")
            raise typer.Exit(2) from err
        except InfraSightError as err:
            tr = t()
            prefix = tr("error:")
            console.print(f"[red]{prefix}[/red] {error_text(err)}")
            raise typer.Exit(1) from err

    return wrapper
