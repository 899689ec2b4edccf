"""What Click prints itself, in the CLI's language: the ``Usage:`` line and the errors in the
arguments (``Missing option``, ``No such option``, ``Invalid value``...).

Typer ships its own copy of Click (``typer._click``) whose texts are English f-strings, not
gettext calls, so no gettext set-up could translate them (and setting gettext's global domain
would change every library of the process). Instead, per run of the CLI and only on its own
command tree:

- **the usage line**: each command's ``format_usage`` is given the ``Usage:`` prefix of the
  run's language (a msgid of the ``cli_help`` catalogue, :func:`localise_usage`);
- **argument errors**: the root command (:class:`~infrasight.cli.help_texts.LocalisedGroup`)
  catches Click's exception as it leaves parsing or a command and gives it the message in the
  run's language (:func:`localise_click_error`). The English message is matched against the
  templates of the ``errors`` catalogue like every other error
  (:mod:`infrasight.locales.errors`); Click's templates are listed in
  ``locales/error_sources.toml`` (``extra``), and a nested message (pydantic's ``Input should
  be ...``) is translated too. The exception is then shown by Typer as usual.

Typer's module-wide texts around an error (the ``Error`` panel's title, ``Try ... for help``)
are set with the help headings (:func:`infrasight.cli.help_texts.localise`). Nothing changes in
English: the prefix is Click's own and an English message is left as it is.
"""

from __future__ import annotations

from typing import Any

try:  # Typer >= 0.29 carries its own copy of Click; older ones use the click package
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click.exceptions import ClickException  # type: ignore[assignment,no-redef]

from infrasight.locales import DEFAULT_LOCALE, Translator
from infrasight.locales.errors import error_translator, localise_message

__all__ = ["USAGE", "ClickException", "localise_click_error", "localise_usage"]

#: Click's usage prefix (``HelpFormatter.write_usage``), a msgid of ``cli_help``.
USAGE = "Usage:"
_ORIGINAL = "_infrasight_format_usage"


def localise_usage(command: Any, t: Translator) -> None:
    """Give ``command``'s usage line the ``Usage:`` prefix of ``t``'s locale."""
    original = command.__dict__.get(_ORIGINAL) or command.format_usage
    setattr(command, _ORIGINAL, original)
    prefix = f"{t.messages.get(USAGE, USAGE)} "

    def format_usage(ctx: Any, formatter: Any) -> None:
        write = formatter.write_usage

        def write_usage(prog: str, args: str = "", prefix_: str | None = None) -> None:
            write(prog, args, prefix if prefix_ is None else prefix_)

        formatter.write_usage = write_usage
        original(ctx, formatter)

    command.format_usage = format_usage


def localise_click_error(error: ClickException, locale: str) -> None:
    """Make ``error`` (Click's) say its message in ``locale`` when Typer shows it."""
    if locale == DEFAULT_LOCALE:
        return
    said = localise_message(error.format_message(), error_translator(locale), record=False)
    error.format_message = lambda: said  # type: ignore[method-assign]
