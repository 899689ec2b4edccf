"""Message catalogues and locale formatting for the web pages (Babel).

The catalogues are the ``.po`` files under ``infrasight/locales/<locale>/LC_MESSAGES/``; they are
read at run time (no compile step, so a fresh ``pip install -e .`` works). A message missing from
a catalogue is shown in English and recorded in :attr:`Translator.missing`, which the tests check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from babel import Locale
from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = ["DEFAULT_LOCALE", "LOCALES", "N_", "Translator", "catalogue", "translator"]

#: Web locale id -> (catalogue folder, Babel locale used for dates and numbers).
LOCALES: Mapping[str, tuple[str, str]] = {
    "en": ("en", "en_GB"),
    "zh-Hant": ("zh_Hant", "zh_Hant_HK"),
    "zh-Hans": ("zh_Hans", "zh_Hans_CN"),
}
#: The name of each locale in its own language (for the switch).
LOCALE_NAMES: Mapping[str, str] = {"en": "English", "zh-Hant": "繁體中文", "zh-Hans": "简体中文"}
DEFAULT_LOCALE = "en"
DOMAIN = "messages"


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark ``message`` for extraction where it is translated later (e.g. in a table of names)."""
    return message


@cache
def catalogue(locale: str) -> Mapping[str, str]:
    """The translations of ``locale`` (msgid -> msgstr; untranslated entries left out)."""
    folder, babel_locale = LOCALES[locale]
    path = resources.files("infrasight") / "locales" / folder / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=Locale.parse(babel_locale))
    source = locale == DEFAULT_LOCALE  # the source language: an empty msgstr is the msgid
    return {
        str(message.id): str(message.string) or (str(message.id) if source else "")
        for message in parsed
        if message.id and isinstance(message.string, str) and (message.string or source)
    }


@dataclass(slots=True)
class Translator:
    """Translate messages and format dates and numbers for one locale."""

    locale: str
    messages: Mapping[str, str]
    missing: set[str] = field(default_factory=set)

    @property
    def babel_locale(self) -> str:
        """The Babel locale id for formatting (e.g. ``zh_Hant_HK``)."""
        return LOCALES[self.locale][1]

    def __call__(self, message: str, **values: object) -> str:
        """``message`` translated, with ``{name}`` placeholders filled from ``values``."""
        text = self.messages.get(message)
        if text is None:
            self.missing.add(message)
            text = message
        return text.format(**values) if values else text

    def datetime(self, value: datetime | None) -> str:
        """A date and time in UTC, in the locale's medium format ("–" when unknown)."""
        if value is None:
            return "–"
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return format_datetime(value, "medium", tzinfo=UTC, locale=self.babel_locale)

    def number(self, value: float | None, digits: int = 2) -> str:
        """A decimal number with at most ``digits`` decimals ("–" when unknown)."""
        if value is None:
            return "–"
        pattern = "#,##0." + "#" * digits if digits > 0 else "#,##0"
        return format_decimal(value, format=pattern, locale=self.babel_locale)


def translator(locale: str) -> Translator:
    """A translator for ``locale`` (an unknown locale falls back to English)."""
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    return Translator(locale=locale, messages=catalogue(locale))
