"""Key figures of tool results, written under a small model's answer (``key_facts.toml``).

Pure: a tool name and its JSON result in, one line of text out (or none). The figures are the
engines' own values, so the answer check cites them like any other number; they let an answer
carry the facts when the model's prose does not (a 135M model's seldom does).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from infrasight.assistant.grounding import MISSING, path_child, path_steps

__all__ = ["key_facts", "key_facts_line"]

_FIELD = re.compile(r"\{([^{}:]+)(?::([^{}]+))?\}")


@cache
def _templates(language: str) -> dict[str, str]:
    data = tomllib.loads((Path(__file__).parent / "key_facts.toml").read_text("utf-8"))
    return dict(data.get(language, data["en"]))


def _read(result: Any, path: str) -> Any:
    if path == "len":
        return len(result) if isinstance(result, list) else None
    if path == "names":
        if not isinstance(result, list):
            return None
        names = [str(r["name"]) for r in result if isinstance(r, dict) and r.get("name")]
        return ", ".join(names) or None
    node = result
    for index, key in path_steps(path):
        node = path_child(node, index, key)
        if node is MISSING:
            return None
    return node


def key_facts_line(tool: str, result: Any, language: str = "en") -> str | None:
    """The key figures of one tool result in ``language`` (en, zh-Hans, zh-Hant), or None (no
    template, or a value is missing)."""
    template = _templates(language).get(tool)
    if template is None:
        return None
    missing = False

    def fill(m: re.Match[str]) -> str:
        nonlocal missing
        value = _read(result, m.group(1))
        if value is None or isinstance(value, dict | list):
            missing = True
            return ""
        spec = m.group(2)
        if spec and isinstance(value, int | float) and not isinstance(value, bool):
            return format(value, spec)
        return " ".join(str(value).split())

    line = _FIELD.sub(fill, template)
    return None if missing else line


def key_facts(results: Sequence[tuple[str, Any]], language: str = "en") -> list[str]:
    """The key-figure lines of ``(tool, result)`` pairs in ``language``, each line once, in call
    order."""
    out: list[str] = []
    for tool, result in results:
        line = key_facts_line(tool, result, language)
        if line and line not in out:
            out.append(line)
    return out
