"""The message catalogues (Babel ``.po`` files) and one translator for every domain.

The catalogues are ``infrasight/locales/<folder>/LC_MESSAGES/<domain>.po``; they are read at run
time (no compile step, so a fresh ``pip install -e .`` works) and cached per domain and locale.
The domains are:

``messages``
    The web pages.
``reports``
    The PDF reports.
``notify``
    Notification titles and bodies.
``cli``
    What the command line prints for a person (tables, results, progress lines).
``cli_help``
    The command line's ``--help`` texts (:mod:`infrasight.cli.help_texts`).
``errors``
    Error messages, as templates of the messages raised (:mod:`infrasight.locales.errors`).
``evidence``
    The sentences the analytics write as phrases (evidence details), see
    :mod:`infrasight.locales.phrases`.
``catalogue``
    Texts of the data catalogues (mechanism, action, standard and verification names and
    phrases), whose msgids are the English texts of the TOML files; rebuilt from them by
    ``python -m infrasight.locales.extract``.

English is the source language: an empty ``msgstr`` in the English catalogue is the msgid
itself. In other locales an empty ``msgstr`` is left out, so the text falls back to English and
the translator records it in :attr:`Translator.missing`, which the tests check.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from functools import cache
from importlib import resources
from types import MappingProxyType

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_scientific

__all__ = [
    "DATA_DOMAIN",
    "DEFAULT_LOCALE",
    "DOMAINS",
    "LOCALES",
    "N_",
    "Translator",
    "UnknownCatalogueError",
    "messages",
    "translator",
]

#: Locale id (as users and the API spell it) -> (catalogue folder, Babel locale for formatting).
LOCALES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "en": ("en", "en_GB"),
        "zh-Hant": ("zh_Hant", "zh_Hant_HK"),
        "zh-Hans": ("zh_Hans", "zh_Hans_CN"),
    }
)
DEFAULT_LOCALE = "en"
#: The domain holding the data catalogues' texts.
DATA_DOMAIN = "catalogue"
DOMAINS = ("messages", "reports", "notify", "evidence", "cli", "cli_help", "errors", DATA_DOMAIN)


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark ``message`` for extraction where it is translated later (e.g. in a table of names)."""
    return message


class UnknownCatalogueError(LookupError):
    """A domain or locale with no catalogue file."""


@cache
def messages(domain: str, locale: str) -> Mapping[str, str]:
    """The translations of ``domain`` in ``locale`` (msgid -> msgstr).

    Parameters
    ----------
    domain : str
        One of :data:`DOMAINS`.
    locale : str
        One of :data:`LOCALES` (``en``, ``zh-Hant``, ``zh-Hans``).

    Returns
    -------
    Mapping[str, str]
        Untranslated entries are left out, except in English where the msgid stands for itself.

    Raises
    ------
    UnknownCatalogueError
        When ``locale`` is not one of :data:`LOCALES` or the domain has no catalogue file.
    """
    if locale not in LOCALES:
        raise UnknownCatalogueError(
            f"locale {locale!r} has no catalogues (known: {', '.join(LOCALES)})"
        )
    folder, babel_locale = LOCALES[locale]
    path = resources.files(__name__) / folder / "LC_MESSAGES" / f"{domain}.po"
    if not path.is_file():
        raise UnknownCatalogueError(
            f"message domain {domain!r} has no catalogue for {locale!r} "
            f"(expected {folder}/LC_MESSAGES/{domain}.po; domains: {', '.join(DOMAINS)})"
        )
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=Locale.parse(babel_locale))
    source = locale == DEFAULT_LOCALE  # the source language: an empty msgstr is the msgid
    return MappingProxyType(
        {
            str(m.id): str(m.string) or (str(m.id) if source else "")
            for m in parsed
            if m.id and isinstance(m.string, str) and (m.string or source)
        }
    )


@dataclass(slots=True)
class Translator:
    """Translate one domain's messages and format numbers and dates for one locale.

    Attributes
    ----------
    locale : str
        One of :data:`LOCALES`.
    messages : Mapping[str, str]
        The domain's translations (see :func:`messages`).
    data : Mapping[str, str]
        The data catalogues' translations, used by :meth:`optional`.
    missing : set of str
        Messages asked for and not found (shown in English).
    """

    locale: str
    messages: Mapping[str, str]
    data: Mapping[str, str] = field(default_factory=dict)
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

    def optional(self, message: str) -> str:
        """A data text (a mechanism's name, a status...) translated when a catalogue has it."""
        return self.messages.get(message) or self.data.get(message, message)

    def _beyond_decimals(self, value: float) -> str | None:
        """NaN, infinities and magnitudes from 1e15 (which Decimal cannot quantize), or None."""
        if not math.isfinite(value):
            return "–" if math.isnan(value) else ("∞" if value > 0 else "-∞")
        if abs(value) >= 1e15:
            return str(format_scientific(value, format="0.###E0", locale=self.babel_locale))
        return None

    def number(self, value: float | None, digits: int = 2) -> str:
        """A decimal number with at most ``digits`` decimals ("–" when unknown, "∞" or "-∞")."""
        if value is None:
            return "–"
        if (odd := self._beyond_decimals(value)) is not None:
            return odd
        pattern = "#,##0." + "#" * digits if digits > 0 else "#,##0"
        return str(format_decimal(value, format=pattern, locale=self.babel_locale))

    def fixed(self, value: float | None, digits: int) -> str:
        """A decimal number with exactly ``digits`` decimals ("–" when unknown, "∞" or "-∞")."""
        if value is None:
            return "–"
        if (odd := self._beyond_decimals(value)) is not None:
            return odd
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


def translator(domain: str, locale: str) -> Translator:
    """A translator of ``domain`` for ``locale``, with the data catalogues' texts.

    Raises
    ------
    UnknownCatalogueError
        For an unknown locale or domain (callers that accept any locale fall back first).
    """
    return Translator(
        locale=locale, messages=messages(domain, locale), data=messages(DATA_DOMAIN, locale)
    )
