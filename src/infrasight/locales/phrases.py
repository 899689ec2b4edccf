"""Render a :class:`~infrasight.core.phrases.Phrase` in a locale (Babel domain ``evidence``).

The phrase's key is looked up in the ``evidence`` catalogue (its msgid is the English text);
numbers are formatted by Babel per locale following the placeholder's spec (``+.4g`` keeps at
most 4 significant digits with a sign, ``.2f`` exactly 2 decimals, ``.1%`` a percentage),
``{name!t}`` words (or a ", "-separated list of words) are translated from the same catalogue
(or the data catalogues), ``{name!c}`` texts of the data catalogues translated whole, and
``{name!d}`` ISO times are formatted as dates
(and in Chinese any parameter that is an ISO time); a float without a precision of its own shows the
decimals of its unit (``core/precision.toml``), taken from the key (the msgid), so every locale
rounds it alike. A key missing from the catalogue is rendered in
English and recorded in :attr:`Translator.missing`.

Extract the phrases after changing one::

    pybabel extract -k phrase -k N_ --no-location --omit-header \\
        -o src/infrasight/locales/evidence.pot src/infrasight/reasoning src/infrasight/services \\
        src/infrasight/signals src/infrasight/measure
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from babel.numbers import format_decimal, format_percent

from infrasight.core.phrases import JOINS, Phrase, unit_decimals
from infrasight.locales import DEFAULT_LOCALE, LOCALES, Translator, translator

__all__ = [
    "EVIDENCE_DOMAIN",
    "evidence_translator",
    "format_number",
    "localised_detail",
    "localised_test",
    "localised_text",
    "render_phrase",
]

EVIDENCE_DOMAIN = "evidence"
#: An ISO 8601 UTC time written into a sentence as text (``2026-03-01T06:30Z``).
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")
_SPEC = re.compile(r"^(?P<sign>\+)?(?:\.(?P<digits>\d+))?(?P<type>[fgd%])?$")
#: How the items of a list phrase are joined, per join kind (``core.phrases.JOINS``) and locale.
_SEPARATORS: Mapping[str, Mapping[str, str]] = {
    ",": {"en": ", ", "zh-Hant": "，", "zh-Hans": "，"},
    ";": {"en": "; ", "zh-Hant": "；", "zh-Hans": "；"},
    ":": {"en": ": ", "zh-Hant": "：", "zh-Hans": "："},
    "|": {"en": " or ", "zh-Hant": "或", "zh-Hans": "或"},
    " ": {"en": " ", "zh-Hant": "", "zh-Hans": ""},
}
#: How the words of a ``{name!t}`` list are joined, per locale.
_SEPARATORS_WORDS: Mapping[str, str] = {"en": ", ", "zh-Hant": "、", "zh-Hans": "、"}


def _signed(pattern: str, sign: bool) -> str:
    return f"+{pattern};-{pattern}" if sign else pattern


def format_number(value: float, spec: str, locale: str) -> str:
    """``value`` formatted per the Babel ``locale`` following a Python format ``spec``.

    Parameters
    ----------
    value : float
    spec : str
        ``[+][.N](f|g|d|%)`` or empty; any other spec falls back to Python's formatting.
    locale : str
        A Babel locale id (``zh_Hant_HK``).
    """
    found = _SPEC.match(spec)
    if found is None:
        return format(value, spec)
    if not math.isfinite(value):  # an open limit: Babel's decimals have no infinity
        return "–" if math.isnan(value) else ("-∞" if value < 0 else "∞")
    sign, kind = bool(found["sign"]), found["type"] or ""
    digits = int(found["digits"]) if found["digits"] is not None else None
    if kind == "%":
        decimals = "." + "0" * digits if digits else ""
        return str(format_percent(value, _signed(f"#,##0{decimals}%", sign), locale=locale))
    if kind == "f" or (kind == "" and digits is not None and isinstance(value, float)):
        decimals = "." + "0" * digits if digits else ""
        return str(format_decimal(value, _signed(f"#,##0{decimals}", sign), locale=locale))
    if kind == "d" or (kind == "" and isinstance(value, int)):
        return str(format_decimal(value, _signed("#,##0", sign), locale=locale))
    significant = max(digits if digits is not None else 6, 1)  # g, or a float without spec
    return str(format_decimal(value, _signed("@" + "#" * (significant - 1), sign), locale=locale))


class _Localised(string.Formatter):
    def __init__(self, t: Translator, said: Phrase) -> None:
        super().__init__()
        self.t = t
        self.said, self.values = said, said.values
        self.name = ""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        self.name = field_name
        return super().get_field(field_name, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion == "t":  # a word, or a list of words ("crack, map"), each translated
            words = [self.t.optional(w) for w in str(value or "").split(", ") if w]
            return _SEPARATORS_WORDS.get(self.t.locale, ", ").join(words)
        if conversion == "c":  # a data catalogue's text, translated whole
            return self.t.optional(str(value or ""))
        if conversion == "d":
            try:
                return self.t.datetime(datetime.fromisoformat(str(value)))
            except ValueError:
                return str(value)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        if value is None:
            return "–"
        if (
            isinstance(value, str)
            and self.t.locale != DEFAULT_LOCALE
            and _ISO_TIME.fullmatch(value)
        ):
            # a time a phrase holds as text: the reader's date and time (English keeps ISO)
            try:
                return self.t.datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        if isinstance(value, float) and format_spec in ("", "g") and math.isfinite(value):
            decimals = unit_decimals(self.said.key, self.name, self.values)
            if decimals is not None:  # the precision of its unit (core/precision.toml)
                pattern = "#,##0." + "#" * decimals if decimals else "#,##0"
                return str(format_decimal(value, pattern, locale=self.t.babel_locale))
        return format_number(value, format_spec, self.t.babel_locale)


def evidence_translator(locale: str) -> Translator:
    """The ``evidence`` domain's translator for ``locale`` (unknown: English)."""
    return translator(EVIDENCE_DOMAIN, locale if locale in LOCALES else DEFAULT_LOCALE)


