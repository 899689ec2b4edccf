"""Error messages in a reader's language (Babel domain ``errors``).

InfraSight raises its errors (:mod:`infrasight.core.errors`) with an English message, usually an
f-string such as ``f"element {element_id} not found on asset {asset_id}"``. The ``errors``
catalogue holds these messages as *templates*: the msgid is the f-string's text with a named
placeholder for every interpolated value (``element {element_id} not found on asset
{asset_id}``), extracted from the source by :mod:`infrasight.locales.extract_errors`.

At the boundary (the HTTP error handlers, the CLI, the web pages) :func:`error_message` says an
error in a locale:

1. an error carrying a phrase (``InvalidInputError.phrase``) is rendered from the ``evidence``
   catalogue, as before;
2. otherwise its English message is matched against the catalogue's templates (each compiled
   once to an anchored pattern; the template with the most literal text wins), and the
   translated template is filled with the values taken from the message: the parameters are the
   message's own text (ids, names, numbers as the message wrote them), so nothing is parsed or
   re-formatted; a value that is itself a catalogued word or message (``channels``, a nested
   error) is translated too;
3. a message no template matches stays in English and is recorded in
   :attr:`~infrasight.locales.Translator.missing`.

The call sites are unchanged and the English text stays byte-identical; machine-readable fields
(``field``, status codes) are not touched. Placeholders keep their Python conversion and format
spec in the msgid (``{key!r}``, ``{share:.0%}``) so the extractor's output is stable; the value
is inserted as the message wrote it (quotes included).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from functools import cache

from infrasight.core.errors import InvalidInputError
from infrasight.locales import DEFAULT_LOCALE, LOCALES, Translator, translator
from infrasight.locales.phrases import evidence_translator, render_phrase

__all__ = ["ERRORS_DOMAIN", "error_message", "error_translator", "localise_message"]

ERRORS_DOMAIN = "errors"
#: A nested message is translated at most this deep (``not enough data: {err}``).
_DEPTH = 3
#: Placeholders holding a request's own key (a field, a path in a file): never translated.
_AS_WRITTEN = frozenset({"field", "where"})
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:![rsa])?(?::[^{}]*)?\}")


def error_translator(locale: str) -> Translator:
    """The ``errors`` domain's translator for ``locale`` (unknown: English)."""
    return translator(ERRORS_DOMAIN, locale if locale in LOCALES else DEFAULT_LOCALE)


def _pattern(template: str) -> re.Pattern[str] | None:
    """An anchored pattern matching the English messages ``template`` stands for (None when the
    template is only placeholders: it would match anything)."""
    out, seen, literal = [], set(), 0
    for text, name, _spec, _conversion in string.Formatter().parse(template):
        out.append(re.escape(text))
        literal += len(text.strip())
        if name is None:
            continue
        if name in seen:
            out.append(f"(?P={name})")
        else:
            seen.add(name)
            out.append(f"(?P<{name}>.+?)")
    if literal == 0:
        return None
    return re.compile("".join(out), re.DOTALL)


@cache
def _templates() -> Sequence[tuple[re.Pattern[str], str]]:
    """Every template of the English catalogue with its pattern, most literal text first."""
    found: list[tuple[int, re.Pattern[str], str]] = []
    for msgid in translator(ERRORS_DOMAIN, DEFAULT_LOCALE).messages:
        try:
            pattern = _pattern(msgid)
        except (ValueError, re.error):  # pragma: no cover - the extractor writes valid ones
            continue
        if pattern is not None:
            weight = len(_FIELD.sub("", msgid))
            found.append((weight, pattern, msgid))
    found.sort(key=lambda item: -item[0])
    return tuple((pattern, msgid) for _w, pattern, msgid in found)


def _fill(template: str, values: Mapping[str, str]) -> str:
    return (
        _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)
        .replace("{{", "{")
        .replace("}}", "}")
    )


def _value(text: str, t: Translator, depth: int) -> str:
    """A placeholder's value in ``t``'s locale: a catalogued word or message translated, else
    as written."""
    if not text or not any(c.isalpha() for c in text):
        return text
    word = t.messages.get(text) or evidence_translator(t.locale).optional(text)
    if word != text:
        return word
    return localise_message(text, t, depth + 1, record=False)


def localise_message(text: str, t: Translator, depth: int = 0, *, record: bool = True) -> str:
    """The English error message ``text`` in ``t``'s locale (see the module docstring).

    Parameters
    ----------
    text : str
        The message as raised (English).
    t : Translator
        The ``errors`` translator (:func:`error_translator`).
    record : bool
        Record an unmatched message in ``t.missing``.
    """
    if t.locale == DEFAULT_LOCALE or depth > _DEPTH:
        return text
    whole = t.messages.get(text)
    if whole is not None:
        return whole
    for pattern, msgid in _templates():
        found = pattern.fullmatch(text)
        if found is None:
            continue
        translated = t.messages.get(msgid)
        if translated is None:
            break
        values = {
            k: v if k in _AS_WRITTEN else _value(v, t, depth) for k, v in found.groupdict().items()
        }
        return _fill(translated, values)
    if ": " in text:  # "field: message": the field as written, the message translated
        head, _sep, rest = text.partition(": ")
        said = localise_message(rest, t, depth + 1, record=False)
        if said != rest:
            return f"{head}: {said}"
    if record:
        t.missing.add(text)
    return text


def error_message(error: BaseException, locale: str | None) -> str:
    """``error`` as a person reads it in ``locale`` (None or unknown: English, as raised).

    An :class:`~infrasight.core.errors.InvalidInputError` with a phrase is rendered from the
    phrase; any other message is translated from the ``errors`` catalogue's templates. The
    field an input error names stays as written (it is the request's own key).
    """
    if locale is None or locale not in LOCALES or locale == DEFAULT_LOCALE:
        return str(error)
    if isinstance(error, InvalidInputError):
        if error.phrase is not None:
            said = render_phrase(error.phrase, evidence_translator(locale))
        else:
            said = localise_message(error.detail, error_translator(locale))
        return f"{error.field}: {said}" if error.field else said
    return localise_message(str(error), error_translator(locale))
