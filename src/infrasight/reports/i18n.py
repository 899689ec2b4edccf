"""The reports' message catalogue (Babel domain ``reports``) and their languages.

The catalogues are loaded by :mod:`infrasight.locales`; the reports keep their own domain so
report and page texts can change independently. A message missing from a catalogue is rendered
in English and recorded in :attr:`Translator.missing`; the tests fail on it.
"""

from __future__ import annotations

from collections.abc import Mapping

from infrasight.locales import LOCALES, N_, Translator, translator

__all__ = ["LANGUAGES", "N_", "Translator", "report_translator"]

#: Report language -> (catalogue folder, Babel locale, Typst lang, Typst region).
LANGUAGES: Mapping[str, tuple[str, str, str, str]] = {
    language: (*LOCALES[language], lang, region)
    for language, (lang, region) in {
        "en": ("en", "gb"),
        "zh-Hant": ("zh", "hk"),
        "zh-Hans": ("zh", "cn"),
    }.items()
}
DOMAIN = "reports"


def report_translator(language: str) -> Translator:
    """A translator for ``language``; ``KeyError`` for an unknown one (callers validate)."""
    if language not in LANGUAGES:
        raise KeyError(language)
    return translator(DOMAIN, language)
