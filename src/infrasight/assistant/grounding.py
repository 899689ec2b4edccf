"""The answer check: every number in an answer must come from a tool result (or the question).

Pure: works on the answer text and the tool results as JSON values. A number in the answer is
*grounded* when some number in a tool result rounds to it at the precision the answer wrote
(``4.2`` is grounded by ``4.2317``; ``85 %`` by ``0.85``), in the arguments the tool was called
with ("the last 30 days"), or in the question; a date
``2026-11-30`` is grounded by a tool result's time on that day. Each grounded number gets a
citation (tool, arguments, where in the result, the value); the others are *unsupported*.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Citation",
    "Grounding",
    "NumberMention",
    "ToolEvidence",
    "check_grounding",
    "consulted_passages",
    "extract_numbers",
    "mark_unsupported",
    "passage_of",
]

# a date first (kept whole), then a number not glued to a letter, digit or dot on its left
# (``P2`` in a channel key is a name, not a number); CJK characters are not letters here.
_DATE = r"(?P<date>\d{4}-\d{2}-\d{2})"
_NUM = r"(?P<num>[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?P<pct>\s?%)?"
_TOKEN = re.compile(rf"(?<![A-Za-z0-9_.\-]){_DATE}|(?<![A-Za-z0-9_.]){_NUM}")
_LIST_MARKER = re.compile(r"^[ \t]*(?P<n>\d+)[.)]\s", re.MULTILINE)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberMention:
    """A number (or date) written in the answer, with its place (character offsets)."""

    text: str
    start: int
    end: int
    value: float | None
    decimals: int
    percent: bool
    date: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolEvidence:
    """One tool call's result, as the check sees it."""

    tool: str
    arguments: dict[str, Any]
    result: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """Where a number of the answer comes from: a tool call and the value in its result."""

    text: str
    tool: str
    arguments: dict[str, Any]
    path: str
    value: Any
    #: The document passage the value is in (``source``, ``document``, ``page``, ``link``), when
    #: the tool result is a passage of a document search.
    passage: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = {
            "text": self.text,
            "tool": self.tool,
            "arguments": self.arguments,
            "path": self.path,
            "value": self.value,
        }
        if self.passage is not None:
            out["passage"] = self.passage
        return out


PASSAGE_KEYS = ("source", "document", "page", "link")
_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def consulted_passages(evidence: Sequence[ToolEvidence]) -> list[dict[str, Any]]:
    """The document passages the tools returned (location only), each once, in call order."""
    out: list[dict[str, Any]] = []
    for item in evidence:
        records = item.result if isinstance(item.result, list) else []
        for record in records:
            if isinstance(record, dict) and "source" in record and "passage" in record:
                where = {k: record[k] for k in PASSAGE_KEYS if k in record}
                if where not in out:
                    out.append(where)
    return out


def passage_of(result: Any, path: str) -> dict[str, Any] | None:
    """Where the leaf at ``path`` of ``result`` comes from: the innermost record on the path that
    names a ``source`` and a ``passage`` (a document search hit), reduced to its location."""
    found: dict[str, Any] | None = None
    node = result
    for match in _STEP.finditer(path):
        if isinstance(node, dict) and "source" in node and "passage" in node:
            found = {k: node[k] for k in PASSAGE_KEYS if k in node}
        index, key = match.groups()
        if index is not None and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        elif key is not None and isinstance(node, dict) and key in node:
            node = node[key]
        else:
            break
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Grounding:
    """The check's verdict on an answer."""

    mentions: tuple[NumberMention, ...]
    citations: tuple[Citation, ...]
    unsupported: tuple[NumberMention, ...] = field(default=())

    @property
    def grounded_share(self) -> float:
        """Share of the answer's numbers that are grounded (1.0 when it has none)."""
        if not self.mentions:
            return 1.0
        return 1.0 - len(self.unsupported) / len(self.mentions)


