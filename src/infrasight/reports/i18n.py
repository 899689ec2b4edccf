"""The reports' message catalogue (Babel domain ``reports``) and locale formatting.

The catalogues are ``infrasight/locales/<locale>/LC_MESSAGES/reports.po``, read at run time like
the web pages' ``messages.po`` (no compile step). Kept in their own domain so report and page
texts can change independently. A message missing from a catalogue is rendered in English and
recorded in :attr:`ReportTranslator.missing`; the tests fail on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from functools import cache
from importlib import resources

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = ["LANGUAGES", "N_", "ReportTranslator", "report_translator"]

#: Report language -> (catalogue folder, Babel locale, Typst lang, Typst region).
LANGUAGES: Mapping[str, tuple[str, str, str, str]] = {
    "en": ("en", "en_GB", "en", "gb"),
    "zh-Hant": ("zh_Hant", "zh_Hant_HK", "zh", "hk"),
    "zh-Hans": ("zh_Hans", "zh_Hans_CN", "zh", "cn"),
}
DOMAIN = "reports"


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark ``message`` for extraction where it is translated later."""
    return message


@cache
def _catalogue(language: str) -> Mapping[str, str]:
    folder, babel_locale, _lang, _region = LANGUAGES[language]
    path = resources.files("infrasight") / "locales" / folder / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=Locale.parse(babel_locale))
    source = language == "en"  # the source language: an empty msgstr is the msgid
    return {
        str(m.id): str(m.string) or (str(m.id) if source else "")
        for m in parsed
        if m.id and isinstance(m.string, str) and (m.string or source)
    }


@dataclass(slots=True)
class ReportTranslator:
    """Translate report texts and format numbers and dates for one report language."""

    language: str
    messages: Mapping[str, str]
    missing: set[str] = field(default_factory=set)

    @property
    def babel_locale(self) -> str:
        """Babel locale id used for numbers and dates (``zh_Hant_HK``...)."""
        return LANGUAGES[self.language][1]

    def __call__(self, message: str, **values: object) -> str:
        """``message`` translated, ``{name}`` placeholders filled from ``values``."""
        text = self.messages.get(message)
        if text is None:
            self.missing.add(message)
            text = message
        return text.format(**values) if values else text

    def optional(self, message: str) -> str:
        """A data text (a mechanism's name...) translated when the catalogue has it."""
        return self.messages.get(message, message)

    def number(self, value: float | None, digits: int = 2) -> str:
        """A decimal number with at most ``digits`` decimals ("–" when unknown)."""
        if value is None:
            return "–"
        pattern = "#,##0." + "#" * digits if digits > 0 else "#,##0"
        return str(format_decimal(value, format=pattern, locale=self.babel_locale))

    def fixed(self, value: float | None, digits: int) -> str:
        """A decimal number with exactly ``digits`` decimals ("–" when unknown)."""
        if value is None:
            return "–"
        pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
        return str(format_decimal(value, format=pattern, locale=self.babel_locale))

    def datetime(self, value: dt.datetime | None) -> str:
        """A UTC date and time in the locale's medium format ("–" when unknown)."""
        if value is None:
            return "–"
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return str(format_datetime(value, "medium", tzinfo=UTC, locale=self.babel_locale))

    def date(self, value: dt.date | dt.datetime | None) -> str:
        """A date in the locale's medium format ("–" when unknown)."""
        if value is None:
            return "–"
        return str(format_date(value, "medium", locale=self.babel_locale))

    def short_date(self, value: dt.date | dt.datetime) -> str:
        """A compact date for chart axes (``12 Mar`` / ``3月12日``)."""
        return str(format_skeleton("MMMd", value, locale=self.babel_locale))


def report_translator(language: str) -> ReportTranslator:
    """A translator for ``language``; ``KeyError`` for an unknown one (callers validate)."""
    return ReportTranslator(language=language, messages=_catalogue(language))
