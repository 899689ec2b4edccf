"""Message catalogues and locale formatting for the web pages (Babel domain ``messages``).

The catalogues are loaded by :mod:`infrasight.locales`. A message missing from a catalogue is
shown in English and recorded in :attr:`Translator.missing`, which the tests check.
"""

from __future__ import annotations

from collections.abc import Mapping

from infrasight.locales import DEFAULT_LOCALE, LOCALES, N_, Translator, messages
from infrasight.locales import translator as _translator

__all__ = ["DEFAULT_LOCALE", "LOCALES", "N_", "Translator", "catalogue", "translator"]

#: The name of each locale in its own language (for the switch).
LOCALE_NAMES: Mapping[str, str] = {"en": "English", "zh-Hant": "繁體中文", "zh-Hans": "简体中文"}
DOMAIN = "messages"


def catalogue(locale: str) -> Mapping[str, str]:
    """The pages' translations of ``locale`` (msgid -> msgstr; untranslated entries left out)."""
    return messages(DOMAIN, locale)


def translator(locale: str) -> Translator:
    """A translator for ``locale`` (an unknown locale falls back to English)."""
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    return _translator(DOMAIN, locale)
