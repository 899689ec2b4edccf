"""``--help`` in the CLI's language (Babel domain ``cli_help``).

Typer builds the Click commands from the functions' docstrings and ``help=`` texts, in English;
those texts are the msgids of the ``cli_help`` catalogue (with the headings and notes Typer
prints around them: ``Options``, ``[default: {}]``...). The root command's class,
:class:`LocalisedGroup`, translates the command tree once per run, before Click parses the
arguments: the language is ``--lang`` read ahead from the arguments (it is an option of the root
command, so Click would parse it only after ``--help`` has been answered), else the
environment's (:func:`infrasight.cli.i18n.locale_from_environment`). A text with no translation
stays English. Click's own usage line and argument errors are said in the run's language too
(:mod:`infrasight.cli.click_texts`).

After changing a help text: ``python -m infrasight.cli.help_texts`` (``--check`` exits 1 when
the catalogues are stale), then translate the empty entries of the two Chinese
``cli_help.po``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import typer
import typer.rich_utils as rich_utils
from typer.core import TyperGroup

from infrasight.cli.click_texts import (
    USAGE,
    ClickException,
    localise_click_error,
    localise_usage,
)
from infrasight.cli.i18n import known_locale, locale_from_environment
from infrasight.locales import DEFAULT_LOCALE, Translator, translator

__all__ = ["HELP_DOMAIN", "LocalisedGroup", "help_texts", "lang_from_args", "localise", "main"]

_LOGGER = logging.getLogger(__name__)
HELP_DOMAIN = "cli_help"
_HEADER = (
    '# The command line\'s --help texts (domain "cli_help"), from the Typer app.\n'
    "# Rebuilt by `python -m infrasight.cli.help_texts`; translate the empty entries."
)
#: Texts Typer prints around the help texts (module attributes of ``typer.rich_utils``).
_TYPER_TEXTS: Mapping[str, str] = {
    name: str(getattr(rich_utils, name))
    for name in (
        "ARGUMENTS_PANEL_TITLE",
        "OPTIONS_PANEL_TITLE",
        "COMMANDS_PANEL_TITLE",
        "DEFAULT_STRING",
        "ENVVAR_STRING",
        "REQUIRED_LONG_STRING",
        "DEPRECATED_STRING",
        "ERRORS_PANEL_TITLE",
        "ABORTED_TEXT",
        "RICH_HELP",
    )
}
#: Help of the ``--help`` option itself (Click adds it when the help is asked for).
_HELP_OPTION = "Show this message and exit."


def _commands(command: Any) -> Iterator[Any]:
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _commands(sub)


def help_texts(command: Any, *, around: bool = True) -> tuple[str, ...]:
    """Every help text of ``command``'s tree (commands, then their parameters), in order, and
    (``around``) the texts Typer and Click print around them."""
    found: dict[str, None] = {}
    for cmd in _commands(command):
        for text in (cmd.help, cmd.short_help, getattr(cmd, "epilog", None)):
            if text:
                found.setdefault(text, None)
        for param in cmd.params:
            if getattr(param, "help", None):
                found.setdefault(param.help, None)
    for text in (*_TYPER_TEXTS.values(), _HELP_OPTION, USAGE) if around else ():
        found.setdefault(text, None)
    return tuple(found)


def localise(command: Any, t: Translator) -> None:
    """Translate ``command``'s tree in place (and Typer's headings, which are module-wide)."""
    say = t.messages.get
    for cmd in _commands(command):
        cmd.help = say(cmd.help, cmd.help) if cmd.help else cmd.help
        cmd.short_help = say(cmd.short_help, cmd.short_help) if cmd.short_help else None
        for param in cmd.params:
            if getattr(param, "help", None):
                param.help = say(param.help, param.help)
        _help_option(cmd, say(_HELP_OPTION, _HELP_OPTION))
        localise_usage(cmd, t)
    for name, english in _TYPER_TEXTS.items():
        setattr(rich_utils, name, say(english, english))


def _help_option(command: Any, text: str) -> None:
    """Give ``command``'s ``--help`` option (made by Click when asked for) the help ``text``."""
    made = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None:
            option.help = text
        return option

    command.get_help_option = get_help_option


def lang_from_args(args: Sequence[str]) -> str | None:
    """The value of ``--lang`` among the root command's arguments (before the sub-command)."""
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-"):
            return None  # the sub-command: what follows is its own
    return None


class LocalisedGroup(TyperGroup):
    """The root command: translates the tree's help into the run's language, then runs."""

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        """Translate the help for this run's language, then run Click's ``main``."""
        given = list(sys.argv[1:] if args is None else args)
        locale = known_locale(lang_from_args(given) or "") or locale_from_environment()
        self._locale = locale or DEFAULT_LOCALE
        localise(self, translator(HELP_DOMAIN, self._locale))
        return super().main(given, *a, **kw)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        """Click's context; an error in the root's arguments in the run's language."""
        try:
            return super().make_context(*args, **kwargs)
        except ClickException as err:
            localise_click_error(err, getattr(self, "_locale", DEFAULT_LOCALE))
            raise

    def invoke(self, ctx: Any) -> Any:
        """Run the sub-command; an error in its arguments in the run's language."""
        try:
            return super().invoke(ctx)
        except ClickException as err:
            localise_click_error(err, getattr(self, "_locale", DEFAULT_LOCALE))
            raise


def main(argv: Sequence[str] | None = None) -> int:
    """Write the ``cli_help`` catalogues (or with ``--check`` report whether they are stale)."""
    from infrasight.cli.app import app
    from infrasight.locales.extract_errors import write_domain

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    texts = help_texts(typer.main.get_command(app))
    return write_domain(HELP_DOMAIN, texts, _HEADER, check=args.check)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raise SystemExit(main())
