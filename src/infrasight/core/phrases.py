"""Sentences as data: a message key and its parameters, rendered in a person's language later.

The analytics write the sentences a person reads (an evidence item's detail, a verdict) as a
:class:`Phrase`: the key is the English text with ``{name}`` placeholders (Python format syntax,
so it is also the msgid of the ``evidence`` message domain), the parameters stay numbers with
their units. This module renders the English text without any translation library;
``infrasight.locales.phrases`` renders a phrase in another locale, numbers formatted per locale.

Placeholders:

``{name}`` / ``{name:+.4g}``
    A value; a format spec (``f``, ``g``, ``%`` with a precision, an optional ``+``) applies to
    numbers. A missing number (None) reads ``–``.
``{name!t}``
    A word or short text that is translated itself (``daily rain``, a defect kind), or a list
    of them separated by ``", "`` (each translated).
``{name!c}``
    A text of a data catalogue (a standard's clause, label or indicator name) translated as a
    whole (it may hold ", " and "; ").
``{name!d}``
    A UTC date and time as ISO 8601 text (formatted per locale when rendered).

A float shown by a placeholder without a precision of its own (``{width:g} mm``) is rounded to
the decimals its unit shows (``core/precision.toml``; :func:`unit_decimals`), in every locale.

A list of phrases (:func:`phrase_list`) reads its items one after the other, joined by one of
:data:`JOINS`: ``","`` (items of an enumeration), ``";"`` (clauses) or ``":"`` (a heading and
what it introduces), ``"|"`` (alternatives: ``crack or spalling``) or ``" "`` (a text and
what qualifies it, e.g. a score in brackets); each locale has its own punctuation for them.
"""

from __future__ import annotations

import functools
import math
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = [
    "CONVERSIONS",
    "JOINS",
    "N_",
    "Phrase",
    "PhraseParam",
    "fields",
    "phrase",
    "phrase_list",
    "plain_decimals",
    "unit_decimals",
]

#: A parameter's value: JSON-ready, so a phrase is stored as it is.
PhraseParam = str | int | float | None

#: Conversions a placeholder may carry (see the module docstring).
CONVERSIONS = frozenset({"t", "c", "d"})

#: How the items of a list phrase are joined in English, by join kind.
JOINS: Mapping[str, str] = {",": ", ", ";": "; ", ":": ": ", "|": " or ", " ": " "}


#: Format specs that leave a float's precision to its unit.
_PLAIN_SPECS = frozenset({"", "g"})