def extract_numbers(text: str) -> list[NumberMention]:
    """The numbers and ISO dates written in ``text`` (list markers such as ``1.`` excluded)."""
    markers = {m.start("n") for m in _LIST_MARKER.finditer(text)}
    out: list[NumberMention] = []
    for m in _TOKEN.finditer(text):
        if m.group("date"):
            out.append(
                NumberMention(
                    text=m.group("date"),
                    start=m.start(),
                    end=m.end(),
                    value=None,
                    decimals=0,
                    percent=False,
                    date=m.group("date"),
                )
            )
            continue
        raw = m.group("num")
        if m.start("num") in markers:
            continue
        plain = raw.replace(",", "").replace("−", "-")
        decimals = len(plain.partition(".")[2])
        out.append(
            NumberMention(
                text=m.group(0).strip(),
                start=m.start(),
                end=m.end(),
                value=float(plain),
                decimals=decimals,
                percent=bool(m.group("pct")),
                date=None,
            )
        )
    return out


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


@dataclass(frozen=True, slots=True)
class _Known:
    value: float | None
    day: str | None
    evidence: ToolEvidence | None
    path: str
    original: Any


def _known_values(evidence: Sequence[ToolEvidence], question: str) -> list[_Known]:
    known: list[_Known] = []
    for item in evidence:
        leaves = [*_leaves(item.result), *_leaves(item.arguments, "arguments")]
        for path, leaf in leaves:
            if isinstance(leaf, bool) or leaf is None:
                continue
            if isinstance(leaf, int | float):
                if math.isfinite(float(leaf)):
                    known.append(_Known(float(leaf), None, item, path, leaf))
            elif isinstance(leaf, str):
                for day in _ISO_DAY.findall(leaf):
                    known.append(_Known(None, day, item, path, leaf))
                for mention in extract_numbers(leaf):
                    if mention.value is not None:
                        known.append(_Known(mention.value, None, item, path, leaf))
    for mention in extract_numbers(question):
        known.append(_Known(mention.value, mention.date, None, "question", mention.text))
    return known


def _matches(mention: NumberMention, known: _Known) -> bool:
    if mention.date is not None:
        return known.day == mention.date
    if known.value is None or mention.value is None:
        return False
    target = abs(mention.value)
    half_step = 0.5 * 10.0 ** (-mention.decimals) + 1e-9
    candidates = [abs(known.value)]
    if mention.percent:
        candidates.append(abs(known.value) * 100.0)
    return any(abs(c - target) <= half_step for c in candidates)


def _distance(mention: NumberMention, known: _Known) -> float:
    if mention.value is None or known.value is None:
        return 0.0
    scale = 100.0 if mention.percent and abs(known.value) <= 1.0 else 1.0
    return abs(abs(known.value) * scale - abs(mention.value))


def check_grounding(
    answer: str, evidence: Sequence[ToolEvidence], *, question: str = ""
) -> Grounding:
    """Cite every number of ``answer`` from ``evidence`` (or ``question``); list the rest.

    Parameters
    ----------
    answer
        The model's answer text.
    evidence
        The results of the tool calls made for it, in call order.
    question
        The user's question: its own numbers ("pier 2") need no tool.
    """
    mentions = extract_numbers(answer)
    known = _known_values(evidence, question)
    citations: list[Citation] = []
    unsupported: list[NumberMention] = []
    for mention in mentions:
        hits = [k for k in known if _matches(mention, k)]
        hit = min(hits, key=lambda k: _distance(mention, k)) if hits else None
        if hit is None:
            unsupported.append(mention)
        elif hit.evidence is None:
            citations.append(
                Citation(
                    text=mention.text, tool="question", arguments={}, path="", value=hit.original
                )
            )
        else:
            citations.append(
                Citation(
                    text=mention.text,
                    tool=hit.evidence.tool,
                    arguments=hit.evidence.arguments,
                    path=hit.path,
                    value=hit.original,
                    passage=passage_of(hit.evidence.result, hit.path),
                )
            )
    return Grounding(
        mentions=tuple(mentions), citations=tuple(citations), unsupported=tuple(unsupported)
    )


def mark_unsupported(answer: str, unsupported: Sequence[NumberMention], marker: str) -> str:
    """``answer`` with ``marker`` written after every unsupported number."""
    out = answer
    for mention in sorted(unsupported, key=lambda m: m.end, reverse=True):
        out = out[: mention.end] + marker + out[mention.end :]
    return out
