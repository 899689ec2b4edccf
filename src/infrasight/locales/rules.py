"""An alarm rule in one line, in a person's language (the API, the rules page and the CLI)."""

from __future__ import annotations

from typing import Any

from infrasight.core.phrases import phrase, phrase_list
from infrasight.locales.phrases import evidence_translator, render_phrase

__all__ = ["rule_summary"]


def rule_summary(definition: dict[str, Any], locale: str) -> str:
    """A rule's channels and levels with their limits in one line, in ``locale``
    (``VD-SETTLE: amber value > 3; red value > 5``)."""
    t = evidence_translator(locale)
    levels = []
    for level in definition.get("levels", []):
        limits = [
            phrase(key, quantity=str(limit.get("quantity", "value")), limit=float(limit[side]))
            for limit in level.get("limits", [])
            for side, key in (
                ("upper", "{quantity!t} > {limit:g}"),
                ("lower", "{quantity!t} < {limit:g}"),
            )
            if isinstance(limit.get(side), int | float)
        ]
        name = t.optional(str(level.get("name", "")))
        said = render_phrase(phrase_list(*limits), t) if limits else ""
        levels.append(t("{level} {limits}", level=name, limits=said).strip())
    channels = [phrase("{channel}", channel=str(c)) for c in definition.get("channels", [])]
    clauses = [phrase("{level}", level=x) for x in levels]
    return t(
        "{channels}: {levels}",
        channels=render_phrase(phrase_list(*channels), t) if channels else "",
        levels=render_phrase(phrase_list(*clauses, join=";"), t) if clauses else "",
    )