@functools.cache
def _precision() -> tuple[Mapping[str, int], Mapping[str, str]]:
    """``core/precision.toml``: decimals by unit, and the unit of each standard's measure."""
    text = resources.files("infrasight.core").joinpath("precision.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return dict(data["units"]), dict(data["measures"])


@functools.cache
def _unit_sources(key: str) -> Mapping[str, tuple[str, str]]:
    """Where the unit of each plain placeholder of ``key`` is read: ``("unit", "mm")`` written
    after it, ``("param", "unit")`` the parameter right after it, ``("measure", "measure")``."""
    units, _measures = _precision()
    items = list(string.Formatter().parse(key))
    names = {name for _lit, name, _spec, _conv in items if name}
    out: dict[str, tuple[str, str]] = {}
    for i, (_literal, name, spec, conversion) in enumerate(items):
        if not name or conversion or (spec or "") not in _PLAIN_SPECS:
            continue
        after, following = (items[i + 1][0], items[i + 1][1]) if i + 1 < len(items) else ("", None)
        word = after.strip().split(" ")[0].rstrip(",;:)]") if after.startswith(" ") else ""
        if word in units:
            out[name] = ("unit", word)
        elif after == " " and following == "unit":
            out[name] = ("param", "unit")
        elif name == "value" and "measure" in names:
            out[name] = ("measure", "measure")
    return out


def unit_decimals(key: str, name: str, values: Mapping[str, PhraseParam]) -> int | None:
    """The decimals the placeholder ``name`` of ``key`` shows for its unit (see
    ``core/precision.toml``), or None when it has a precision of its own or no known unit.

    Parameters
    ----------
    key : str
        The phrase's key.
    name : str
        A placeholder of ``key``.
    values : mapping
        The phrase's parameters (a ``unit`` or ``measure`` parameter may name the unit).
    """
    source = _unit_sources(key).get(name)
    if source is None:
        return None
    units, measures = _precision()
    kind, ref = source
    if kind == "unit":
        return units[ref]
    unit = str(values.get(ref) or "")
    if kind == "measure":
        unit = measures.get(unit, "")
    return units.get(unit)


def plain_decimals(value: float, decimals: int) -> str:
    """``value`` with at most ``decimals`` decimals, trailing zeros dropped (``0.25``, ``5``)."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class _English(string.Formatter):
    """Python's formatting, with ``!t`` / ``!c`` / ``!d`` as plain text, None as ``–`` and a
    float without a precision rounded to the decimals of its unit."""

    def __init__(self, key: str, values: Mapping[str, PhraseParam]) -> None:
        super().__init__()
        self.key, self.values = key, values
        self.name = ""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        self.name = field_name
        return super().get_field(field_name, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion in CONVERSIONS:
            return value
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        if value is None:
            return "–"
        if isinstance(value, str):
            return value
        if isinstance(value, float) and format_spec in _PLAIN_SPECS:
            decimals = unit_decimals(self.key, self.name, self.values)
            if decimals is not None:
                return plain_decimals(value, decimals)
        return super().format_field(value, format_spec)


def N_(text: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark a word for the ``evidence`` domain that a ``{name!t}`` placeholder translates."""
    return text


def fields(key: str) -> list[tuple[str, str, str | None]]:
    """The placeholders of ``key``: (name, format spec, conversion), in order.

    Raises
    ------
    ValueError
        A malformed template, a positional placeholder or an unknown conversion.
    """
    out = []
    for _literal, name, spec, conversion in string.Formatter().parse(key):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"phrase {key!r}: placeholder {name!r} is not a plain name")
        if conversion is not None and conversion not in CONVERSIONS:
            raise ValueError(f"phrase {key!r}: unknown conversion !{conversion}")
        out.append((name, spec or "", conversion))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Phrase:
    """A sentence a person reads, as a message key and its parameters, or a list of phrases.

    Attributes
    ----------
    key : str
        The English text with ``{name}`` placeholders (the msgid); empty for a list.
    params : tuple of (str, value)
        The placeholders' values, sorted by name (numbers stay numbers).
    parts : tuple of Phrase
        A list's items, read one after the other.
    join : str
        How a list's items are joined: a key of :data:`JOINS` (``", "``, ``"; "`` or ``": "``
        in English).
    """

    key: str
    params: tuple[tuple[str, PhraseParam], ...] = ()
    parts: tuple[Phrase, ...] = ()
    join: str = ","

    def __post_init__(self) -> None:
        if self.join not in JOINS:
            raise ValueError(f"unknown join {self.join!r}; joins: {', '.join(JOINS)}")
        if not self.key:
            if not self.parts or self.params:
                raise ValueError("a phrase without a key is a list of parts, without params")
            return
        if self.parts:
            raise ValueError(f"phrase {self.key!r}: a keyed phrase has no parts")
        names = {name for name, _spec, _conv in fields(self.key)}
        given = {name for name, _value in self.params}
        if names - given:
            raise ValueError(f"phrase {self.key!r}: no value for {sorted(names - given)}")
        for name, value in self.params:
            if value is not None and not isinstance(value, str | int | float):
                raise ValueError(f"phrase {self.key!r}: {name} is a {type(value).__name__}")

    @property
    def values(self) -> dict[str, PhraseParam]:
        """The parameters as a mapping."""
        return dict(self.params)

    def english(self) -> str:
        """The sentence in English (Python's number formatting; an empty word leaves no
        space at either end)."""
        if not self.key:
            return JOINS[self.join].join(p.english() for p in self.parts)
        values = self.values
        return _English(self.key, values).vformat(self.key, (), values).strip()

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form: ``{"key": ..., "params": {...}}`` or ``{"parts": [...]}`` (with
        ``"join"`` when it is not ``","``)."""
        if not self.key:
            parts: dict[str, object] = {"parts": [p.as_dict() for p in self.parts]}
            return parts if self.join == "," else {**parts, "join": self.join}
        return {"key": self.key, "params": self.values}

    @classmethod
    def from_dict(cls, data: object) -> Phrase | None:
        """The phrase stored by :meth:`as_dict`; None when ``data`` is absent or not a valid
        phrase (e.g. a row written before phrases were stored)."""
        if not isinstance(data, Mapping):
            return None
        parts = data.get("parts")
        if isinstance(parts, list):
            items = [cls.from_dict(p) for p in parts]
            join = data.get("join", ",")
            if not items or any(p is None for p in items) or join not in JOINS:
                return None
            return Phrase(key="", parts=tuple(p for p in items if p is not None), join=join)
        key, params = data.get("key"), data.get("params", {})
        if not isinstance(key, str) or not key or not isinstance(params, Mapping):
            return None
        try:
            return phrase(key, **{str(k): v for k, v in params.items()})
        except (ValueError, TypeError):
            return None


def phrase(key: str, /, **params: PhraseParam) -> Phrase:
    """A :class:`Phrase` of ``key`` (English text, marked for extraction) with ``params``.

    Raises
    ------
    ValueError
        When a placeholder has no value or a value is not a string, number or None.

    Notes
    -----
    A NaN or infinite number is kept as None (JSON has neither).
    """
    # stored as JSON, which has no NaN or infinity (PostgreSQL refuses them): unknown, "–"
    kept = {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in params.items()
    }
    return Phrase(key=key, params=tuple(sorted(kept.items())))


def phrase_list(*parts: Phrase, join: str = ",") -> Phrase:
    """A list of phrases read one after the other, joined by ``join`` (a key of
    :data:`JOINS`: ``", "``, ``"; "`` or ``": "`` in English); one phrase is itself.

    Raises
    ------
    ValueError
        No parts, or an unknown ``join``.
    """
    if not parts:
        raise ValueError("a list phrase needs at least one part")
    if join not in JOINS:
        raise ValueError(f"unknown join {join!r}; joins: {', '.join(JOINS)}")
    return parts[0] if len(parts) == 1 else Phrase(key="", parts=parts, join=join)
