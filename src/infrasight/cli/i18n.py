"""The language of what the CLI prints for a person (tables, one-line results, errors).

Chosen by ``infrasight --lang en|zh-Hant|zh-Hans``, else the environment: ``INFRASIGHT_LANG``
(a locale id), else the POSIX locale variables ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``
(``zh_HK.UTF-8`` and ``zh_TW`` read Traditional Chinese, ``zh_CN`` and ``zh_SG`` Simplified), else
English. Machine-readable output (``--json``, ``hazards show``) stays as it is. The messages are
the ``cli`` domain of the catalogues; the analytics' words and phrases come from ``evidence``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from infrasight.core.errors import InvalidInputError
from infrasight.locales import DEFAULT_LOCALE, LOCALES, N_, Translator, translator
from infrasight.locales.errors import error_message
from infrasight.locales.phrases import evidence_translator

__all__ = [
    "LANG_ENV",
    "cli_locale",
    "error_text",
    "known_locale",
    "locale_from_environment",
    "say",
    "set_locale",
    "t",
    "word",
    "words",
]

DOMAIN = "cli"
LANG_ENV = "INFRASIGHT_LANG"
#: POSIX language_territory (or script) -> locale id; a bare ``zh`` reads Simplified.
_POSIX: Mapping[str, str] = {
    "zh_hk": "zh-Hant",
    "zh_tw": "zh-Hant",
    "zh_mo": "zh-Hant",
    "zh_hant": "zh-Hant",
    "zh_cn": "zh-Hans",
    "zh_sg": "zh-Hans",
    "zh_hans": "zh-Hans",
    "zh": "zh-Hans",
    "en": "en",
}
_chosen: list[str] = []
#: The states of hazards, alarms and work orders, by their names in the ``cli`` catalogue.
STATES = (
    N_("open"),
    N_("acknowledged"),
    N_("mitigating"),
    N_("resolved"),
    N_("closed"),
    N_("merged"),
    N_("active"),
    N_("cleared"),
    N_("draft"),
    N_("assigned"),
    N_("in_progress"),
    N_("on_hold"),
    N_("completed"),
    N_("verifying"),
    N_("cancelled"),
    N_("reopened"),
)


def known_locale(value: str) -> str | None:
    """``value`` as a shipped locale id (``zh-hant`` -> ``zh-Hant``), or None."""
    lowered = value.strip().replace("_", "-").lower()
    return next((loc for loc in LOCALES if loc.lower() == lowered), None)


def locale_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The locale the environment asks for (see the module docstring); English by default."""
    env = os.environ if environ is None else environ
    if env.get(LANG_ENV) and (found := known_locale(env[LANG_ENV])):
        return found
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if not value:
            continue
        base = value.split(".")[0].split("@")[0].lower()
        return _POSIX.get(base) or _POSIX.get(base.split("_")[0]) or DEFAULT_LOCALE
    return DEFAULT_LOCALE


def set_locale(locale: str | None) -> None:
    """Use ``locale`` (``--lang``) for this run; None: the environment's.

    Raises
    ------
    InvalidInputError
        An unknown locale, naming the known ones.
    """
    _chosen.clear()
    if locale is None:
        return
    found = known_locale(locale)
    if found is None:
        raise InvalidInputError(
            f"unknown language {locale!r}; known: {', '.join(LOCALES)}", field="--lang"
        )
    _chosen.append(found)


def cli_locale() -> str:
    """The locale of this run: ``--lang``, else the environment's."""
    return _chosen[0] if _chosen else locale_from_environment()


def t() -> Translator:
    """The CLI messages' translator for this run's locale."""
    return translator(DOMAIN, cli_locale())


def say(message: str, **values: object) -> str:
    """``message`` (a msgid of the ``cli`` catalogue) in this run's locale, ``{name}``
    placeholders filled from ``values``."""
    return t()(message, **values)


def words() -> Translator:
    """The analytics' words and phrases (``evidence`` domain) in this run's locale."""
    return evidence_translator(cli_locale())


def error_text(error: BaseException) -> str:
    """An error as a person reads it, in this run's locale: its phrase where it has one, else
    its message's template in the ``errors`` catalogue (:mod:`infrasight.locales.errors`)."""
    return error_message(error, cli_locale())


def word(code: str) -> str:
    """A stored code (a status, a level, a mechanism, a category) by its name in this run's
    locale: the ``cli`` catalogue, else the analytics' words, else the code itself."""
    return t().messages.get(code) or words().optional(code)