def render_phrase(said: Phrase, t: Translator) -> str:
    """``said`` in ``t``'s locale (``t``: see :func:`evidence_translator`)."""
    if not said.key:
        separator = _SEPARATORS[said.join].get(t.locale, JOINS[said.join])
        return separator.join(render_phrase(p, t) for p in said.parts)
    template = t.messages.get(said.key)
    if template is None:
        t.missing.add(said.key)
        template = said.key
    return _Localised(t, said).vformat(template, (), said.values).strip()


def localised_detail(message: object, detail: str, t: Translator) -> str:
    """A stored evidence detail in ``t``'s locale: the stored phrase (``message``, see
    :meth:`Phrase.as_dict`) rendered, or ``detail`` as stored (English) when the row has no
    phrase (written before phrases were stored) or an unreadable one."""
    said = Phrase.from_dict(message)
    return detail if said is None else render_phrase(said, t)


def localised_text(message: object, text: str, t: Translator) -> str:
    """A stored label or clause in ``t``'s locale: the stored phrase (``message``) rendered, else
    ``text`` as a data catalogue's text (a standard's own label or clause), translated when the
    catalogue has it."""
    said = Phrase.from_dict(message)
    return t.optional(text) if said is None else render_phrase(said, t)


def localised_test(message: object, test: str, t: Translator) -> str:
    """An evidence item's test label in ``t``'s locale: the stored phrase (``test_message``)
    rendered, else ``test`` as a fixed label of the ``evidence`` catalogue (``"spikes"``),
    translated when the catalogue has it (rows written before labels were phrases keep their
    English label when it was composed)."""
    said = Phrase.from_dict(message)
    return t.optional(test) if said is None else render_phrase(said, t)
